package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

func cluster(t *testing.T) Cluster {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench.yaml"), []byte(Policy), 0o644); err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, func(o *server.Options) { o.PolicyDirs = []string{dir} })
	return Cluster{
		Admin:       s.AdminConfig,
		ConfigAs:    func(user string) (*rest.Config, error) { return s.ConfigAs(user), nil },
		GitSyncUser: server.GitSyncUser, ControllerManagerUser: server.ControllerManagerUser, SchedulerUser: server.SchedulerUser,
	}
}

// TestLatencyAndScaleReportFigures runs both scenarios small, so that the
// benchmark keeps working; `berth bench gitsync` runs them full size.
func TestLatencyAndScaleReportFigures(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	l, err := Latency(ctx, c, 3, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if l.Latency.Count != 3 || l.Latency.P50 <= 0 || l.Latency.P99 < l.Latency.P50 {
		t.Fatalf("latency report: %+v", l)
	}
	s, err := Scale(ctx, c, 20, 2, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if s.Objects != 20*ObjectsPerApp+10 || s.Applied <= 0 || s.Healthy < s.Applied || s.OneChange <= 0 {
		t.Fatalf("scale report: %+v", s)
	}
}
