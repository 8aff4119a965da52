package hollow

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
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

// renewLease renews the node's Lease with the last copy written; without
// one (at start, or when it was stale) it creates the Lease or reads it.
func (f *Fleet) renewLease(ctx context.Context, n *node) error {
	now := time.Now()
	leases := f.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	want := leaseObject(n.name, n.uid, f.opts.LeaseDuration, now)
	if n.lease == nil {
		created, err := leases.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			n.keepLease(created)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the lease of node %s: %w", n.name, err)
		}
		existing, err := leases.Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading the lease of node %s: %w", n.name, err)
		}
		n.keepLease(existing)
	}
	n.lease.Spec.HolderIdentity = want.Spec.HolderIdentity
	n.lease.Spec.LeaseDurationSeconds = want.Spec.LeaseDurationSeconds
	n.lease.Spec.RenewTime = want.Spec.RenewTime
	lease, err := leases.Update(ctx, n.lease, metav1.UpdateOptions{})
	if err != nil {
		n.lease = nil
		return fmt.Errorf("renewing the lease of node %s: %w", n.name, err)
	}
	n.keepLease(lease)
	return nil
}

// keepLease remembers the Lease last written for the next renewal, without
// its managedFields (an update without them keeps the stored ones).
func (n *node) keepLease(l *coordinationv1.Lease) {
	l.ManagedFields = nil
	n.lease = l
}

// reportStatus patches the node's conditions: Ready, no pressure.
func (f *Fleet) reportStatus(ctx context.Context, n *node) error {
	node, err := f.nodeLister.Get(n.name)
	if err != nil {
		return fmt.Errorf("reporting the status of node %s: %w", n.name, err)
	}
	return f.patchStatus(ctx, n.name, corev1.NodeStatus{Conditions: nodeConditions(node.Status.Conditions, time.Now())}, false)
}

func (f *Fleet) patchStatus(ctx context.Context, name string, st corev1.NodeStatus, full bool) error {
	_, err := f.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, nodeStatusPatch(st, full), metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("reporting the status of node %s: %w", name, err)
	}
	return nil
}
