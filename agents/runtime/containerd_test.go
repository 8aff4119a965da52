package runtime

import (
	"context"
	"log/slog"
	"os"
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
