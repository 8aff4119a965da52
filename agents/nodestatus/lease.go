package nodestatus

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
)

// Lease keeps one node's heartbeat Lease in kube-node-lease, owned by the
// Node so that it goes when the Node does. It remembers the Lease it last
// wrote, so that a renewal is one update.
//
// It is written here rather than taken from
// k8s.io/component-helpers/apimachinery/lease because that controller
// owns a goroutine and a timer per node, while hollow drives thousands of
// nodes' renewals from one queue under a rate limiter; the real node calls
// Renew from its own loop. A Lease is not safe for concurrent use.
type Lease struct {
	leases   coordinationclient.LeaseInterface
	node     string
	uid      types.UID
	duration time.Duration
	last     *coordinationv1.Lease
}

// NewLease returns the Lease of node (whose Node has uid) with the given
// leaseDurationSeconds, written with client.
func NewLease(client coordinationclient.LeasesGetter, node string, uid types.UID, duration time.Duration) *Lease {
	return &Lease{leases: client.Leases(corev1.NamespaceNodeLease), node: node, uid: uid, duration: duration}
}

// Renew sets the Lease's renew time to now. It updates the copy last
// written; without one (at first, or after a failed renewal) it creates
// the Lease, or reads the existing one and updates that.
func (l *Lease) Renew(ctx context.Context, now time.Time) error {
	want := leaseObject(l.node, l.uid, l.duration, now)
	if l.last == nil {
		created, err := l.leases.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			l.keep(created)
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the lease of node %s: %w", l.node, err)
		}
		existing, err := l.leases.Get(ctx, l.node, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading the lease of node %s: %w", l.node, err)
		}
		l.keep(existing)
	}
	l.last.Spec.HolderIdentity = want.Spec.HolderIdentity
	l.last.Spec.LeaseDurationSeconds = want.Spec.LeaseDurationSeconds
	l.last.Spec.RenewTime = want.Spec.RenewTime
	if len(l.last.OwnerReferences) == 0 && l.uid != "" {
		l.last.OwnerReferences = want.OwnerReferences
	}
	lease, err := l.leases.Update(ctx, l.last, metav1.UpdateOptions{})
	if err != nil {
		l.last = nil
		return fmt.Errorf("renewing the lease of node %s: %w", l.node, err)
	}
	l.keep(lease)
	return nil
}

// keep remembers the Lease last written for the next renewal, without its
// managedFields (an update without them keeps the stored ones).
func (l *Lease) keep(lease *coordinationv1.Lease) {
	lease.ManagedFields = nil
	l.last = lease
}

// leaseObject is node's heartbeat Lease renewed at now, owned by the Node
// with uid (no owner when uid is empty).
func leaseObject(node string, uid types.UID, duration time.Duration, now time.Time) *coordinationv1.Lease {
	holder, seconds := node, int32(duration/time.Second)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       &holder,
			LeaseDurationSeconds: &seconds,
			RenewTime:            &metav1.MicroTime{Time: now},
		},
	}
	if uid != "" {
		lease.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node, UID: uid}}
	}
	return lease
}
