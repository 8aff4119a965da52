package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

func podKind() *Kind {
	return &Kind{GVK: corev1.SchemeGroupVersion.WithKind("Pod"), Resource: "pods", Singular: "pod", Namespaced: true, HasStatus: true,
		Subresources: []string{"binding"}, New: func() runtime.Object { return &corev1.Pod{} }}
}

func TestKeysAndSubresources(t *testing.T) {
	k := podKind()
	if got := k.Key("ns", "web"); got != "/registry/core/pods/ns/web" {
		t.Errorf("namespaced key %q", got)
	}
	node := &Kind{GVK: corev1.SchemeGroupVersion.WithKind("Node"), Resource: "nodes"}
	if got := node.Key("ignored", "n1"); got != "/registry/core/nodes/n1" {
		t.Errorf("cluster-scoped key %q", got)
	}
	if !k.HasSubresource("status") || !k.HasSubresource("binding") || k.HasSubresource("scale") {
		t.Error("subresources of pods are status and binding only")
	}
	k.ReadOnly = true
	if v := k.Verbs(); len(v) != 3 {
		t.Errorf("read-only kinds serve get, list, watch; got %v", v)
	}
}

func TestAddRejectsUnknownDuplicateAndUnnamedKinds(t *testing.T) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	r := New(s)
	if err := r.Add(podKind()); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(podKind()); err == nil {
		t.Error("a kind registered twice must be refused")
	}
	unnamed := podKind()
	unnamed.Resource, unnamed.Singular = "pods2", ""
	if err := r.Add(unnamed); err == nil {
		t.Error("a kind without a singular name must be refused")
	}
	if err := New(runtime.NewScheme()).Add(podKind()); err == nil {
		t.Error("a kind missing from the scheme must be refused")
	}
}
