package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validNamespace() *corev1.Namespace {
	return defaulted(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", ResourceVersion: "5"}})
}

func TestNamespace(t *testing.T) {
	runCases(t, validNamespace, func(ns *corev1.Namespace) field.ErrorList { return Validate(ns) }, []errCase[*corev1.Namespace]{
		{"dotted name", func(ns *corev1.Namespace) { ns.Name = "shop.eu" }, "metadata.name", invalid, ""},
		{"uppercase name", func(ns *corev1.Namespace) { ns.Name = "Shop" }, "metadata.name", invalid, "RFC 1123 label"},
		{"long name", func(ns *corev1.Namespace) {
			ns.Name = "n234567890123456789012345678901234567890123456789012345678901234"
		}, "metadata.name", invalid, "must be no more than 63 characters"},
		{"namespace on a namespace", func(ns *corev1.Namespace) { ns.Namespace = "default" }, "metadata.namespace", forbidden, "not allowed on this type"},
		{"unqualified finalizer", func(ns *corev1.Namespace) { ns.Spec.Finalizers = append(ns.Spec.Finalizers, "cleanup") },
			"spec.finalizers[1]", invalid, "name is neither a standard finalizer name nor is it fully qualified"},
	})
	ns := validNamespace()
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, "example.com/cleanup")
	expectValid(t, Validate(ns))
}

func TestNamespaceStatusUpdate(t *testing.T) {
	old := validNamespace()
	ns := old.DeepCopy()
	ns.Status.Phase = corev1.NamespaceTerminating
	expectError(t, ValidateStatusUpdate(ns, old), "status.phase", invalid, "may only be 'Active' if `deletionTimestamp` is empty")
	now := metav1.Now()
	old.DeletionTimestamp = &now
	ns.DeletionTimestamp = &now
	expectValid(t, ValidateStatusUpdate(ns, old))
	ns.Status.Phase = corev1.NamespaceActive
	expectError(t, ValidateStatusUpdate(ns, old), "status.phase", invalid, "may only be 'Terminating'")
}

func validNode() *corev1.Node {
	return defaulted(&corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1.example.com", ResourceVersion: "11", Labels: map[string]string{"kubernetes.io/hostname": "node-1"}},
		Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24", ProviderID: "berth://node-1",
			Taints: []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{
			Capacity:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("24Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeHostName, Address: "node-1"}},
		},
	})
}

func TestNode(t *testing.T) {
	runCases(t, validNode, func(n *corev1.Node) field.ErrorList { return Validate(n) }, []errCase[*corev1.Node]{
		{"name", func(n *corev1.Node) { n.Name = "Node_1" }, "metadata.name", invalid, ""},
		{"namespace", func(n *corev1.Node) { n.Namespace = "default" }, "metadata.namespace", forbidden, ""},
		{"pod CIDR", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/33"}; n.Spec.PodCIDR = n.Spec.PodCIDRs[0] }, "spec.podCIDRs[0]", invalid, ""},
		{"two IPv4 pod CIDRs", func(n *corev1.Node) { n.Spec.PodCIDRs = append(n.Spec.PodCIDRs, "10.245.1.0/24") }, "spec.podCIDRs", invalid,
			"may specify no more than one CIDR for each IP family"},
		{"pod CIDR out of step", func(n *corev1.Node) { n.Spec.PodCIDR = "10.9.0.0/24" }, "spec.podCIDR", invalid, "must match `podCIDRs[0]`"},
		{"taint effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "NoRun" }, "spec.taints[0].effect", notSupported, ""},
		{"taint without effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "" }, "spec.taints[0].effect", required, ""},
		{"taint key", func(n *corev1.Node) { n.Spec.Taints[0].Key = "" }, "spec.taints[0].key", invalid, ""},
		{"duplicate taint", func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, n.Spec.Taints[0]) }, "spec.taints[1]", duplicate,
			"taints must be unique by key and effect pair"},
		{"negative capacity", func(n *corev1.Node) { n.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("-2") }, "status.capacity[cpu]", invalid, ""},
	})
}

func TestNodeUpdate(t *testing.T) {
	old := validNode()
	runCases(t, func() *corev1.Node { return old.DeepCopy() }, func(n *corev1.Node) field.ErrorList { return ValidateUpdate(n, old) }, []errCase[*corev1.Node]{
		{"pod CIDR changed", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.2.0/24"} }, "spec.podCIDRs", forbidden,
			`node updates may not change podCIDR except from "" to valid`},
		{"provider changed", func(n *corev1.Node) { n.Spec.ProviderID = "other://x" }, "spec.providerID", forbidden, ""},
		{"duplicate address", func(n *corev1.Node) { n.Status.Addresses = append(n.Status.Addresses, n.Status.Addresses[0]) }, "status.addresses[2]", duplicate, ""},
	})
	fresh := old.DeepCopy()
	fresh.Spec.PodCIDR, fresh.Spec.PodCIDRs = "", nil
	assigned := fresh.DeepCopy()
	assigned.Spec.PodCIDRs = []string{"10.244.7.0/24"}
	expectValid(t, ValidateUpdate(assigned, fresh))
	cordoned := old.DeepCopy()
	cordoned.Spec.Unschedulable = true
	cordoned.Spec.Taints = append(cordoned.Spec.Taints, corev1.Taint{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule})
	expectValid(t, ValidateStatusUpdate(cordoned, old))
}

func TestServiceAccount(t *testing.T) {
	base := func() *corev1.ServiceAccount {
		return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", ResourceVersion: "2"},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}}
	}
	runCases(t, base, func(sa *corev1.ServiceAccount) field.ErrorList { return Validate(sa) }, []errCase[*corev1.ServiceAccount]{
		{"name", func(sa *corev1.ServiceAccount) { sa.Name = "web_sa" }, "metadata.name", invalid, ""},
		{"namespace", func(sa *corev1.ServiceAccount) { sa.Namespace = "" }, "metadata.namespace", required, ""},
	})
	old := base()
	renamed := old.DeepCopy()
	renamed.Name = "api"
	expectError(t, ValidateUpdate(renamed, old), "metadata.name", invalid, "field is immutable")
}
