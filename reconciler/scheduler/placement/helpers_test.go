package placement

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

// makeNode is a Ready node with 4 cpus, 8Gi of memory, 100Gi of ephemeral
// storage, room for 110 pods, and its hostname label.
func makeNode(name string, opts ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("4"),
			corev1.ResourceMemory:           resource.MustParse("8Gi"),
			corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
			corev1.ResourcePods:             resource.MustParse("110"),
		}},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func nodeLabels(kv ...string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		for i := 0; i < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func zone(z string) func(*corev1.Node) { return nodeLabels(corev1.LabelTopologyZone, z) }

func taints(ts ...corev1.Taint) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, ts...) }
}

func allocatable(name corev1.ResourceName, q string) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Status.Allocatable[name] = resource.MustParse(q) }
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

// makePod is a pod in namespace "default" with one container and no requests.
func makePod(name string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), Labels: map[string]string{}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func on(node string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

func inNamespace(ns string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Namespace = ns } }

func podLabels(kv ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		for i := 0; i < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

// requests sets the first container's requests from name, quantity pairs.
func requests(kv ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		list := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			list[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		p.Spec.Containers[0].Resources.Requests = list
	}
}

func tolerations(ts ...corev1.Toleration) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Tolerations = append(p.Spec.Tolerations, ts...) }
}

func hostPort(port int32, protocol corev1.Protocol, ip string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		c := &p.Spec.Containers[0]
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: 80, HostPort: port, Protocol: protocol, HostIP: ip})
	}
}

func affinity(a *corev1.Affinity) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Affinity = a }
}

func spread(cs ...corev1.TopologySpreadConstraint) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, cs...)
	}
}

func selector(kv ...string) *metav1.LabelSelector {
	s := &metav1.LabelSelector{MatchLabels: map[string]string{}}
	for i := 0; i < len(kv); i += 2 {
		s.MatchLabels[kv[i]] = kv[i+1]
	}
	return s
}

func podTerm(key string, sel *metav1.LabelSelector) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: sel}
}

// newSnapshot builds a snapshot of nodes, with each pod counted on the
// node in its spec.nodeName.
func newSnapshot(t *testing.T, nodes []*corev1.Node, pods []*corev1.Pod, namespaces map[string]labels.Set) *nodeinfo.Snapshot {
	t.Helper()
	infos := map[string]*nodeinfo.NodeInfo{}
	var list []*nodeinfo.NodeInfo
	for _, n := range nodes {
		infos[n.Name] = nodeinfo.New(n)
		list = append(list, infos[n.Name])
	}
	for _, p := range pods {
		info, err := nodeinfo.NewPodInfo(p)
		if err != nil {
			t.Fatal(err)
		}
		n, ok := infos[p.Spec.NodeName]
		if !ok {
			t.Fatalf("pod %s is on unknown node %q", p.Name, p.Spec.NodeName)
		}
		n.AddPod(info)
	}
	return nodeinfo.NewSnapshot(list, namespaces)
}

func newTestCycle(t *testing.T, pod *corev1.Pod, snap *nodeinfo.Snapshot) *cycle {
	t.Helper()
	info, err := nodeinfo.NewPodInfo(pod)
	if err != nil {
		t.Fatal(err)
	}
	c, err := newCycle(info, snap, 2)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
