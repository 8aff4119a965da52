package namespace

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestTargets(t *testing.T) {
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Verbs: []string{"create", "delete", "deletecollection", "get", "list"}},
			{Name: "pods/status", Namespaced: true, Verbs: []string{"get", "patch", "update"}},
			{Name: "nodes", Namespaced: false, Verbs: []string{"delete", "deletecollection", "list"}},
			{Name: "bindings", Namespaced: true, Verbs: []string{"create"}},
		}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "roles", Namespaced: true, Verbs: []string{"get", "list", "watch"}},
		}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", Namespaced: true, Verbs: []string{"delete", "list"}},
		}},
		{GroupVersion: "a/b/c", APIResources: []metav1.APIResource{
			{Name: "broken", Namespaced: true, Verbs: []string{"delete", "list"}},
		}},
	}
	got, errs := targets(lists)
	want := []target{
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, collection: true},
		{gvr: schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}, collection: false},
	}
	if len(got) != len(want) {
		t.Fatalf("targets = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("target %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(errs) != 1 {
		t.Errorf("an unparsable group version must be reported once, got %v", errs)
	}
}

func TestConditions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	all := func(conds []corev1.NamespaceCondition) map[corev1.NamespaceConditionType]corev1.NamespaceCondition {
		m := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
		for _, c := range conds {
			m[c.Type] = c
		}
		return m
	}
	clean := progress{}
	remaining := progress{
		remaining:  map[string]int{"pods": 2, "widgets.example.com": 1},
		finalizers: map[string]int{"example.com/hold": 1},
	}
	failing := progress{discovery: "group x failed", deleteErrors: []string{"deleting b: boom", "deleting a: boom"}}

	t.Run("first pass sets every condition", func(t *testing.T) {
		conds, changed := conditions(nil, clean, t0)
		if !changed || len(conds) != len(conditionTypes) {
			t.Fatalf("conditions = %v (changed %v), want all %d", conds, changed, len(conditionTypes))
		}
		for _, c := range conds {
			if c.Status != corev1.ConditionFalse || c.Reason != fine[c.Type][0] || !c.LastTransitionTime.Time.Equal(t0) {
				t.Errorf("clean condition %+v", c)
			}
		}
	})
	t.Run("remaining content and finalizers are named", func(t *testing.T) {
		start, _ := conditions(nil, clean, t0)
		conds, changed := conditions(start, remaining, t1)
		m := all(conds)
		if !changed {
			t.Fatal("no change reported")
		}
		left := m[corev1.NamespaceContentRemaining]
		if left.Status != corev1.ConditionTrue || left.Reason != "SomeResourcesRemain" ||
			left.Message != "Some resources are remaining: pods has 2 resource instances, widgets.example.com has 1 resource instances" ||
			!left.LastTransitionTime.Time.Equal(t1) {
			t.Errorf("ContentRemaining = %+v", left)
		}
		fin := m[corev1.NamespaceFinalizersRemaining]
		if fin.Status != corev1.ConditionTrue || fin.Message != "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances" {
			t.Errorf("FinalizersRemaining = %+v", fin)
		}
		if ok := m[corev1.NamespaceDeletionDiscoveryFailure]; ok.Status != corev1.ConditionFalse || !ok.LastTransitionTime.Time.Equal(t0) {
			t.Errorf("an unchanged condition keeps its transition time: %+v", ok)
		}
	})
	t.Run("failures are sorted into one message", func(t *testing.T) {
		conds, _ := conditions(nil, failing, t0)
		m := all(conds)
		if c := m[corev1.NamespaceDeletionContentFailure]; c.Status != corev1.ConditionTrue ||
			c.Message != "Failed to delete all resource types, 2 remaining: deleting a: boom, deleting b: boom" {
			t.Errorf("ContentFailure = %+v", c)
		}
		if c := m[corev1.NamespaceDeletionDiscoveryFailure]; c.Status != corev1.ConditionTrue || c.Reason != "DiscoveryFailed" {
			t.Errorf("DiscoveryFailure = %+v", c)
		}
	})
	t.Run("the same progress again changes nothing", func(t *testing.T) {
		first, _ := conditions(nil, remaining, t0)
		again, changed := conditions(first, remaining, t1)
		if changed {
			t.Errorf("repeating a pass reported a change: %v", again)
		}
	})
	t.Run("other condition types are kept", func(t *testing.T) {
		other := corev1.NamespaceCondition{Type: "Example", Status: corev1.ConditionTrue}
		conds, _ := conditions([]corev1.NamespaceCondition{other}, clean, t0)
		if all(conds)["Example"] != other {
			t.Errorf("foreign condition lost: %v", conds)
		}
	})
}

func TestProgressDone(t *testing.T) {
	tests := []struct {
		name string
		p    progress
		want bool
	}{
		{"empty", progress{remaining: map[string]int{}, finalizers: map[string]int{}}, true},
		{"content left", progress{remaining: map[string]int{"pods": 1}}, false},
		{"deletion failed", progress{deleteErrors: []string{"x"}}, false},
		{"discovery failed", progress{discovery: "x"}, false},
		{"group version unparsable", progress{parsing: "x"}, false},
	}
	for _, tt := range tests {
		if got := tt.p.done(); got != tt.want {
			t.Errorf("%s: done = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestFinalizedAndOurs(t *testing.T) {
	now := metav1.Now()
	ns := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "team", DeletionTimestamp: &now},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/other", corev1.FinalizerKubernetes}},
	}
	if !ours(ns) {
		t.Error("a deleted namespace with the kubernetes finalizer is ours")
	}
	out := finalized(ns)
	if len(out.Spec.Finalizers) != 1 || out.Spec.Finalizers[0] != "example.com/other" {
		t.Errorf("finalized keeps other finalizers only, got %v", out.Spec.Finalizers)
	}
	if len(ns.Spec.Finalizers) != 2 {
		t.Errorf("finalized changed its input: %v", ns.Spec.Finalizers)
	}
	if ours(out) {
		t.Error("a finalized namespace is no longer ours")
	}
	active := &corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}
	if ours(active) {
		t.Error("an active namespace is not ours")
	}
}

func TestResourceName(t *testing.T) {
	if got := resourceName(schema.GroupVersionResource{Version: "v1", Resource: "pods"}); got != "pods" {
		t.Errorf("core resource named %q", got)
	}
	if got := resourceName(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}); got != "deployments.apps" {
		t.Errorf("apps resource named %q", got)
	}
}
