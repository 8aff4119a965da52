package nodestatus

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

func resourcePods(n int64) *resource.Quantity { return resource.NewQuantity(n, resource.DecimalSI) }

func testNode(name string, now time.Time) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Capacity:   corev1.ResourceList{corev1.ResourcePods: *resourcePods(110)},
			Conditions: Conditions(Health{}, nil, now),
		},
	}
}

// TestRegisterCreatesOrAdoptsTheNode registers a node as its own identity
// (subject to RBAC and node authorization), then again as after a restart.
func TestRegisterCreatesOrAdoptsTheNode(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	client := s.ClientAs("system:node:n1", server.NodesGroup)
	node, err := Register(ctx, client.CoreV1().Nodes(), testNode("n1", t0))
	if err != nil {
		t.Fatal(err)
	}
	if !IsReady(node) || node.Status.Capacity.Pods().Value() != 110 {
		t.Fatalf("registered node shows status %+v, want Ready with 110 pods", node.Status)
	}
	// The API server marks it not ready meanwhile; a restarted node adopts it.
	node.Status.Conditions = Conditions(Health{NotReadyReason: "NodeStatusUnknown"}, node.Status.Conditions, t0.Add(time.Minute))
	if _, err := s.Admin.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * time.Minute)
	again, err := Register(ctx, client.CoreV1().Nodes(), testNode("n1", later))
	if err != nil {
		t.Fatal(err)
	}
	if again.UID != node.UID || !IsReady(again) {
		t.Fatalf("re-registration: uid %s (was %s), ready %v; want the same Node, Ready", again.UID, node.UID, IsReady(again))
	}
	for _, c := range again.Status.Conditions {
		if c.Type == corev1.NodeMemoryPressure && !c.LastTransitionTime.Time.Equal(t0) {
			t.Errorf("MemoryPressure never changed but its transition time moved to %v", c.LastTransitionTime)
		}
	}
}

func TestLeaseIsCreatedThenRenewed(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	client := s.ClientAs("system:node:n1", server.NodesGroup)
	node, err := Register(ctx, client.CoreV1().Nodes(), testNode("n1", t0))
	if err != nil {
		t.Fatal(err)
	}
	lease := NewLease(client.CoordinationV1(), "n1", node.UID, 40*time.Second)
	for i, now := range []time.Time{t0, t0.Add(10 * time.Second), t0.Add(20 * time.Second)} {
		if err := lease.Renew(ctx, now); err != nil {
			t.Fatalf("renewal %d: %v", i, err)
		}
		got, err := s.Admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Spec.RenewTime.Time.Equal(now) || *got.Spec.HolderIdentity != "n1" || *got.Spec.LeaseDurationSeconds != 40 ||
			len(got.OwnerReferences) != 1 || got.OwnerReferences[0].UID != node.UID {
			t.Fatalf("renewal %d: lease %+v, want renewed at %v, held by n1 for 40s, owned by the Node", i, got, now)
		}
	}
	// Someone else wrote the Lease: the next renewal fails and the one after reads it afresh.
	if err := s.Admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := lease.Renew(ctx, t0.Add(30*time.Second)); err == nil {
		t.Fatal("renewing a deleted lease's last copy succeeded, want an error")
	}
	if err := lease.Renew(ctx, t0.Add(31*time.Second)); err != nil {
		t.Fatalf("renewal after a failure: %v", err)
	}
}
