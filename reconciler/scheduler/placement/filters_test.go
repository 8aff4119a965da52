package placement

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// filterCase checks fn on every node of a snapshot: nodes named in
// rejected must fail with exactly those reasons, the others must fit.
type filterCase struct {
	name       string
	pod        *corev1.Pod
	nodes      []*corev1.Node
	pods       []*corev1.Pod
	namespaces map[string]labels.Set
	rejected   map[string][]string
}

func runFilterCases(t *testing.T, fn filterFunc, cases []filterCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := newSnapshot(t, tc.nodes, tc.pods, tc.namespaces)
			c := newTestCycle(t, tc.pod, snap)
			for _, n := range snap.Nodes {
				got, want := fn(c, n), tc.rejected[n.Node.Name]
				if !slices.Equal(got, want) {
					t.Errorf("node %s: got reasons %q, want %q", n.Node.Name, got, want)
				}
			}
		})
	}
}

func TestFilterUnschedulable(t *testing.T) {
	tolerate := func(effect corev1.TaintEffect) func(*corev1.Pod) {
		return tolerations(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: effect})
	}
	runFilterCases(t, filterUnschedulable, []filterCase{
		{
			name:     "a cordoned node is rejected, a schedulable one is not",
			pod:      makePod("p"),
			nodes:    []*corev1.Node{makeNode("up"), makeNode("cordoned", cordoned)},
			rejected: map[string][]string{"cordoned": {ReasonUnschedulable}},
		},
		{
			name:  "a pod that tolerates the unschedulable taint may go to a cordoned node",
			pod:   makePod("p", tolerate(corev1.TaintEffectNoSchedule)),
			nodes: []*corev1.Node{makeNode("cordoned", cordoned)},
		},
		{
			name:     "tolerating another effect is not enough",
			pod:      makePod("p", tolerate(corev1.TaintEffectNoExecute)),
			nodes:    []*corev1.Node{makeNode("cordoned", cordoned)},
			rejected: map[string][]string{"cordoned": {ReasonUnschedulable}},
		},
	})
}

func TestFilterNodeName(t *testing.T) {
	runFilterCases(t, filterNodeName, []filterCase{
		{
			name:  "a pod without nodeName fits every node",
			pod:   makePod("p"),
			nodes: []*corev1.Node{makeNode("a"), makeNode("b")},
		},
		{
			name:     "a pod with nodeName fits only that node",
			pod:      makePod("p", on("b")),
			nodes:    []*corev1.Node{makeNode("a"), makeNode("b")},
			rejected: map[string][]string{"a": {ReasonNodeName}},
		},
	})
}

func TestFilterTaints(t *testing.T) {
	noSchedule := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	noExecute := corev1.Taint{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute}
	prefer := corev1.Taint{Key: "spot", Value: "true", Effect: corev1.TaintEffectPreferNoSchedule}
	nodes := func() []*corev1.Node {
		return []*corev1.Node{makeNode("clean"), makeNode("db", taints(noSchedule)), makeNode("gone", taints(noExecute)), makeNode("spot", taints(prefer))}
	}
	runFilterCases(t, filterTaints, []filterCase{
		{
			name:     "NoSchedule and NoExecute taints reject, PreferNoSchedule does not",
			pod:      makePod("p"),
			nodes:    nodes(),
			rejected: map[string][]string{"db": {ReasonUntoleratedTaint}, "gone": {ReasonUntoleratedTaint}},
		},
		{
			name:     "an Equal toleration with the taint's value tolerates it",
			pod:      makePod("p", tolerations(corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "db", Effect: corev1.TaintEffectNoSchedule})),
			nodes:    nodes(),
			rejected: map[string][]string{"gone": {ReasonUntoleratedTaint}},
		},
		{
			name:     "an Equal toleration with another value does not",
			pod:      makePod("p", tolerations(corev1.Toleration{Key: "dedicated", Value: "web"})),
			nodes:    nodes(),
			rejected: map[string][]string{"db": {ReasonUntoleratedTaint}, "gone": {ReasonUntoleratedTaint}},
		},
		{
			name:  "Exists without a key tolerates everything",
			pod:   makePod("p", tolerations(corev1.Toleration{Operator: corev1.TolerationOpExists})),
			nodes: nodes(),
		},
	})
}

func TestFilterNodeAffinity(t *testing.T) {
	required := func(terms ...corev1.NodeSelectorTerm) func(*corev1.Pod) {
		return affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}})
	}
	expr := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
	}
	nodes := func() []*corev1.Node {
		return []*corev1.Node{makeNode("ssd", nodeLabels("disk", "ssd")), makeNode("hdd", nodeLabels("disk", "hdd")), makeNode("bare")}
	}
	runFilterCases(t, filterNodeAffinity, []filterCase{
		{
			name: "nodeSelector needs every label",
			pod: makePod("p", func(p *corev1.Pod) {
				p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
			}),
			nodes:    nodes(),
			rejected: map[string][]string{"hdd": {ReasonNodeAffinity}, "bare": {ReasonNodeAffinity}},
		},
		{
			name:     "required affinity NotIn",
			pod:      makePod("p", required(expr("disk", corev1.NodeSelectorOpNotIn, "hdd"))),
			nodes:    nodes(),
			rejected: map[string][]string{"hdd": {ReasonNodeAffinity}},
		},
		{
			name:     "required affinity terms are ORed",
			pod:      makePod("p", required(expr("disk", corev1.NodeSelectorOpIn, "ssd"), expr("disk", corev1.NodeSelectorOpDoesNotExist))),
			nodes:    nodes(),
			rejected: map[string][]string{"hdd": {ReasonNodeAffinity}},
		},
		{
			name: "matchFields on metadata.name",
			pod: makePod("p", required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"bare"}},
			}})),
			nodes:    nodes(),
			rejected: map[string][]string{"ssd": {ReasonNodeAffinity}, "hdd": {ReasonNodeAffinity}},
		},
		{
			name: "nodeSelector and affinity must both match",
			pod: makePod("p", required(expr("disk", corev1.NodeSelectorOpExists)), func(p *corev1.Pod) {
				p.Spec.NodeSelector = map[string]string{"disk": "hdd"}
			}),
			nodes:    nodes(),
			rejected: map[string][]string{"ssd": {ReasonNodeAffinity}, "bare": {ReasonNodeAffinity}},
		},
	})
}

func TestFilterPorts(t *testing.T) {
	nodes := func() []*corev1.Node { return []*corev1.Node{makeNode("a"), makeNode("b")} }
	runFilterCases(t, filterPorts, []filterCase{
		{
			name:     "the same TCP host port clashes",
			pod:      makePod("p", hostPort(8080, "", "")),
			nodes:    nodes(),
			pods:     []*corev1.Pod{makePod("web", on("a"), hostPort(8080, corev1.ProtocolTCP, ""))},
			rejected: map[string][]string{"a": {ReasonNodePorts}},
		},
		{
			name:  "another protocol does not",
			pod:   makePod("p", hostPort(53, corev1.ProtocolUDP, "")),
			nodes: nodes(),
			pods:  []*corev1.Pod{makePod("dns", on("a"), hostPort(53, corev1.ProtocolTCP, ""))},
		},
		{
			name:  "two specific IPs do not clash",
			pod:   makePod("p", hostPort(80, "", "10.0.0.2")),
			nodes: nodes(),
			pods:  []*corev1.Pod{makePod("web", on("a"), hostPort(80, "", "10.0.0.1"))},
		},
		{
			name:     "a specific IP clashes with 0.0.0.0 taken",
			pod:      makePod("p", hostPort(80, "", "10.0.0.2")),
			nodes:    nodes(),
			pods:     []*corev1.Pod{makePod("web", on("b"), hostPort(80, "", "0.0.0.0"))},
			rejected: map[string][]string{"b": {ReasonNodePorts}},
		},
		{
			name:     "0.0.0.0 clashes with a specific IP taken",
			pod:      makePod("p", hostPort(80, "", "")),
			nodes:    nodes(),
			pods:     []*corev1.Pod{makePod("web", on("a"), hostPort(80, "", "10.0.0.1"))},
			rejected: map[string][]string{"a": {ReasonNodePorts}},
		},
		{
			name:  "container ports without a host port take nothing",
			pod:   makePod("p", hostPort(0, "", "")),
			nodes: nodes(),
			pods:  []*corev1.Pod{makePod("web", on("a"), hostPort(0, "", ""))},
		},
	})
}

func TestFilterResources(t *testing.T) {
	initContainer := func(cpu string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: "init", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
			}})
		}
	}
	overhead := func(cpu string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
		}
	}
	busy := func(node, cpu, mem string) *corev1.Pod {
		return makePod("busy-"+node, on(node), requests("cpu", cpu, "memory", mem))
	}
	runFilterCases(t, filterResources, []filterCase{
		{
			name:     "cpu is counted against allocatable minus what is assigned",
			pod:      makePod("p", requests("cpu", "2")),
			nodes:    []*corev1.Node{makeNode("full"), makeNode("half")},
			pods:     []*corev1.Pod{busy("full", "3", "1Gi"), busy("half", "2", "1Gi")},
			rejected: map[string][]string{"full": {"Insufficient cpu"}},
		},
		{
			name:     "each missing resource is a reason",
			pod:      makePod("p", requests("cpu", "2", "memory", "4Gi")),
			nodes:    []*corev1.Node{makeNode("full")},
			pods:     []*corev1.Pod{busy("full", "3", "6Gi")},
			rejected: map[string][]string{"full": {"Insufficient cpu", "Insufficient memory"}},
		},
		{
			name:     "the pods allocatable caps the pod count",
			pod:      makePod("p"),
			nodes:    []*corev1.Node{makeNode("tiny", allocatable(corev1.ResourcePods, "1")), makeNode("roomy")},
			pods:     []*corev1.Pod{makePod("first", on("tiny")), makePod("other", on("roomy"))},
			rejected: map[string][]string{"tiny": {ReasonTooManyPods}},
		},
		{
			name:     "ephemeral storage",
			pod:      makePod("p", requests("ephemeral-storage", "150Gi")),
			nodes:    []*corev1.Node{makeNode("a"), makeNode("big", allocatable(corev1.ResourceEphemeralStorage, "1Ti"))},
			rejected: map[string][]string{"a": {"Insufficient ephemeral-storage"}},
		},
		{
			name:     "an extended resource the node lacks",
			pod:      makePod("p", requests("example.com/gpu", "1")),
			nodes:    []*corev1.Node{makeNode("plain"), makeNode("gpu", allocatable("example.com/gpu", "2"))},
			rejected: map[string][]string{"plain": {"Insufficient example.com/gpu"}},
		},
		{
			name:     "an init container asking more than the containers sets the request",
			pod:      makePod("p", requests("cpu", "1"), initContainer("3")),
			nodes:    []*corev1.Node{makeNode("a")},
			pods:     []*corev1.Pod{busy("a", "2", "1Gi")},
			rejected: map[string][]string{"a": {"Insufficient cpu"}},
		},
		{
			name:     "overhead is added to the request",
			pod:      makePod("p", requests("cpu", "1500m"), overhead("1")),
			nodes:    []*corev1.Node{makeNode("a")},
			pods:     []*corev1.Pod{busy("a", "2", "1Gi")},
			rejected: map[string][]string{"a": {"Insufficient cpu"}},
		},
		{
			name:  "a pod without requests fits a node whose cpu is all requested",
			pod:   makePod("p"),
			nodes: []*corev1.Node{makeNode("a")},
			pods:  []*corev1.Pod{busy("a", "4", "8Gi")},
		},
	})
}

func TestFilterSpread(t *testing.T) {
	hard := func(key string, maxSkew int32, mod ...func(*corev1.TopologySpreadConstraint)) func(*corev1.Pod) {
		c := corev1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: selector("app", "web")}
		for _, m := range mod {
			m(&c)
		}
		return spread(c)
	}
	web := func(name, node string) *corev1.Pod { return makePod(name, on(node), podLabels("app", "web")) }
	zones := func() []*corev1.Node {
		return []*corev1.Node{makeNode("a1", zone("a")), makeNode("a2", zone("a")), makeNode("b1", zone("b")), makeNode("nozone")}
	}
	runFilterCases(t, filterSpread, []filterCase{
		{
			name:  "a node in the fuller zone would raise the skew past maxSkew",
			pod:   makePod("p", podLabels("app", "web"), hard(corev1.LabelTopologyZone, 1)),
			nodes: zones(),
			pods:  []*corev1.Pod{web("w1", "a1"), web("w2", "a2"), web("w3", "b1")},
			rejected: map[string][]string{
				"a1": {ReasonSpreadConstraints}, "a2": {ReasonSpreadConstraints}, "nozone": {ReasonSpreadMissingLabel},
			},
		},
		{
			name:     "a larger maxSkew allows it",
			pod:      makePod("p", podLabels("app", "web"), hard(corev1.LabelTopologyZone, 2)),
			nodes:    zones(),
			pods:     []*corev1.Pod{web("w1", "a1"), web("w2", "a2"), web("w3", "b1")},
			rejected: map[string][]string{"nozone": {ReasonSpreadMissingLabel}},
		},
		{
			name:  "a pod that does not match its own selector does not count itself",
			pod:   makePod("p", podLabels("app", "db"), hard(corev1.LabelTopologyZone, 1)),
			nodes: zones(),
			pods:  []*corev1.Pod{web("w1", "a1"), web("w2", "a2"), web("w3", "b1")},
			rejected: map[string][]string{
				"nozone": {ReasonSpreadMissingLabel},
			},
		},
		{
			name:  "pods in other namespaces do not count",
			pod:   makePod("p", podLabels("app", "web"), hard(corev1.LabelTopologyZone, 1)),
			nodes: zones(),
			pods:  []*corev1.Pod{web("w1", "a1"), makePod("other", on("a2"), inNamespace("other"), podLabels("app", "web"))},
			rejected: map[string][]string{
				"a1": {ReasonSpreadConstraints}, "a2": {ReasonSpreadConstraints}, "nozone": {ReasonSpreadMissingLabel},
			},
		},
		{
			name:  "fewer domains than minDomains make the global minimum 0",
			pod:   makePod("p", podLabels("app", "web"), hard(corev1.LabelTopologyZone, 1, func(c *corev1.TopologySpreadConstraint) { c.MinDomains = ptr.To[int32](3) })),
			nodes: zones(),
			pods:  []*corev1.Pod{web("w1", "b1")},
			rejected: map[string][]string{
				"b1": {ReasonSpreadConstraints}, "nozone": {ReasonSpreadMissingLabel},
			},
		},
		{
			name: "nodes the pod's node affinity excludes are not domains (nodeAffinityPolicy Honor)",
			pod: makePod("p", podLabels("app", "web"), hard(corev1.LabelHostname, 1), func(p *corev1.Pod) {
				p.Spec.NodeSelector = map[string]string{corev1.LabelTopologyZone: "a"}
			}),
			nodes: zones(),
			pods:  []*corev1.Pod{web("w1", "a1")},
			// b1 and nozone hold no pods but do not count as empty domains:
			// the minimum is a2's 0, so a1 (1+1-0 > 1) is rejected.
			rejected: map[string][]string{"a1": {ReasonSpreadConstraints}},
		},
		{
			name: "with nodeAffinityPolicy Ignore every node is a domain",
			pod: makePod("p", podLabels("app", "web"), hard(corev1.LabelTopologyZone, 1, func(c *corev1.TopologySpreadConstraint) {
				c.NodeAffinityPolicy = ptr.To(corev1.NodeInclusionPolicyIgnore)
			}), func(p *corev1.Pod) {
				p.Spec.NodeSelector = map[string]string{corev1.LabelTopologyZone: "a"}
			}),
			nodes: zones(),
			pods:  []*corev1.Pod{web("w1", "a1")},
			// zone b (empty) is a domain, so zone a (1+1-0) is too full.
			rejected: map[string][]string{"a1": {ReasonSpreadConstraints}, "a2": {ReasonSpreadConstraints}, "nozone": {ReasonSpreadMissingLabel}},
		},
		{
			name: "matchLabelKeys narrows the selector to the pod's own value",
			pod: makePod("p", podLabels("app", "web", "rev", "2"), hard(corev1.LabelTopologyZone, 1, func(c *corev1.TopologySpreadConstraint) {
				c.MatchLabelKeys = []string{"rev"}
			})),
			nodes: zones(),
			// Old revision pods in zone a do not count: both zones hold 0.
			pods:     []*corev1.Pod{makePod("old1", on("a1"), podLabels("app", "web", "rev", "1")), makePod("old2", on("a2"), podLabels("app", "web", "rev", "1"))},
			rejected: map[string][]string{"nozone": {ReasonSpreadMissingLabel}},
		},
	})
}

func TestFilterInterPodAffinity(t *testing.T) {
	zones := func() []*corev1.Node {
		return []*corev1.Node{makeNode("a1", zone("a")), makeNode("a2", zone("a")), makeNode("b1", zone("b")), makeNode("nozone")}
	}
	requiredAffinity := func(terms ...corev1.PodAffinityTerm) func(*corev1.Pod) {
		return affinity(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}})
	}
	requiredAnti := func(terms ...corev1.PodAffinityTerm) func(*corev1.Pod) {
		return affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}})
	}
	db := makePod("db", on("a1"), podLabels("app", "db"))
	runFilterCases(t, filterInterPodAffinity, []filterCase{
		{
			name:  "affinity: only nodes in the zone of a matching pod",
			pod:   makePod("p", requiredAffinity(podTerm(corev1.LabelTopologyZone, selector("app", "db")))),
			nodes: zones(),
			pods:  []*corev1.Pod{db},
			rejected: map[string][]string{
				"b1": {ReasonAffinityRules}, "nozone": {ReasonAffinityRules},
			},
		},
		{
			name:  "affinity: the first pod of a self-attracting group may go anywhere with the key",
			pod:   makePod("p", podLabels("app", "cache"), requiredAffinity(podTerm(corev1.LabelTopologyZone, selector("app", "cache")))),
			nodes: zones(),
			pods:  []*corev1.Pod{db},
			rejected: map[string][]string{
				"nozone": {ReasonAffinityRules},
			},
		},
		{
			name:  "affinity: pods in other namespaces do not match a term without namespaces",
			pod:   makePod("p", requiredAffinity(podTerm(corev1.LabelTopologyZone, selector("app", "db")))),
			nodes: zones(),
			pods:  []*corev1.Pod{makePod("db", on("a1"), inNamespace("prod"), podLabels("app", "db"))},
			rejected: map[string][]string{
				"a1": {ReasonAffinityRules}, "a2": {ReasonAffinityRules}, "b1": {ReasonAffinityRules}, "nozone": {ReasonAffinityRules},
			},
		},
		{
			name: "affinity: a namespace selector reaches other namespaces",
			pod: makePod("p", requiredAffinity(corev1.PodAffinityTerm{
				TopologyKey: corev1.LabelTopologyZone, LabelSelector: selector("app", "db"), NamespaceSelector: selector("env", "prod"),
			})),
			nodes:      zones(),
			pods:       []*corev1.Pod{makePod("db", on("b1"), inNamespace("prod"), podLabels("app", "db"))},
			namespaces: map[string]labels.Set{"prod": {"env": "prod"}, "default": {}},
			rejected: map[string][]string{
				"a1": {ReasonAffinityRules}, "a2": {ReasonAffinityRules}, "nozone": {ReasonAffinityRules},
			},
		},
		{
			name:  "anti-affinity: not on a host that runs a matching pod",
			pod:   makePod("p", podLabels("app", "web"), requiredAnti(podTerm(corev1.LabelHostname, selector("app", "web")))),
			nodes: zones(),
			pods:  []*corev1.Pod{makePod("w1", on("a1"), podLabels("app", "web")), makePod("w2", on("b1"), podLabels("app", "web"))},
			rejected: map[string][]string{
				"a1": {ReasonAntiAffinityRules}, "b1": {ReasonAntiAffinityRules},
			},
		},
		{
			name:  "anti-affinity by zone covers every node of the zone",
			pod:   makePod("p", requiredAnti(podTerm(corev1.LabelTopologyZone, selector("app", "db")))),
			nodes: zones(),
			pods:  []*corev1.Pod{db},
			rejected: map[string][]string{
				"a1": {ReasonAntiAffinityRules}, "a2": {ReasonAntiAffinityRules},
			},
		},
		{
			name:  "an existing pod's anti-affinity keeps matching pods out of its zone",
			pod:   makePod("p", podLabels("app", "batch")),
			nodes: zones(),
			pods: []*corev1.Pod{makePod("loner", on("b1"), podLabels("app", "loner"),
				requiredAnti(podTerm(corev1.LabelTopologyZone, selector("app", "batch"))))},
			rejected: map[string][]string{"b1": {ReasonExistingAntiAffinityRule}},
		},
		{
			name:  "an existing pod's anti-affinity ignores pods it does not select",
			pod:   makePod("p", podLabels("app", "web")),
			nodes: zones(),
			pods: []*corev1.Pod{makePod("loner", on("b1"), podLabels("app", "loner"),
				requiredAnti(podTerm(corev1.LabelTopologyZone, selector("app", "batch"))))},
		},
		{
			name:  "required affinity is checked before anti-affinity",
			pod:   makePod("p", affinity(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{podTerm(corev1.LabelTopologyZone, selector("app", "db"))}}, PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{podTerm(corev1.LabelHostname, selector("app", "db"))}}})),
			nodes: zones(),
			pods:  []*corev1.Pod{db},
			rejected: map[string][]string{
				"a1": {ReasonAntiAffinityRules}, "b1": {ReasonAffinityRules}, "nozone": {ReasonAffinityRules},
			},
		},
	})
}

func TestRunFiltersStopsAtTheFirstFailure(t *testing.T) {
	pod := makePod("p", requests("cpu", "8"))
	snap := newSnapshot(t, []*corev1.Node{makeNode("n", cordoned, taints(corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoSchedule}))}, nil, nil)
	c := newTestCycle(t, pod, snap)
	plugin, reasons := c.runFilters(snap.Nodes[0])
	if plugin != NodeUnschedulable || !slices.Equal(reasons, []string{ReasonUnschedulable}) {
		t.Fatalf("got %s %q, want the first filter in kube's order (NodeUnschedulable)", plugin, reasons)
	}
}
