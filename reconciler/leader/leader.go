// Package leader runs a function only while its caller holds a
// coordination.k8s.io Lease, so that of several copies of a component
// exactly one acts at a time (client-go leader election, Lease lock).
package leader

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Options tune the election. Zero durations take kube-controller-manager's
// defaults: a 15 s lease, renewed within 10 s, retried every 2 s.
type Options struct {
	// LeaseDuration is how long a standby waits after the last renewal it
	// saw before it takes the lease over.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader keeps retrying a renewal before
	// it gives leadership up; it must be shorter than LeaseDuration.
	RenewDeadline time.Duration
	// RetryPeriod is the pause between attempts to acquire or renew.
	RetryPeriod time.Duration
	// Recorder, if set, receives the "became leader" and "stopped leading"
	// events on the Lease.
	Recorder resourcelock.EventRecorder
	// Log receives leadership changes; nil discards them.
	Log *slog.Logger
}

// Default durations, as kube-controller-manager and kube-scheduler use.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Run campaigns for the Lease namespace/name as identity (a fresh
// "<hostname>_<uuid>" when empty) until ctx is done. Each time it becomes
// leader it calls fn with a context that is cancelled when leadership is
// lost or ctx is done; fn may thus run several times, once per term, but
// never concurrently with itself.
//
// No two holders act at once: fn's context is cancelled RenewDeadline
// after the start of the last renewal that succeeded, before any standby
// may take over (LeaseDuration after it saw that renewal); and when ctx is
// cancelled the Lease is released, for an immediate takeover, only after fn
// has returned. fn must therefore return promptly once its context is done.
//
// Run returns nil once ctx is done and fn has returned, or an error when
// the options are inconsistent.
func Run(ctx context.Context, client kubernetes.Interface, namespace, name, identity string, opts Options, fn func(ctx context.Context)) error {
	opts = withDefaults(opts)
	if identity == "" {
		identity = Identity()
	}
	log := opts.Log.With("lease", namespace+"/"+name, "identity", identity)
	for ctx.Err() == nil {
		term := newTerm(opts.RenewDeadline)
		lock := &termLock{
			Interface: &resourcelock.LeaseLock{
				LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
				Client:     client.CoordinationV1(),
				LockConfig: resourcelock.ResourceLockConfig{Identity: identity, EventRecorder: opts.Recorder},
			},
			term: term,
		}
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			Name:            name,
			LeaseDuration:   opts.LeaseDuration,
			RenewDeadline:   opts.RenewDeadline,
			RetryPeriod:     opts.RetryPeriod,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					log.Info("became leader")
					term.run(ctx, fn)
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election on lease %s/%s: %w", namespace, name, err)
		}
		elector.Run(ctx)
		if term.wait() {
			log.Info("stopped leading")
		}
	}
	return nil
}

// Identity is a candidate identity unique to this process:
// "<hostname>_<uuid>", as kube-controller-manager builds it.
func Identity() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return host + "_" + string(uuid.NewUUID())
}

func withDefaults(o Options) Options {
	if o.LeaseDuration == 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = DefaultRenewDeadline
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = DefaultRetryPeriod
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// term is one leadership term. client-go starts fn on a goroutine of its
// own once the Lease is won; term makes sure fn stops in time: its context
// is cancelled RenewDeadline after the start of the last successful
// renewal (before any standby, which waits LeaseDuration from when it saw
// that renewal, may take over) and before the Lease is released.
type term struct {
	renewDeadline time.Duration
	done          chan struct{}

	mu       sync.Mutex
	won      bool
	deadline time.Time
	cancel   context.CancelFunc
}

func newTerm(renewDeadline time.Duration) *term {
	return &term{renewDeadline: renewDeadline, done: make(chan struct{})}
}

func (t *term) run(ctx context.Context, fn func(context.Context)) {
	defer close(t.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.mu.Lock()
	t.cancel = cancel
	t.mu.Unlock()
	go func() {
		for {
			left := t.untilDeadline()
			if left <= 0 {
				cancel()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(left):
			}
		}
	}()
	fn(ctx)
}

// renewed notes a successful acquisition or renewal sent at start.
func (t *term) renewed(start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.won = true
	t.deadline = start.Add(t.renewDeadline)
}

func (t *term) untilDeadline() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Until(t.deadline)
}

// stop cancels fn's context, if fn runs, and says whether the Lease was won.
func (t *term) stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cancel != nil {
		t.cancel()
	}
	return t.won
}

// wait blocks until fn has returned if the Lease was won, and says whether it was.
func (t *term) wait() bool {
	t.mu.Lock()
	won := t.won
	t.mu.Unlock()
	if won {
		<-t.done
	}
	return won
}

// termLock is the Lease lock of one term: it reports acquisitions and
// renewals to the term, and makes a release (an update that clears the
// holder, sent when the election stops) stop fn and wait until it has
// returned, so that a standby cannot take over while the old leader still
// acts. If fn outlasts the release's own deadline the release is abandoned
// and standbys wait the lease out.
type termLock struct {
	resourcelock.Interface
	term *term
}

// Create creates the Lease with this candidate as holder.
func (l *termLock) Create(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	start := time.Now()
	err := l.Interface.Create(ctx, record)
	if err == nil {
		l.term.renewed(start)
	}
	return err
}

// Update renews or takes over the Lease or, with an empty holder, releases it.
func (l *termLock) Update(ctx context.Context, record resourcelock.LeaderElectionRecord) error {
	if record.HolderIdentity == "" && l.term.stop() {
		select {
		case <-l.term.done:
		case <-ctx.Done():
			return fmt.Errorf("lease %s not released: the leader's work did not stop in time: %w", l.Describe(), ctx.Err())
		}
	}
	start := time.Now()
	err := l.Interface.Update(ctx, record)
	if err == nil && record.HolderIdentity != "" {
		l.term.renewed(start)
	}
	return err
}
