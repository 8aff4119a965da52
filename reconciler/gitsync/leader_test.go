package gitsync

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync/gittest"
	"github.com/berth-io/berth/reconciler/leader"
	"github.com/berth-io/berth/store/server"
)

// TestLeaderElection runs two leader-elected controllers: the holder of
// the Lease syncs; when it stops, the other takes over and syncs the next
// commit.
func TestLeaderElection(t *testing.T) {
	s := startServer(t)
	fast := leader.Options{LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}
	start := func(identity string) context.CancelFunc {
		ctl, err := New(s.ConfigAs(server.GitSyncUser), Options{DataDir: t.TempDir(), LeaderElect: true, Leader: fast, Identity: identity,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = ctl.Run(ctx) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return stop
	}
	stopFirst := start("first")
	ctx := context.Background()
	waitFor(t, 10*time.Second, "the first to lead", func() (bool, error) {
		l, err := s.Admin.CoordinationV1().Leases(LeaseNamespace).Get(ctx, LeaseName, metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == "first", err
	})
	start("second")
	e := &env{Server: s, t: t, dyn: adminDynamic(t, s)}
	repo := gittest.Init(t)
	c1 := repo.Write(map[string]string{"namespace.yaml": nsYAML, "config.yaml": configMap("one")}).Commit("one")
	e.createSource("ha", berthv1alpha1.GitSourceSpec{URL: repo.Dir, ServiceAccountName: "deployer"})
	e.waitSource("ha", 10*time.Second, "the leader to sync", appliedAndReady(c1))

	stopFirst()
	c2 := repo.Write(map[string]string{"config.yaml": configMap("two")}).Commit("two")
	e.waitSource("ha", 15*time.Second, "the standby to take over and sync", appliedAndReady(c2))
	l, err := s.Admin.CoordinationV1().Leases(LeaseNamespace).Get(ctx, LeaseName, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "second" {
		t.Fatalf("lease after the failover: %+v %v", l, err)
	}
}
