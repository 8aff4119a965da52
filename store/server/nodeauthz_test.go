package server_test

import (
	"context"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// TestNodesMayOnlyChangeTheirOwnObjects runs node a's and node b's
// requests through the real API: each may change its own Node, Lease and
// the pods bound to it, and nothing of the other's.
func TestNodesMayOnlyChangeTheirOwnObjects(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	a := s.ClientAs(server.NodeUser("a"), server.NodesGroup)
	b := s.ClientAs(server.NodeUser("b"), server.NodesGroup)
	ns := "apps"
	s.Namespace(ns)

	mustAllow := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v, want allowed", what, err)
		}
	}
	mustForbid := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Fatalf("%s: error %v, want Forbidden", what, err)
		}
	}

	for name, client := range map[string]kubernetes.Interface{"a": a, "b": b} {
		_, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		mustAllow("node "+name+" registers itself", err)
		_, err = client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease(name), metav1.CreateOptions{})
		mustAllow("node "+name+" creates its lease", err)
	}
	_, err := a.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{})
	mustForbid("node a registers node c", err)
	_, err = a.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease("c"), metav1.CreateOptions{})
	mustForbid("node a creates node c's lease", err)

	label := []byte(`{"metadata":{"labels":{"touched":"yes"}}}`)
	_, err = a.CoreV1().Nodes().Patch(ctx, "a", types.StrategicMergePatchType, label, metav1.PatchOptions{})
	mustAllow("node a patches node a", err)
	_, err = a.CoreV1().Nodes().Patch(ctx, "b", types.StrategicMergePatchType, label, metav1.PatchOptions{})
	mustForbid("node a patches node b", err)
	taint := []byte(`{"spec":{"taints":[{"key":"dedicated","value":"db","effect":"NoSchedule"}]}}`)
	_, err = s.Admin.CoreV1().Nodes().Patch(ctx, "a", types.StrategicMergePatchType, taint, metav1.PatchOptions{})
	mustAllow("admin taints node a", err)
	_, err = a.CoreV1().Nodes().Patch(ctx, "a", types.MergePatchType, []byte(`{"spec":{"taints":null}}`), metav1.PatchOptions{})
	mustForbid("node a removes its own taint", err)
	_, err = a.CoreV1().Nodes().Patch(ctx, "a", types.StrategicMergePatchType, []byte(`{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}}}`), metav1.PatchOptions{})
	mustForbid("node a gives itself the control-plane role", err)
	ready := []byte(`{"status":{"conditions":[{"type":"Ready","status":"False","reason":"Sabotage"}]}}`)
	_, err = a.CoreV1().Nodes().Patch(ctx, "b", types.StrategicMergePatchType, ready, metav1.PatchOptions{}, "status")
	mustForbid("node a patches the status of node b", err)
	_, err = a.CoreV1().Nodes().Patch(ctx, "a", types.StrategicMergePatchType, ready, metav1.PatchOptions{}, "status")
	mustAllow("node a patches its own status", err)
	nodeB, err := s.Admin.CoreV1().Nodes().Get(ctx, "b", metav1.GetOptions{})
	mustAllow("admin reads node b", err)
	_, err = a.CoreV1().Nodes().UpdateStatus(ctx, nodeB, metav1.UpdateOptions{})
	mustForbid("node a updates the status of node b", err)

	for name, want := range map[string]bool{"a": true, "b": false} {
		review, err := a.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "patch", Resource: "nodes", Name: name},
		}}, metav1.CreateOptions{})
		mustAllow("node a asks whether it may patch node "+name, err)
		if review.Status.Allowed != want {
			t.Fatalf("access review: node a may patch node %s: %v (%s), want %v", name, review.Status.Allowed, review.Status.Reason, want)
		}
	}

	leaseB, err := b.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "b", metav1.GetOptions{})
	mustAllow("node b reads its lease", err)
	_, err = a.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, leaseB, metav1.UpdateOptions{})
	mustForbid("node a renews node b's lease", err)
	_, err = b.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, leaseB, metav1.UpdateOptions{})
	mustAllow("node b renews its lease", err)

	for _, node := range []string{"a", "b"} {
		_, err := s.Admin.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "on-" + node},
			Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}, metav1.CreateOptions{})
		mustAllow("admin creates a pod on "+node, err)
	}
	running := []byte(`{"status":{"phase":"Running"}}`)
	_, err = a.CoreV1().Pods(ns).Patch(ctx, "on-b", types.StrategicMergePatchType, running, metav1.PatchOptions{}, "status")
	mustForbid("node a patches the status of a pod bound to b", err)
	_, err = a.CoreV1().Pods(ns).Patch(ctx, "on-a", types.StrategicMergePatchType, running, metav1.PatchOptions{}, "status")
	mustAllow("node a patches the status of its pod", err)
	podB, err := a.CoreV1().Pods(ns).Get(ctx, "on-b", metav1.GetOptions{})
	mustAllow("node a reads a pod bound to b (reads are not narrowed)", err)
	podB.Status.Phase = corev1.PodFailed
	_, err = a.CoreV1().Pods(ns).UpdateStatus(ctx, podB, metav1.UpdateOptions{})
	mustForbid("node a updates the status of a pod bound to b", err)
	zero := int64(0)
	err = a.CoreV1().Pods(ns).Delete(ctx, "on-b", metav1.DeleteOptions{GracePeriodSeconds: &zero})
	mustForbid("node a deletes a pod bound to b", err)
	err = a.CoreV1().Pods(ns).Delete(ctx, "on-a", metav1.DeleteOptions{GracePeriodSeconds: &zero})
	mustAllow("node a deletes its pod", err)
	if got, err := s.Admin.CoreV1().Pods(ns).Get(ctx, "on-b", metav1.GetOptions{}); err != nil || got.Status.Phase == corev1.PodFailed {
		t.Fatalf("pod on b after node a's attempts: %+v, %v; want it there and untouched", got.Status, err)
	}
}

// TestNodeCredentialsMustNameTheirNode: a user in system:nodes without a
// node name may do nothing, while the hollow nodes group keeps the node
// role without being confined to one node.
func TestNodeCredentialsMustNameTheirNode(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	anonymousNode := s.ClientAs("kubelet", server.NodesGroup)
	_, err := anonymousNode.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kubelet"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("a nameless node registers: %v, want Forbidden", err)
	}
	if _, err := anonymousNode.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a nameless node lists pods: %v, want Forbidden", err)
	}
	hollow := s.ClientAs(server.HollowUser, server.HollowNodesGroup)
	for _, name := range []string{"hollow-0", "hollow-1"} {
		if _, err := hollow.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("hollow registers %s: %v", name, err)
		}
		if _, err := hollow.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(ctx, lease(name), metav1.CreateOptions{}); err != nil {
			t.Fatalf("hollow creates the lease of %s: %v", name, err)
		}
	}
	if _, err := hollow.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("hollow creates a secret: %v, want Forbidden (the node role only reads them)", err)
	}
}

func lease(node string) *coordinationv1.Lease {
	holder, seconds := node, int32(40)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &metav1.MicroTime{Time: time.Now()}},
	}
}
