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
	berthBinary string // the built binary
	kubeconfig  string // the server's admin kubeconfig
	kubectlHome string // HOME for kubectl's discovery cache
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBinary, append([]string{"kubectl"}, args...)...)
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
		t.Fatalf("running berth kubectl %v: %v", args, err)
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
