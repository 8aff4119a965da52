package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-io/berth/agents/images"
	"github.com/berth-io/berth/agents/nettest"
	"github.com/berth-io/berth/agents/runtime"
)

// TestUpDeploysCommitsAndReportsDrift is the README's quick start on a
// throwaway host (a network namespace): `berth server --repo` with its own
// agent runs the examples repository as real containers, a commit changes
// what the Service answers, and `kubectl scale` comes back as a commit on
// berth/live.
func TestUpDeploysCommitsAndReportsDrift(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	host := upHost(t)
	repo := exampleRepo(t)
	dataDir, err := os.MkdirTemp("", "bup") // short: containerd's socket path must fit 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dataDir) })
	stageDemoImages(ctx, t, dataDir)

	logPath := filepath.Join(t.TempDir(), "server.log")
	server := host.start(t, logPath, "server", "--data-dir", dataDir, "--repo", repo,
		"--node-name", "up-"+filepath.Base(dataDir)[3:], "--node-ip", upHostIP, "--etcd-client-port", "0", "--etcd-peer-port", "0")
	t.Cleanup(func() {
		_ = server.Process.Signal(syscall.SIGTERM)
		_ = server.Wait()
		if out, err := host.run(context.Background(), dataDir, "agent", "--cleanup", "--data-dir", dataDir); err != nil {
			t.Errorf("berth agent --cleanup: %v\n%s", err, out)
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log (end):\n%s", lastLines(string(b), 80))
		}
	})
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := host.run(ctx, dataDir, append([]string{"kubectl"}, args...)...)
		if err != nil {
			t.Fatalf("berth kubectl %v: %v\n%s", args, err, out)
		}
		return out
	}
	waitFor(ctx, t, "the API server", func() error {
		_, err := host.run(ctx, dataDir, "kubectl", "get", "--raw", "/readyz")
		return err
	})

	// The first commit: applied, healthy, served through the ClusterIP.
	start := time.Now()
	if out, err := host.run(ctx, dataDir, "sync", "wait", "kube-system/repo", "--timeout", "3m"); err != nil {
		t.Fatalf("berth sync wait: %v\n%s", err, out)
	}
	t.Logf("examples-repo applied and healthy %v after the server was ready", time.Since(start).Round(time.Millisecond))
	url := "http://" + kubectl("-n", "demo", "get", "svc", "hello", "-o", "jsonpath={.spec.clusterIP}") + "/"
	waitFor(ctx, t, "hello v1 through its ClusterIP", func() error { return expectBody(ctx, host, url, "(version v1)") })

	// A commit deploys: the new configuration rolls the pods.
	edit(t, filepath.Join(repo, "apps/hello/configmap.yaml"), `VERSION: "v1"`, `VERSION: "v2"`)
	edit(t, filepath.Join(repo, "apps/hello/deployment.yaml"), `config-version: "1"`, `config-version: "2"`)
	git(t, repo, "commit", "-qam", "hello: v2")
	commit := strings.TrimSpace(git(t, repo, "rev-parse", "HEAD"))
	if out, err := host.run(ctx, dataDir, "sync", "wait", "kube-system/repo", "--commit", commit, "--timeout", "3m"); err != nil {
		t.Fatalf("berth sync wait --commit %s: %v\n%s", commit, err, out)
	}
	waitFor(ctx, t, "hello v2 through its ClusterIP", func() error { return expectBody(ctx, host, url, "(version v2)") })

	// Drift: a scale by hand is reported as a commit on berth/live naming
	// the field, the values and kubectl.
	kubectl("-n", "demo", "scale", "deployment", "hello", "--replicas", "4")
	waitFor(ctx, t, "the drift commit on berth/live", func() error {
		msg, err := gitErr(repo, "log", "-1", "--format=%B", "berth/live")
		if err != nil {
			return err
		}
		for _, want := range []string{"Deployment demo/hello", "spec.replicas", "4", "kubectl"} {
			if !strings.Contains(msg, want) {
				return fmt.Errorf("the last berth/live commit says %q, without %q", msg, want)
			}
		}
		return nil
	})
	if diff := git(t, repo, "diff", "main", "berth/live", "--", "apps/hello/deployment.yaml"); !strings.Contains(diff, "+  replicas: 4") {
		t.Fatalf("git diff main berth/live does not show the live replicas:\n%s", diff)
	}
	if status := git(t, repo, "status", "--porcelain"); status != "" {
		t.Fatalf("berth touched the user's working tree:\n%s", status)
	}
}

// upHostIP is the test host's address on its link.
const upHostIP = "10.231.0.2"

// upHost is a network namespace with one link and a default route, so a
// server and its agent there find a node address and leave the machine's
// own network, nftables and DNS port alone.
func upHost(t *testing.T) *nsHost {
	t.Helper()
	sw := nettest.New(t, "bus")
	if err := sw.Bridge("br0", "10.231.0.1/24"); err != nil {
		t.Fatal(err)
	}
	ns := nettest.New(t, "buh")
	if err := sw.Veth("p0", "", "br0", ns, "eth0", upHostIP+"/24"); err != nil {
		t.Fatal(err)
	}
	if err := ns.DefaultRoute("10.231.0.1", ""); err != nil {
		t.Fatal(err)
	}
	return &nsHost{ns}
}

// nsHost runs berth commands inside a network namespace.
type nsHost struct{ *nettest.Netns }

// start starts a long-running berth command in the namespace, its output
// in logPath.
func (h *nsHost) start(t *testing.T, logPath string, args ...string) *exec.Cmd {
	t.Helper()
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(berthBinary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Forked from a thread inside the namespace, the child lives there.
	if err := h.Do(cmd.Start); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// run runs a berth command in the namespace against dataDir's server.
func (h *nsHost) run(ctx context.Context, dataDir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, berthBinary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dataDir, "admin.kubeconfig"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := h.Do(cmd.Start); err != nil {
		return "", err
	}
	err := cmd.Wait()
	return out.String(), err
}

// exampleRepo is examples-repo/ as a fresh git repository.
func exampleRepo(t *testing.T) string {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(repo, os.DirFS("../../examples-repo")); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "add", "-A")
	git(t, repo, "commit", "-qm", "examples-repo")
	return repo
}

// stageDemoImages builds hello and worker into the agent's images
// directory, which the agent imports when it starts.
func stageDemoImages(ctx context.Context, t *testing.T, dataDir string) {
	t.Helper()
	dir := runtime.NewLayout(dataDir).ImagesDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string]string{"hello": "demo/hello:v1", "worker": "demo/worker:v1"} {
		img, err := images.BuildGo(ctx, "../../examples-repo/images/"+name, images.GoOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := images.WriteTar(img, ref, filepath.Join(dir, name+".tar")); err != nil {
			t.Fatal(err)
		}
	}
}

func expectBody(ctx context.Context, h *nsHost, url, want string) error {
	body, err := h.Get(ctx, url)
	if err != nil {
		return err
	}
	if !strings.Contains(body, want) {
		return fmt.Errorf("%s answered %q, want %q in it", url, body, want)
	}
	return nil
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitErr(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func gitErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=test", "-c", "user.email=test@localhost"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %v: %w: %s", args, err, out)
	}
	return string(out), nil
}

// waitFor polls check until it succeeds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
