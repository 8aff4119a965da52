package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/controllers/builtin"
	"github.com/berth-io/berth/reconciler/leader"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// TestControllerManagerFailover runs two controller managers; only the
// leader acts. When it dies mid-way through a scale-up, the standby takes
// over and finishes it without ever creating a pod too many.
func TestControllerManagerFailover(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("ha")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fast := leader.Options{LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}
	start := func(identity string) context.CancelFunc {
		ctx, cancel := context.WithCancel(context.Background())
		m, err := controllers.New(s.ConfigAs(server.ControllerManagerUser), controllers.Options{LeaderElect: true, Leader: fast, Identity: identity, Workers: 2, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if err := builtin.Register(m, builtin.DefaultSettings()); err != nil {
			t.Fatal(err)
		}
		go func() { _ = m.Run(ctx) }()
		return cancel
	}
	first := start("first")
	t.Cleanup(first)
	ctx := context.Background()
	waitFor(t, 10*time.Second, "the first manager to lead", func() (bool, error) {
		l, err := s.Admin.CoordinationV1().Leases("kube-system").Get(ctx, controllers.LeaseName, metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == "first", err
	})
	second := start("second")
	t.Cleanup(second)

	var peak, live atomic.Int32
	w, err := s.Admin.CoreV1().Pods("ha").Watch(ctx, metav1.ListOptions{LabelSelector: "app=ha"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	go func() {
		for ev := range w.ResultChan() {
			if _, ok := ev.Object.(*corev1.Pod); !ok {
				continue
			}
			switch ev.Type {
			case watch.Added:
				n := live.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
			case watch.Deleted:
				live.Add(-1)
			}
		}
	}()

	if _, err := s.Admin.AppsV1().Deployments("ha").Create(ctx, deployment("ha", 30), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the first manager to start creating pods", func() (bool, error) { return live.Load() > 0, nil })
	first()
	waitFor(t, 20*time.Second, "the second manager to take the lease", func() (bool, error) {
		l, err := s.Admin.CoordinationV1().Leases("kube-system").Get(ctx, controllers.LeaseName, metav1.GetOptions{})
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == "second", err
	})
	waitFor(t, 30*time.Second, "30 pods", func() (bool, error) {
		pods, err := s.Admin.CoreV1().Pods("ha").List(ctx, metav1.ListOptions{LabelSelector: "app=ha"})
		return err == nil && len(pods.Items) == 30, fmt.Errorf("%d pods", len(pods.Items))
	})
	time.Sleep(time.Second)
	if p := peak.Load(); p > 30 {
		t.Fatalf("the failover created pods twice: peak %d for 30 replicas", p)
	}
}
