package server

import (
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/store/apiserver"
	"github.com/berth-io/berth/store/authn"
	"github.com/berth-io/berth/store/registry"
)

func TestNodeOf(t *testing.T) {
	for _, tc := range []struct {
		user   string
		groups []string
		node   string
		isNode bool
	}{
		{"system:node:a", []string{NodesGroup}, "a", true},
		{"system:node:a", nil, "", false}, // the name alone is not a node
		{"kubelet", []string{NodesGroup, "system:authenticated"}, "", true},
		{"berth:hollow", []string{HollowNodesGroup}, "", false},
		{"admin", []string{"system:masters"}, "", false},
	} {
		node, isNode := nodeOf(tc.user, tc.groups)
		if node != tc.node || isNode != tc.isNode {
			t.Errorf("nodeOf(%q, %v) = %q, %v; want %q, %v", tc.user, tc.groups, node, isNode, tc.node, tc.isNode)
		}
	}
}

func TestNodeDenial(t *testing.T) {
	res := func(verb, group, resource, sub, ns, name string) policies.Attributes {
		return policies.Attributes{User: "system:node:a", Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Namespace: ns, Name: name, ResourceRequest: true}
	}
	for _, tc := range []struct {
		name   string
		attrs  policies.Attributes
		denied bool
	}{
		{"patch own node", res("patch", "", "nodes", "", "", "a"), false},
		{"patch other node", res("patch", "", "nodes", "", "", "b"), true},
		{"update other node's status", res("update", "", "nodes", "status", "", "b"), true},
		{"delete other node", res("delete", "", "nodes", "", "", "b"), true},
		{"read other node", res("get", "", "nodes", "", "", "b"), false},
		{"create a node (admission checks the name)", res("create", "", "nodes", "", "", ""), false},
		{"renew own lease", res("update", coordinationv1.GroupName, "leases", "", corev1.NamespaceNodeLease, "a"), false},
		{"renew other lease", res("update", coordinationv1.GroupName, "leases", "", corev1.NamespaceNodeLease, "b"), true},
		{"read other lease", res("get", coordinationv1.GroupName, "leases", "", corev1.NamespaceNodeLease, "b"), false},
		{"lease elsewhere is RBAC's business", res("update", coordinationv1.GroupName, "leases", "", "kube-system", "b"), false},
		{"pod status (admission checks the binding)", res("patch", "", "pods", "status", "apps", "web"), false},
		{"non-resource", policies.Attributes{User: "system:node:a", Verb: "get", Path: "/healthz"}, false},
	} {
		if got := nodeDenial("a", tc.attrs) != ""; got != tc.denied {
			t.Errorf("%s: denied %v, want %v", tc.name, got, tc.denied)
		}
	}
	if reason := nodeDenial("", res("get", "", "pods", "", "", "")); !strings.Contains(reason, "not named system:node:") {
		t.Errorf("a nameless node: %q, want a denial saying credentials must name the node", reason)
	}
}

func TestNodeWriteDenial(t *testing.T) {
	kind := func(k string, namespaced bool) *registry.Kind {
		return &registry.Kind{GVK: corev1.SchemeGroupVersion.WithKind(k), Namespaced: namespaced}
	}
	nodeKind, podKind := kind("Node", false), kind("Pod", true)
	leaseKind := &registry.Kind{GVK: coordinationv1.SchemeGroupVersion.WithKind("Lease"), Namespaced: true}
	pod := func(node string) runtime.Object { return &corev1.Pod{Spec: corev1.PodSpec{NodeName: node}} }
	req := func(op apiserver.Operation, k *registry.Kind, sub, ns, name string, old runtime.Object) *apiserver.AdmissionRequest {
		return &apiserver.AdmissionRequest{Operation: op, Kind: k, Subresource: sub, Namespace: ns, Name: name, Old: old, User: &authn.User{Name: "system:node:a"}}
	}
	for _, tc := range []struct {
		name   string
		req    *apiserver.AdmissionRequest
		denied bool
	}{
		{"create own node", req(apiserver.Create, nodeKind, "", "", "a", nil), false},
		{"create other node", req(apiserver.Create, nodeKind, "", "", "b", nil), true},
		{"create own lease", req(apiserver.Create, leaseKind, "", corev1.NamespaceNodeLease, "a", nil), false},
		{"create other lease", req(apiserver.Create, leaseKind, "", corev1.NamespaceNodeLease, "b", nil), true},
		{"status of own pod", req(apiserver.Update, podKind, "status", "apps", "web", pod("a")), false},
		{"status of other pod", req(apiserver.Update, podKind, "status", "apps", "web", pod("b")), true},
		{"status of unbound pod", req(apiserver.Update, podKind, "status", "apps", "web", pod("")), true},
		{"delete own pod", req(apiserver.Delete, podKind, "", "apps", "web", pod("a")), false},
		{"evict other pod", req(apiserver.Delete, podKind, "eviction", "apps", "web", pod("b")), true},
		{"create a pod", req(apiserver.Create, podKind, "", "apps", "mirror", nil), true},
		{"other kinds pass", req(apiserver.Create, kind("Event", true), "", "apps", "e", nil), false},
	} {
		if got := nodeWriteDenial("a", tc.req) != ""; got != tc.denied {
			t.Errorf("%s: denied %v, want %v", tc.name, got, tc.denied)
		}
	}
}

func TestOwnNodeDenial(t *testing.T) {
	stored := &corev1.Node{}
	stored.Name = "a"
	stored.Labels = map[string]string{"node-role.kubernetes.io/worker": "", "zone": "x"}
	stored.Spec = corev1.NodeSpec{PodCIDR: "10.244.1.0/24", PodCIDRs: []string{"10.244.1.0/24"}, Taints: []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}}
	with := func(change func(*corev1.Node)) *corev1.Node { n := stored.DeepCopy(); change(n); return n }
	for _, tc := range []struct {
		name   string
		next   *corev1.Node
		old    *corev1.Node
		denied bool
	}{
		{"unchanged", stored.DeepCopy(), stored, false},
		{"own label", with(func(n *corev1.Node) { n.Labels["zone"] = "y" }), stored, false},
		{"keeps an admin's role label", with(func(n *corev1.Node) { n.Labels["team"] = "a" }), stored, false},
		{"gives itself a role", with(func(n *corev1.Node) { n.Labels["node-role.kubernetes.io/control-plane"] = "" }), stored, true},
		{"restricted label", with(func(n *corev1.Node) { n.Labels["node-restriction.kubernetes.io/pci"] = "yes" }), stored, true},
		{"registers with a role", with(func(n *corev1.Node) {}), nil, true},
		{"registers with taints", with(func(n *corev1.Node) { n.Labels = nil }), nil, false},
		{"removes a taint", with(func(n *corev1.Node) { n.Spec.Taints = nil }), stored, true},
		{"changes its pod CIDR", with(func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.2.0/24"} }), stored, true},
		{"sets a provider ID", with(func(n *corev1.Node) { n.Spec.ProviderID = "x://1" }), stored, true},
	} {
		if got := ownNodeDenial(tc.next, tc.old) != ""; got != tc.denied {
			t.Errorf("%s: denied %v, want %v (%s)", tc.name, got, tc.denied, ownNodeDenial(tc.next, tc.old))
		}
	}
}
