package hollow

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/berth-io/berth/agents/nodestatus"
)

// task is one periodic duty of a node; each is in the heartbeat queue
// once, scheduled for when it is next due.
type task struct {
	node *node
	kind taskKind
}

type taskKind int

const (
	leaseTask  taskKind = iota // renew the node's Lease
	statusTask                 // report the node's conditions
)

// runHeartbeats serves the heartbeat queue until it shuts down: each task
// runs when due, under the fleet's rate limiter, and is scheduled again
// (sooner, with back-off, when it failed). Tasks of stopped nodes end.
func (f *Fleet) runHeartbeats(ctx context.Context) {
	for {
		t, shutdown := f.heartbeats.Get()
		if shutdown {
			return
		}
		f.beat(ctx, t)
		f.heartbeats.Done(t)
	}
}

func (f *Fleet) beat(ctx context.Context, t task) {
	if f.isStopped(t.node) {
		f.heartbeats.Forget(t)
		return
	}
	if err := f.limiter.Wait(ctx); err != nil {
		return // shutting down
	}
	var (
		err  error
		next time.Duration
	)
	switch t.kind {
	case leaseTask:
		err = f.renewLease(ctx, t.node)
		next = wait.Jitter(f.opts.LeaseRenewInterval, 0.04)
	case statusTask:
		err = f.reportStatus(ctx, t.node)
		next = f.opts.StatusReportInterval
	}
	if err != nil {
		if ctx.Err() == nil {
			f.opts.Log.Warn("hollow node heartbeat failed", "err", err)
		}
		f.heartbeats.AddRateLimited(t)
		return
	}
	f.heartbeats.Forget(t)
	f.heartbeats.AddAfter(t, next)
}

// renewLease renews the node's Lease.
func (f *Fleet) renewLease(ctx context.Context, n *node) error {
	if n.lease == nil {
		n.lease = nodestatus.NewLease(f.client.CoordinationV1(), n.name, n.uid, f.opts.LeaseDuration)
	}
	return n.lease.Renew(ctx, time.Now())
}

// reportStatus patches the node's conditions: Ready, no pressure.
func (f *Fleet) reportStatus(ctx context.Context, n *node) error {
	node, err := f.nodeLister.Get(n.name)
	if err != nil {
		return fmt.Errorf("reporting the status of node %s: %w", n.name, err)
	}
	st := corev1.NodeStatus{Conditions: nodestatus.Conditions(nodestatus.Health{}, node.Status.Conditions, time.Now())}
	_, err = nodestatus.PatchStatus(ctx, f.client.CoreV1().Nodes(), n.name, st, false)
	return err
}
