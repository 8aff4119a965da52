package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/berth-io/berth/reconciler/informer"
	"github.com/berth-io/berth/reconciler/leader"
)

// The Lease the copies of the scheduler elect their leader on.
const (
	LeaseNamespace = "kube-system"
	LeaseName      = "kube-scheduler"
)

// Default client rate limits, when the config sets none: generous, so
// that binding 1,000 pods per second is not throttled, but bounded.
const (
	DefaultClientQPS   = 5000
	DefaultClientBurst = 10000
)

// ComponentOptions are Options plus how the component runs.
type ComponentOptions struct {
	Options
	// LeaderElect makes this copy campaign for the Lease
	// kube-system/kube-scheduler and schedule only while it holds it;
	// without it the copy schedules from the start.
	LeaderElect bool
	// LeaderElection tunes the election (kube-scheduler's defaults when zero).
	LeaderElection leader.Options
	// Identity names this copy in the Lease ("<hostname>_<uuid>" when empty).
	Identity string
}

// Serve runs the scheduler as a component until ctx is done: clients for
// config (which should authenticate as server.SchedulerUser; protobuf, and
// DefaultClientQPS unless it sets a rate limit), its own informers (kept
// warm while it stands by), an event recorder, and leader election when
// asked.
func Serve(ctx context.Context, config *rest.Config, opts ComponentOptions) error {
	cfg := rest.CopyConfig(config)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = DefaultClientQPS, DefaultClientBurst
	}
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("scheduler: client for %s: %w", cfg.Host, err)
	}
	name := opts.SchedulerName
	if name == "" {
		name = corev1.DefaultSchedulerName
	}
	broadcaster := record.NewBroadcaster()
	defer broadcaster.Shutdown()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: name})

	factory := informer.NewFactory(client, 0)
	s, err := New(client, factory, recorder, opts.Options)
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !opts.LeaderElect {
		s.Run(ctx)
		return nil
	}
	election := opts.LeaderElection
	if election.Recorder == nil {
		election.Recorder = recorder
	}
	if election.Log == nil {
		election.Log = s.log
	}
	return leader.Run(ctx, client, LeaseNamespace, LeaseName, opts.Identity, election, s.Run)
}
