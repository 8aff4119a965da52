package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// testLogger logs to the test at debug level (shown on failure or with -v).
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// startContainerd starts a managed containerd in a fresh data dir and stops it when the test ends.
func startContainerd(t testing.TB) *Containerd {
	t.Helper()
	c, err := Start(context.Background(), Config{DataDir: t.TempDir(), Log: testLogger(t)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Stop() })
	return c
}

func criVersion(t testing.TB, address string) *runtimeapi.VersionResponse {
	t.Helper()
	conn, err := DialCRI(address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := runtimeapi.NewRuntimeServiceClient(conn).Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		t.Fatalf("CRI Version on %s: %v", address, err)
	}
	return v
}

func TestStartServesCRIOnPrivateSocket(t *testing.T) {
	c := startContainerd(t)
	if !strings.HasPrefix(c.Endpoint(), "unix:///") || !strings.HasSuffix(c.Endpoint(), c.Address()) {
		t.Errorf("Endpoint() = %q, Address() = %q", c.Endpoint(), c.Address())
	}
	v := criVersion(t, c.Address())
	if v.RuntimeName != "containerd" || v.RuntimeApiVersion != "v1" {
		t.Errorf("CRI Version = %+v, want containerd with API v1", v)
	}
	pid := c.PID()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("containerd pid %d still runs after Stop", pid)
	}
	if _, err := os.Stat(c.Layout().PIDFile); !os.IsNotExist(err) {
		t.Errorf("pid file after Stop: %v, want it removed", err)
	}
}

func TestSupervisorRestartsKilledContainerd(t *testing.T) {
	c := startContainerd(t)
	old := c.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for c.Restarts() == 0 || answers(context.Background(), c.Address()) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("containerd not restarted within 20s (restarts %d)", c.Restarts())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c.PID() == old {
		t.Errorf("pid unchanged after restart")
	}
	criVersion(t, c.Address())
}

func TestStartWithoutContainerdNamesThePackage(t *testing.T) {
	_, err := Start(context.Background(), Config{DataDir: t.TempDir(), Containerd: "containerd-not-installed-here", Log: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y containerd") {
		t.Fatalf("Start = %v, want the install hint", err)
	}
}

func TestStartRefusesADataDirAnotherContainerdServes(t *testing.T) {
	c := startContainerd(t)
	_, err := Start(context.Background(), Config{DataDir: filepath.Dir(c.Layout().Dir), Log: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "another berth agent") {
		t.Fatalf("second Start on the same data dir = %v, want a refusal", err)
	}
	criVersion(t, c.Address()) // the first one is unharmed
	if c.Restarts() != 0 {
		t.Errorf("first containerd restarted %d times", c.Restarts())
	}
}

func TestStartStopsAContainerdWhoseAgentIsGone(t *testing.T) {
	// A containerd started by a process that exited (an agent killed with
	// SIGKILL): write the config with one Start, then run containerd from a
	// shell that exits at once, as the crashed agent.
	dataDir := t.TempDir()
	c, err := Start(context.Background(), Config{DataDir: dataDir, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	c.Stop()
	l := NewLayout(dataDir)
	out, err := exec.Command("sh", "-c", `containerd --config "$1" >/dev/null 2>&1 & echo "$! $$" > "$2"`, "sh", l.ContainerdConfig, l.PIDFile).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var orphan int
	b, _ := os.ReadFile(l.PIDFile)
	fmt.Sscan(string(b), &orphan)
	for deadline := time.Now().Add(10 * time.Second); answers(context.Background(), l.Address) != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("orphan containerd does not answer")
		}
	}
	c2, err := Start(context.Background(), Config{DataDir: dataDir, Log: testLogger(t)})
	if err != nil {
		t.Fatalf("Start over an orphaned containerd: %v", err)
	}
	defer c2.Stop()
	if !waitGone(orphan, 5*time.Second) {
		t.Errorf("orphan containerd %d still runs", orphan)
	}
	criVersion(t, c2.Address())
}
