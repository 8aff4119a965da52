package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-io/berth/store/servertest"
)

func TestNodesCredentialsCommandWritesAWorkingKubeconfig(t *testing.T) {
	s := servertest.Start(t)
	out := filepath.Join(t.TempDir(), "worker-1")
	root := newRootCommand()
	var stdout bytes.Buffer
	root.SetOut(&stdout)
	root.SetArgs([]string{"nodes", "credentials", "worker-1", "--data-dir", s.DataDir(), "--node-ip", "192.0.2.21", "-o", out})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), filepath.Join(out, "serving.crt")) {
		t.Errorf("output %q does not list the files written", stdout.String())
	}
	config, err := clientcmd.BuildConfigFromFlags("", filepath.Join(out, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-1"}}
	if _, err := kubernetes.NewForConfigOrDie(config).CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{}); err != nil {
		t.Fatalf("registering worker-1 with the written kubeconfig: %v", err)
	}
}

func TestNodesCredentialsCommandRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nodes", "credentials", "n1", "--data-dir", "/nonexistent", "-o", "x"}, "has no cluster CA"},
		{[]string{"nodes", "credentials", "n1", "--node-ip", "not-an-ip", "-o", "x"}, "not an IP address"},
		{[]string{"nodes", "credentials", "n1"}, "--output"},
	} {
		root := newRootCommand()
		root.SetArgs(tc.args)
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("berth %s: %v, want an error with %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}
