package nodestatus

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// Create creates want, or adopts the Node of that name when it exists,
// and returns the Node stored and the status still to report with
// PatchStatus: all of want's status when the Node existed (with
// transition times kept from the stored conditions) or when the server
// did not keep the status sent with it; nil when there is none.
func Create(ctx context.Context, nodes corev1client.NodeInterface, want *corev1.Node) (*corev1.Node, *corev1.NodeStatus, error) {
	created, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	switch {
	case err == nil:
		if len(created.Status.Conditions) > 0 {
			return created, nil, nil
		}
		return created, &want.Status, nil
	case apierrors.IsAlreadyExists(err):
		existing, err := nodes.Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, fmt.Errorf("adopting existing node %s: %w", want.Name, err)
		}
		status := want.Status.DeepCopy()
		KeepTransitionTimes(status.Conditions, existing.Status.Conditions)
		return existing, status, nil
	default:
		return nil, nil, fmt.Errorf("registering node %s: %w", want.Name, err)
	}
}

// PatchStatus patches the status of Node name with StatusPatch(st, full).
func PatchStatus(ctx context.Context, nodes corev1client.NodeInterface, name string, st corev1.NodeStatus, full bool) (*corev1.Node, error) {
	node, err := nodes.Patch(ctx, name, types.StrategicMergePatchType, StatusPatch(st, full), metav1.PatchOptions{}, "status")
	if err != nil {
		return nil, fmt.Errorf("reporting the status of node %s: %w", name, err)
	}
	return node, nil
}

// Register creates want (or adopts the existing Node) and makes sure the
// API shows its full status: Create, then PatchStatus when needed. It
// returns the Node as stored.
func Register(ctx context.Context, nodes corev1client.NodeInterface, want *corev1.Node) (*corev1.Node, error) {
	node, status, err := Create(ctx, nodes, want)
	if err != nil || status == nil {
		return node, err
	}
	return PatchStatus(ctx, nodes, want.Name, *status, true)
}
