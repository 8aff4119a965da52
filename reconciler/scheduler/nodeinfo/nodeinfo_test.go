package nodeinfo

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func container(name string, requests ...string) corev1.Container {
	list := corev1.ResourceList{}
	for i := 0; i < len(requests); i += 2 {
		list[corev1.ResourceName(requests[i])] = resource.MustParse(requests[i+1])
	}
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: list}}
}

func TestPodRequests(t *testing.T) {
	always := ptr.To(corev1.ContainerRestartPolicyAlways)
	for _, tc := range []struct {
		name          string
		spec          corev1.PodSpec
		want, nonZero Resource
	}{
		{
			name:    "containers add up",
			spec:    corev1.PodSpec{Containers: []corev1.Container{container("a", "cpu", "100m", "memory", "1Gi"), container("b", "cpu", "250m", "example.com/gpu", "1")}},
			want:    Resource{MilliCPU: 350, Memory: 1 << 30, Scalar: map[corev1.ResourceName]int64{"example.com/gpu": 1}},
			nonZero: Resource{MilliCPU: 350, Memory: 1<<30 + DefaultMemoryRequest},
		},
		{
			name: "the largest init container wins over a smaller sum",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{container("init", "cpu", "2")},
				Containers:     []corev1.Container{container("a", "cpu", "500m")},
			},
			want:    Resource{MilliCPU: 2000},
			nonZero: Resource{MilliCPU: 2000, Memory: DefaultMemoryRequest},
		},
		{
			name: "sidecars run with the containers and add to them",
			spec: corev1.PodSpec{
				InitContainers: []corev1.Container{func() corev1.Container { c := container("proxy", "cpu", "200m"); c.RestartPolicy = always; return c }()},
				Containers:     []corev1.Container{container("a", "cpu", "500m")},
			},
			want:    Resource{MilliCPU: 700},
			nonZero: Resource{MilliCPU: 700, Memory: 2 * DefaultMemoryRequest},
		},
		{
			name:    "overhead is added",
			spec:    corev1.PodSpec{Containers: []corev1.Container{container("a", "memory", "1Gi")}, Overhead: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}},
			want:    Resource{Memory: 1<<30 + 128<<20},
			nonZero: Resource{MilliCPU: DefaultMilliCPURequest, Memory: 1<<30 + 128<<20},
		},
		{
			name:    "best effort: nothing, or the defaults for scoring",
			spec:    corev1.PodSpec{Containers: []corev1.Container{container("a")}},
			want:    Resource{},
			nonZero: Resource{MilliCPU: DefaultMilliCPURequest, Memory: DefaultMemoryRequest},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{Spec: tc.spec}
			if got := PodRequests(pod); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("PodRequests = %+v, want %+v", got, tc.want)
			}
			if got := PodNonZeroRequests(pod); fmt.Sprint(got) != fmt.Sprint(tc.nonZero) {
				t.Errorf("PodNonZeroRequests = %+v, want %+v", got, tc.nonZero)
			}
		})
	}
}

func TestNewResourceIgnoresWhatTheSchedulerDoesNotCount(t *testing.T) {
	r := NewResource(corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourcePods: resource.MustParse("110"),
		corev1.ResourceStorage: resource.MustParse("1Ti"), "hugepages-2Mi": resource.MustParse("4Mi"),
	})
	want := Resource{MilliCPU: 1500, Pods: 110, Scalar: map[corev1.ResourceName]int64{"hugepages-2Mi": 4 << 20}}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Fatalf("got %+v, want %+v", r, want)
	}
}

func portPod(uid string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: uid, UID: types.UID(uid)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: ports}}},
	}
}

func TestAddAndRemovePods(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}}}
	n := New(node)
	web := portPod("web", corev1.ContainerPort{HostPort: 80})
	web.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	anti := portPod("anti")
	anti.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{}},
	}}}
	for _, p := range []*corev1.Pod{web, anti} {
		info, err := NewPodInfo(p)
		if err != nil {
			t.Fatal(err)
		}
		n.AddPod(info)
	}
	clone := n.Clone()
	if n.Requested.MilliCPU != 1000 || n.Requested.Pods != 2 || len(n.PodsWithAffinity) != 1 || len(n.PodsWithRequiredAntiAffinity) != 1 {
		t.Fatalf("after adding: requested %+v, %d with affinity, %d with required anti-affinity", n.Requested, len(n.PodsWithAffinity), len(n.PodsWithRequiredAntiAffinity))
	}
	if !n.UsedPorts.Conflicts(HostPort{IP: "10.0.0.1", Protocol: corev1.ProtocolTCP, Port: 80}) {
		t.Fatal("host port 80 should be taken on every IP")
	}
	if !n.RemovePod("web") || !n.RemovePod("anti") || n.RemovePod("anti") {
		t.Fatal("each pod should be removed exactly once")
	}
	if n.Requested.MilliCPU != 0 || n.Requested.Pods != 0 || len(n.Pods) != 0 || len(n.PodsWithAffinity) != 0 || len(n.UsedPorts) != 0 {
		t.Fatalf("after removing: %+v", n)
	}
	if len(clone.Pods) != 2 || clone.Requested.MilliCPU != 1000 || !clone.UsedPorts.Conflicts(HostPort{IP: anyIP, Protocol: corev1.ProtocolTCP, Port: 80}) {
		t.Fatalf("a clone must not change with the original: %+v", clone)
	}
}

func TestAffinityTermsDefaultToThePodsNamespace(t *testing.T) {
	pod := portPod("p")
	pod.Namespace = "shop"
	pod.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		{TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, NamespaceSelector: &metav1.LabelSelector{}},
		{TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, Namespaces: []string{"data"}},
	}}}
	info, err := NewPodInfo(pod)
	if err != nil {
		t.Fatal(err)
	}
	db := func(ns string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Labels: map[string]string{"app": "db"}}}
	}
	for i, want := range []map[string]bool{
		{"shop": true, "data": false},
		{"shop": true, "data": true},
		{"shop": false, "data": true},
	} {
		for ns, match := range want {
			if got := info.RequiredAffinity[i].Matches(db(ns), labels.Set{}); got != match {
				t.Errorf("term %d, pod in %s: match %v, want %v", i, ns, got, match)
			}
		}
	}
}

func TestNewPodInfoNamesABadTerm(t *testing.T) {
	pod := portPod("p")
	pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
		{TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}},
	}}}
	_, err := NewPodInfo(pod)
	if err == nil || !strings.Contains(err.Error(), "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]") {
		t.Fatalf("got %v, want an error naming the term", err)
	}
}

func TestSnapshotInterleavesZones(t *testing.T) {
	var infos []*NodeInfo
	for _, spec := range []struct{ name, zone string }{{"a1", "a"}, {"a2", "a"}, {"a3", "a"}, {"b1", "b"}, {"c1", "c"}, {"c2", "c"}} {
		infos = append(infos, New(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: spec.name, Labels: map[string]string{corev1.LabelTopologyZone: spec.zone}}}))
	}
	infos = append(infos, New(nil))
	s := NewSnapshot(infos, nil)
	var got []string
	for _, n := range s.Nodes {
		got = append(got, n.Node.Name)
	}
	if fmt.Sprint(got) != "[a1 b1 c1 a2 c2 a3]" {
		t.Fatalf("order %v, want zones in turn and no placeholder", got)
	}
	if s.Get("c2") != s.Nodes[4] || s.Get("x") != nil {
		t.Fatal("Get should find nodes by name")
	}
}
