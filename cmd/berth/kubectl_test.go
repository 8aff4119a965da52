package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-io/berth/store/server"
)

// The kubectl tests run the real berth binary, built once, against one API
// server started in-process on free ports.
var (
	berthBinary  string // the built binary
	kubeconfig   string // the server's admin kubeconfig
	kubectlHome  string // HOME for kubectl's discovery cache
	etcdEndpoint string // the server's embedded etcd
)

func TestMain(m *testing.M) {
	os.Exit(runWithServer(m))
}

func runWithServer(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-kubectl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	berthBinary = filepath.Join(dir, "berth")
	build := exec.Command("go", "build", "-o", berthBinary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building berth:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := server.Start(ctx, server.Options{
		DataDir:         filepath.Join(dir, "data"),
		Etcd:            server.EtcdOptions{ClientPort: 0, PeerPort: 0},
		SecurePort:      0,
		CompactInterval: time.Hour,
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the API server:", err)
		return 1
	}
	defer s.Stop()
	kubeconfig = s.Kubeconfig()
	etcdEndpoint = s.Etcd.Endpoints()[0]
	kubectlHome = filepath.Join(dir, "home")
	return m.Run()
}

// result is how a berth invocation ended.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runKubectl runs `berth kubectl ARGS` with stdin as its input.
func runKubectl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runBerth(t, stdin, append([]string{"kubectl"}, args...)...)
}

// runBerth runs `berth ARGS` with stdin as its input, kubectl pointed at
// the test server.
func runBerth(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBinary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+kubectlHome)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running berth %v: %v", args, err)
	}
	return res
}

// mustKubectl runs kubectl and fails unless it exits 0.
func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	res := runKubectl(t, stdin, args...)
	if res.code != 0 {
		t.Fatalf("berth kubectl %s: %s", strings.Join(args, " "), res)
	}
	return res.stdout
}

// wantLines fails unless out holds every line of want, in any order.
func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	got := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		got[strings.TrimSpace(line)] = true
	}
	for _, w := range want {
		if !got[w] {
			t.Errorf("%s: no line %q in\n%s", what, w, out)
		}
	}
}

const webManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: kubectl
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: kubectl
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 80
`

func TestKubectlApplyGetScaleDelete(t *testing.T) {
	mustKubectl(t, "", "create", "namespace", "kubectl")
	out := mustKubectl(t, webManifest, "apply", "-f", "-")
	wantLines(t, "first apply", out, "deployment.apps/web created", "service/web created")
	out = mustKubectl(t, webManifest, "apply", "-f", "-")
	wantLines(t, "second apply", out, "deployment.apps/web unchanged", "service/web unchanged")

	out = mustKubectl(t, "", "get", "deployments", "-n", "kubectl")
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	if strings.Join(header, " ") != "NAME READY UP-TO-DATE AVAILABLE AGE" {
		t.Errorf("get deployments header %q", header)
	}
	if !strings.Contains(out, "\nweb ") {
		t.Errorf("get deployments lists no web:\n%s", out)
	}

	deploy := getDeployment(t, "web")
	if s := deploy.Spec.Strategy; s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil ||
		s.RollingUpdate.MaxSurge.String() != "25%" || s.RollingUpdate.MaxUnavailable.String() != "25%" {
		t.Errorf("spec.strategy not defaulted: %+v", deploy.Spec.Strategy)
	}
	if deploy.Spec.RevisionHistoryLimit == nil || *deploy.Spec.RevisionHistoryLimit != 10 || deploy.Spec.ProgressDeadlineSeconds == nil || *deploy.Spec.ProgressDeadlineSeconds != 600 {
		t.Errorf("revisionHistoryLimit %v progressDeadlineSeconds %v not defaulted", deploy.Spec.RevisionHistoryLimit, deploy.Spec.ProgressDeadlineSeconds)
	}
	if deploy.Annotations["kubectl.kubernetes.io/last-applied-configuration"] == "" {
		t.Errorf("client-side apply left no last-applied-configuration")
	}

	// Server-side apply takes over from client-side apply: kubectl moves
	// the client-side field manager's fields to its own first.
	ssa := strings.Replace(webManifest, "image: nginx:1.27", "image: nginx:1.28", 1)
	out = mustKubectl(t, ssa, "apply", "--server-side", "-f", "-")
	wantLines(t, "server-side apply", out, "deployment.apps/web serverside-applied", "service/web serverside-applied")
	deploy = getDeployment(t, "web")
	if image := deploy.Spec.Template.Spec.Containers[0].Image; image != "nginx:1.28" {
		t.Errorf("after server-side apply the image is %q", image)
	}
	if !hasManager(deploy, "kubectl", "Apply") || hasManager(deploy, "kubectl-client-side-apply", "Update") {
		t.Errorf("kubectl did not move the client-side apply fields to its Apply entry: %+v", deploy.ManagedFields)
	}

	out = mustKubectl(t, "", "scale", "deployment/web", "-n", "kubectl", "--replicas=3")
	wantLines(t, "scale", out, "deployment.apps/web scaled")
	if replicas := mustKubectl(t, "", "get", "deploy", "web", "-n", "kubectl", "-o", "jsonpath={.spec.replicas}"); replicas != "3" {
		t.Errorf("after scale --replicas=3: spec.replicas %q", replicas)
	}

	out = mustKubectl(t, webManifest, "delete", "-f", "-")
	wantLines(t, "delete", out, `deployment.apps "web" deleted from kubectl namespace`, `service "web" deleted from kubectl namespace`)
	for _, kind := range []string{"deployment", "service"} {
		res := runKubectl(t, "", "get", kind, "web", "-n", "kubectl")
		if res.code != 1 || !strings.Contains(res.stderr, "NotFound") {
			t.Errorf("get %s web after delete: want exit 1 NotFound, got %s", kind, res)
		}
	}
}

func getDeployment(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	out := mustKubectl(t, "", "get", "deploy", name, "-n", "kubectl", "-o", "yaml", "--show-managed-fields")
	deploy := &appsv1.Deployment{}
	if err := yaml.UnmarshalStrict([]byte(out), deploy); err != nil {
		t.Fatalf("get -o yaml printed what is not a Deployment: %v\n%s", err, out)
	}
	return deploy
}

func hasManager(d *appsv1.Deployment, manager string, op metav1.ManagedFieldsOperationType) bool {
	for _, e := range d.ManagedFields {
		if e.Manager == manager && e.Operation == op {
			return true
		}
	}
	return false
}

func TestKubectlGetOfAMissingObjectExitsOne(t *testing.T) {
	res := runKubectl(t, "", "get", "deployment", "missing", "-n", "default")
	if res.code != 1 || !strings.Contains(res.stderr, `Error from server (NotFound): deployments.apps "missing" not found`) {
		t.Fatalf("want exit 1 with a NotFound error, got %s", res)
	}
	res = runKubectl(t, "", "get", "nosuchkind")
	if res.code != 1 || !strings.Contains(res.stderr, `the server doesn't have a resource type "nosuchkind"`) {
		t.Fatalf("an unknown resource type: want exit 1 naming it, got %s", res)
	}
}

func TestKubectlExplainPrintsFieldDocs(t *testing.T) {
	out := mustKubectl(t, "", "explain", "pods.spec.containers")
	for _, want := range []string{"KIND:", "Pod", "FIELD: containers <[]Container>", "DESCRIPTION:", "image\t<string>", "livenessProbe\t<Probe>", "name\t<string> -required-"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
}

func TestKubectlAuthCanI(t *testing.T) {
	res := runKubectl(t, "", "auth", "can-i", "create", "pods")
	if res.code != 0 || strings.TrimSpace(res.stdout) != "yes" {
		t.Fatalf("the admin may create pods: want yes, got %s", res)
	}
}

func TestKubectlGetWatchPrintsNewObjects(t *testing.T) {
	mustKubectl(t, "", "create", "namespace", "watching")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBinary, "kubectl", "get", "configmaps", "-n", "watching", "--watch", "--output-watch-events")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HOME="+kubectlHome)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	lines := make(chan string)
	go func() {
		defer close(lines)
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
	}()
	// The watch may start before or after the create: either way the
	// object must be printed as ADDED.
	mustKubectl(t, "", "create", "configmap", "seen", "-n", "watching", "--from-literal=k=v")
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl get --watch ended before printing seen: %s", stderr.String())
			}
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "ADDED" && f[1] == "seen" {
				return
			}
		case <-ctx.Done():
			t.Fatalf("kubectl get --watch printed no ADDED seen: %s", stderr.String())
		}
	}
}

func TestKubectlSeesARestoredSnapshot(t *testing.T) {
	mustKubectl(t, "", "create", "namespace", "snap")
	mustKubectl(t, "", "create", "configmap", "saved", "-n", "snap", "--from-literal=k=v")
	uid := mustKubectl(t, "", "get", "configmap", "saved", "-n", "snap", "-o", "jsonpath={.metadata.uid}")

	file := filepath.Join(t.TempDir(), "berth.db")
	if res := runBerth(t, "", "snapshot", "save", file, "--etcd-endpoint", etcdEndpoint); res.code != 0 || !strings.HasPrefix(res.stdout, "saved "+file) {
		t.Fatalf("snapshot save: %s", res)
	}
	mustKubectl(t, "", "create", "configmap", "after", "-n", "snap")
	dir := t.TempDir()
	if res := runBerth(t, "", "snapshot", "restore", file, "--data-dir", dir); res.code != 0 {
		t.Fatalf("snapshot restore: %s", res)
	}
	if res := runBerth(t, "", "snapshot", "restore", file, "--data-dir", dir); res.code != 1 || !strings.Contains(res.stderr, "already holds etcd data") {
		t.Fatalf("a second restore into the same directory: want exit 1, got %s", res)
	}
	if res := runBerth(t, "", "snapshot", "restore", file); res.code != 2 {
		t.Fatalf("restore without --data-dir: want usage error (exit 2), got %s", res)
	}

	restored := startBerthServer(t, dir)
	if got := mustKubectl(t, "", "--kubeconfig", restored, "get", "configmap", "saved", "-n", "snap", "-o", "jsonpath={.metadata.uid}"); got != uid {
		t.Errorf("restored ConfigMap uid %q, want %q", got, uid)
	}
	if res := runKubectl(t, "", "--kubeconfig", restored, "get", "configmap", "after", "-n", "snap"); res.code != 1 || !strings.Contains(res.stderr, "NotFound") {
		t.Errorf("an object made after the snapshot: want NotFound, got %s", res)
	}
}

// startBerthServer runs `berth server` on dataDir as a child process on
// free ports, waits until kubectl reaches it and returns its kubeconfig.
func startBerthServer(t *testing.T, dataDir string) string {
	t.Helper()
	cmd := exec.Command(berthBinary, "server", "--data-dir", dataDir, "--secure-port", "0", "--etcd-client-port", "0", "--etcd-peer-port", "0", "--disable-agent")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
			if waitErr != nil {
				t.Errorf("berth server did not stop cleanly: %v\n%s", waitErr, logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("berth server ignored SIGINT for 30s")
		}
	})
	config := filepath.Join(dataDir, "admin.kubeconfig")
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-exited:
			t.Fatalf("berth server exited: %v\n%s", waitErr, logs.String())
		default:
		}
		if _, err := os.Stat(config); err == nil && runKubectl(t, "", "--kubeconfig", config, "get", "--raw", "/readyz").code == 0 {
			return config
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth server on %s not ready after a minute:\n%s", dataDir, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
