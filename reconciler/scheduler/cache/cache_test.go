package cache

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

func node(name, zone string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelTopologyZone: zone}},
		Status:     corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourcePods: resource.MustParse("110")}},
	}
}

func pod(uid, nodeName, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: uid, Namespace: "default", UID: types.UID(uid)},
		Spec: corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
		}}}},
	}
}

func assume(t *testing.T, c *Cache, p *corev1.Pod) {
	t.Helper()
	info, err := nodeinfo.NewPodInfo(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AssumePod(info); err != nil {
		t.Fatal(err)
	}
}

// cpuOn is the cpu requested on node in a fresh snapshot of c.
func cpuOn(c *Cache, s *nodeinfo.Snapshot, name string) int64 {
	c.UpdateSnapshot(s)
	if n := s.Get(name); n != nil {
		return n.Requested.MilliCPU
	}
	return -1
}

func TestAnAssumedPodCountsAtOnceAndIsConfirmedByTheWatch(t *testing.T) {
	c := New(time.Minute)
	c.SetNode(node("a", "z"))
	s := &nodeinfo.Snapshot{}
	p := pod("p", "a", "1")
	assume(t, c, p)
	if got := cpuOn(c, s, "a"); got != 1000 {
		t.Fatalf("assumed pod: %dm cpu requested on a, want 1000m", got)
	}
	if !c.IsAssumed("p") {
		t.Fatal("the pod should be assumed")
	}
	c.AddPod(p) // the watch shows the binding
	if c.IsAssumed("p") || cpuOn(c, s, "a") != 1000 {
		t.Fatal("the watch should confirm the pod without counting it twice")
	}
	if expired := c.Expire(time.Now().Add(time.Hour)); len(expired) != 0 {
		t.Fatalf("a confirmed pod never expires, got %d expired", len(expired))
	}
}

func TestAConfirmationOnAnotherNodeMovesThePod(t *testing.T) {
	c := New(time.Minute)
	c.SetNode(node("a", "z"))
	c.SetNode(node("b", "z"))
	s := &nodeinfo.Snapshot{}
	assume(t, c, pod("p", "a", "1"))
	c.AddPod(pod("p", "b", "1"))
	if cpuOn(c, s, "a") != 0 || cpuOn(c, s, "b") != 1000 {
		t.Fatal("the pod should count where the API server says it is bound")
	}
}

func TestForgetAndExpire(t *testing.T) {
	c := New(30 * time.Second)
	c.SetNode(node("a", "z"))
	s := &nodeinfo.Snapshot{}
	assume(t, c, pod("failed", "a", "1"))
	assume(t, c, pod("slow", "a", "2"))
	c.ForgetPod("failed")
	if got := cpuOn(c, s, "a"); got != 2000 {
		t.Fatalf("after forgetting a failed binding: %dm, want 2000m", got)
	}
	now := time.Now()
	if expired := c.Expire(now.Add(time.Hour)); len(expired) != 0 {
		t.Fatal("an assumed pod whose binding has not finished must not expire")
	}
	c.FinishBinding("slow", now)
	if expired := c.Expire(now.Add(29 * time.Second)); len(expired) != 0 {
		t.Fatal("expired before the TTL")
	}
	if expired := c.Expire(now.Add(31 * time.Second)); len(expired) != 1 || expired[0].Name != "slow" {
		t.Fatalf("got %v expired, want slow", expired)
	}
	if got := cpuOn(c, s, "a"); got != 0 {
		t.Fatalf("after expiry: %dm, want 0", got)
	}
}

func TestAssumingTwiceFails(t *testing.T) {
	c := New(0)
	c.SetNode(node("a", "z"))
	assume(t, c, pod("p", "a", "1"))
	info, _ := nodeinfo.NewPodInfo(pod("p", "a", "1"))
	if err := c.AssumePod(info); err == nil {
		t.Fatal("a pod already counted must not be assumed again")
	}
	info, _ = nodeinfo.NewPodInfo(pod("q", "", "1"))
	if err := c.AssumePod(info); err == nil {
		t.Fatal("a pod without a node cannot be assumed")
	}
}

func TestPodsOnUnknownNodesWaitForTheNode(t *testing.T) {
	c := New(0)
	s := &nodeinfo.Snapshot{}
	c.AddPod(pod("early", "late", "1"))
	c.UpdateSnapshot(s)
	if len(s.Nodes) != 0 {
		t.Fatal("a node known only from its pods is not a candidate")
	}
	c.SetNode(node("late", "z"))
	if got := cpuOn(c, s, "late"); got != 1000 {
		t.Fatalf("the node's pods count once it appears: %dm", got)
	}
	c.RemoveNode("late")
	c.UpdateSnapshot(s)
	if len(s.Nodes) != 0 || c.NodeCount() != 0 {
		t.Fatal("a removed node is no longer a candidate")
	}
	c.RemovePod("early")
	if len(c.nodes) != 0 {
		t.Fatal("the placeholder of a removed node goes with its last pod")
	}
}

func TestSnapshotsCopyOnlyWhatChanged(t *testing.T) {
	c := New(0)
	c.SetNode(node("a", "z1"))
	c.SetNode(node("b", "z2"))
	s := &nodeinfo.Snapshot{}
	c.UpdateSnapshot(s)
	a, b := s.Get("a"), s.Get("b")
	c.AddPod(pod("p", "a", "1"))
	c.UpdateSnapshot(s)
	if s.Get("b") != b {
		t.Fatal("an unchanged node should be shared with the previous snapshot")
	}
	if s.Get("a") == a || a.Requested.MilliCPU != 0 || s.Get("a").Requested.MilliCPU != 1000 {
		t.Fatal("a changed node should be a new copy, and the old copy unchanged")
	}
	c.SetNode(node("c", "z1"))
	c.UpdateSnapshot(s)
	if len(s.Nodes) != 3 || s.Get("b") != b {
		t.Fatal("adding a node keeps the copies of unchanged nodes")
	}
}

func TestSnapshotTracksNodesWithAffinityPods(t *testing.T) {
	c := New(0)
	c.SetNode(node("a", "z"))
	c.SetNode(node("b", "z"))
	s := &nodeinfo.Snapshot{}
	c.UpdateSnapshot(s)
	p := pod("anti", "b", "1")
	p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{}},
	}}}
	c.AddPod(p)
	c.UpdateSnapshot(s)
	if len(s.WithRequiredAntiAffinity) != 1 || s.WithRequiredAntiAffinity[0].Node.Name != "b" || len(s.WithAffinity) != 1 {
		t.Fatalf("nodes with anti-affinity pods: %d", len(s.WithRequiredAntiAffinity))
	}
	c.RemovePod("anti")
	c.UpdateSnapshot(s)
	if len(s.WithRequiredAntiAffinity) != 0 || len(s.WithAffinity) != 0 {
		t.Fatal("the lists should follow the pod's removal")
	}
}

func TestNamespaceLabels(t *testing.T) {
	c := New(0)
	s := &nodeinfo.Snapshot{}
	c.SetNamespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "prod", Labels: map[string]string{"env": "prod"}}})
	c.UpdateSnapshot(s)
	if s.NamespaceLabelsOf("prod")["env"] != "prod" {
		t.Fatal("namespace labels should reach the snapshot")
	}
	c.RemoveNamespace("prod")
	c.UpdateSnapshot(s)
	if s.NamespaceLabelsOf("prod") != nil {
		t.Fatal("a removed namespace has no labels")
	}
}
