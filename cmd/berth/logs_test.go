package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-io/berth/agents/kubelet/logs"
	"github.com/berth-io/berth/store/server"
)

// TestKubectlLogs runs `berth kubectl logs` against the test server and a
// logs endpoint serving with the credentials `berth nodes credentials`
// writes for a node: tail, timestamps, previous, and follow until the
// container stops.
func TestKubectlLogs(t *testing.T) {
	ctx := context.Background()
	creds := filepath.Join(t.TempDir(), "node")
	root := newRootCommand()
	root.SetOut(io.Discard)
	root.SetArgs([]string{"nodes", "credentials", "logs-node", "--data-dir", filepath.Dir(kubeconfig), "--node-ip", "127.0.0.1", "-o", creds})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	serving, err := tls.LoadX509KeyPair(filepath.Join(creds, server.NodeServingCertFile), filepath.Join(creds, server.NodeServingKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(creds, server.NodeCAFile))
	if err != nil {
		t.Fatal(err)
	}
	ca := x509.NewCertPool()
	if !ca.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate in ca.crt")
	}

	var mu sync.Mutex
	running := true
	var uid string
	logRoot := t.TempDir()
	srv, err := logs.NewServer(logs.Config{Root: logRoot, ClientCA: ca, Lookup: func(ns, pod, container string) (logs.Container, error) {
		mu.Lock()
		defer mu.Unlock()
		if ns != "kubectl-logs" || pod != "web" || container != "app" {
			return logs.Container{}, logs.ErrNotFound
		}
		return logs.Container{PodUID: types.UID(uid), RestartCount: 1, Running: running}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	agentCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(agentCtx, l, logs.TLSConfig(serving, ca), nil) }()
	t.Cleanup(func() { stop(); <-served })

	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	admin := kubernetes.NewForConfigOrDie(config)
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubectl-logs"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ServiceAccounts("kubectl-logs").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "logs-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(l.Addr().(*net.TCPAddr).Port)
	if _, err := admin.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod, err := admin.CoreV1().Pods("kubectl-logs").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.PodSpec{NodeName: "logs-node", Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	uid = string(pod.UID)
	mu.Unlock()
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	write := func(restart int, lines ...string) {
		t.Helper()
		path := filepath.Join(logs.PodDir(logRoot, "kubectl-logs", "web", pod.UID), logs.ContainerFile("app", restart))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var b []byte
		for _, line := range lines {
			b = logs.AppendRecord(b, logs.Record{Time: at, Stream: logs.Stdout, Content: []byte(line)})
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	write(0, "crashed")
	write(1, "a", "b", "c")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "-n", "kubectl-logs", "web"}, "a\nb\nc\n"},
		{[]string{"logs", "-n", "kubectl-logs", "pod/web", "-c", "app", "--tail=1"}, "c\n"},
		{[]string{"logs", "-n", "kubectl-logs", "web", "--tail=1", "--timestamps"}, "2026-11-26T08:00:00.000000000Z c\n"},
		{[]string{"logs", "-n", "kubectl-logs", "web", "--previous"}, "crashed\n"},
	} {
		if got := mustKubectl(t, "", tc.args...); got != tc.want {
			t.Errorf("kubectl %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}

	cmdCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cmdCtx, berthBinary, "kubectl", "logs", "-n", "kubectl-logs", "web", "-f", "--tail=1")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+kubectlHome)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	expect := func(want string) {
		t.Helper()
		if line, err := out.ReadString('\n'); err != nil || line != want+"\n" {
			t.Fatalf("kubectl logs -f printed %q (%v), want %q", line, err, want)
		}
	}
	expect("c")
	write(1, "d")
	expect("d")
	write(1, "e")
	mu.Lock()
	running = false
	mu.Unlock()
	expect("e")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kubectl logs -f after the container stopped: %v", err)
	}
}
