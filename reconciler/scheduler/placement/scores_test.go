package placement

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

// scoreCase runs one score plugin with every node of nodes feasible (in
// that order) and compares the normalized scores; want nil means the
// plugin does not apply to the pod.
type scoreCase struct {
	name  string
	pod   *corev1.Pod
	nodes []*corev1.Node
	pods  []*corev1.Pod
	want  []int64
}

func runScoreCases(t *testing.T, plugin string, cases []scoreCase) {
	t.Helper()
	var s *scorer
	for i := range scorers {
		if scorers[i].name == plugin {
			s = &scorers[i]
		}
	}
	if s == nil {
		t.Fatalf("no score plugin %s", plugin)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			snap := newSnapshot(t, tc.nodes, tc.pods, nil)
			c := newTestCycle(t, tc.pod, snap)
			feasible := make([]*nodeinfo.NodeInfo, len(tc.nodes))
			for i, n := range tc.nodes {
				feasible[i] = snap.Get(n.Name)
			}
			if got := c.pluginScores(s, feasible); !slices.Equal(got, tc.want) {
				t.Errorf("got scores %v, want %v", got, tc.want)
			}
		})
	}
}

func TestScoreLeastAllocated(t *testing.T) {
	nodes := func() []*corev1.Node {
		return []*corev1.Node{makeNode("empty"), makeNode("busy"), makeNode("besteffort"), makeNode("full")}
	}
	pods := []*corev1.Pod{
		makePod("b", on("busy"), requests("cpu", "2", "memory", "2Gi")),
		makePod("e", on("besteffort")),
		makePod("f", on("full"), requests("cpu", "4")),
	}
	runScoreCases(t, NodeResourcesFit, []scoreCase{
		{
			// empty: cpu 3/4 free, memory 6/8 free: 75.
			// busy: cpu 1/4 free (25), memory 4/8 free (50): 37.
			// besteffort: its pod counts as 100m and 200Mi: 72 and 72.
			// full: cpu over-committed scores 0, memory 72 (the running
			// pod counts 200Mi for its unset memory request): 36.
			name:  "free share of cpu and memory after adding the pod, averaged",
			pod:   makePod("p", requests("cpu", "1", "memory", "2Gi")),
			nodes: nodes(), pods: pods,
			want: []int64{75, 37, 72, 36},
		},
		{
			name:  "a best-effort pod counts as 100m cpu and 200Mi memory",
			pod:   makePod("p"),
			nodes: []*corev1.Node{makeNode("empty")},
			want:  []int64{97},
		},
	})
}

func TestScoreBalancedAllocation(t *testing.T) {
	runScoreCases(t, NodeResourcesBalancedAllocation, []scoreCase{
		{
			// empty: 1/4 cpu, 2/8 memory: balanced, 100.
			// busy: 3/4 cpu, 4/8 memory: 1 - 0.25/2 = 87.
			// cpuonly: 2/4 cpu, 2/8 memory (no defaults for unset requests): 87.
			// full: cpu capped at 1, memory 2/8: 1 - 0.75/2 = 62.
			name:  "closer cpu and memory fractions score higher",
			pod:   makePod("p", requests("cpu", "1", "memory", "2Gi")),
			nodes: []*corev1.Node{makeNode("empty"), makeNode("busy"), makeNode("cpuonly"), makeNode("full")},
			pods: []*corev1.Pod{
				makePod("b", on("busy"), requests("cpu", "2", "memory", "2Gi")),
				makePod("c", on("cpuonly"), requests("cpu", "1")),
				makePod("f", on("full"), requests("cpu", "4")),
			},
			want: []int64{100, 87, 87, 62},
		},
		{
			name:  "best-effort pods are not scored",
			pod:   makePod("p"),
			nodes: []*corev1.Node{makeNode("a")},
			want:  nil,
		},
	})
}

func TestScoreNodeAffinity(t *testing.T) {
	preferred := func(terms ...corev1.PreferredSchedulingTerm) func(*corev1.Pod) {
		return affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: terms}})
	}
	term := func(weight int32, key, value string) corev1.PreferredSchedulingTerm {
		return corev1.PreferredSchedulingTerm{Weight: weight, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}},
		}}}
	}
	nodes := func() []*corev1.Node {
		return []*corev1.Node{makeNode("both", zone("a"), nodeLabels("disk", "ssd")), makeNode("zone", zone("a")), makeNode("none")}
	}
	runScoreCases(t, NodeAffinity, []scoreCase{
		{
			name:  "matched weights are summed and scaled to the best node",
			pod:   makePod("p", preferred(term(10, corev1.LabelTopologyZone, "a"), term(5, "disk", "ssd"))),
			nodes: nodes(),
			want:  []int64{100, 66, 0},
		},
		{
			name:  "no preferred terms: not scored",
			pod:   makePod("p"),
			nodes: nodes(),
			want:  nil,
		},
	})
}

func TestScoreTaintToleration(t *testing.T) {
	prefer := func(key string) corev1.Taint {
		return corev1.Taint{Key: key, Effect: corev1.TaintEffectPreferNoSchedule}
	}
	nodes := func() []*corev1.Node {
		return []*corev1.Node{
			makeNode("clean"),
			makeNode("one", taints(prefer("spot"))),
			makeNode("two", taints(prefer("spot"), prefer("old"))),
			makeNode("noschedule", taints(corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoSchedule})),
		}
	}
	runScoreCases(t, TaintToleration, []scoreCase{
		{
			name:  "more untolerated PreferNoSchedule taints score lower",
			pod:   makePod("p"),
			nodes: nodes(),
			want:  []int64{100, 50, 0, 100},
		},
		{
			name:  "tolerated taints do not count",
			pod:   makePod("p", tolerations(corev1.Toleration{Key: "spot", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectPreferNoSchedule})),
			nodes: nodes(),
			want:  []int64{100, 100, 0, 100},
		},
		{
			name:  "a toleration for another effect does not tolerate PreferNoSchedule",
			pod:   makePod("p", tolerations(corev1.Toleration{Key: "spot", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})),
			nodes: nodes(),
			want:  []int64{100, 50, 0, 100},
		},
	})
}

func TestScorePodTopologySpread(t *testing.T) {
	soft := func(key string, maxSkew int32) func(*corev1.Pod) {
		return spread(corev1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: selector("app", "web")})
	}
	web := func(name, node string) *corev1.Pod { return makePod(name, on(node), podLabels("app", "web")) }
	hosts := func() []*corev1.Node { return []*corev1.Node{makeNode("h1"), makeNode("h2"), makeNode("h3")} }
	hostPods := []*corev1.Pod{web("w1", "h1"), web("w2", "h1"), web("w3", "h3")}
	runScoreCases(t, PodTopologySpread, []scoreCase{
		{
			// Two zones weigh ln(4): zone a scores round(2*1.39)=3, zone b
			// round(1.39)=1; normalized 100*(3+1-s)/3. The node without a
			// zone is ignored (0).
			name:  "fewer matching pods in the node's zone scores higher",
			pod:   makePod("p", podLabels("app", "web"), soft(corev1.LabelTopologyZone, 1)),
			nodes: []*corev1.Node{makeNode("a1", zone("a")), makeNode("a2", zone("a")), makeNode("b1", zone("b")), makeNode("nozone")},
			pods:  []*corev1.Pod{web("w1", "a1"), web("w2", "a1"), web("w3", "b1")},
			want:  []int64{33, 33, 100, 0},
		},
		{
			// Three hosts weigh ln(5): raw 3, 0 and 2; normalized 100*(3+0-s)/3.
			name:  "hostname domains count the pods on each node",
			pod:   makePod("p", podLabels("app", "web"), soft(corev1.LabelHostname, 1)),
			nodes: hosts(), pods: hostPods,
			want: []int64{0, 100, 33},
		},
		{
			// maxSkew 3 adds 2 to each raw score: 5, 2 and 4; normalized
			// 100*(5+2-s)/5: the difference matters less.
			name:  "a larger maxSkew softens the preference",
			pod:   makePod("p", podLabels("app", "web"), soft(corev1.LabelHostname, 3)),
			nodes: hosts(), pods: hostPods,
			want: []int64{40, 100, 60},
		},
		{
			name:  "DoNotSchedule constraints are not scored",
			pod:   makePod("p", spread(corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: selector("app", "web")})),
			nodes: hosts(), pods: hostPods,
			want: nil,
		},
	})
}

func TestScoreInterPodAffinity(t *testing.T) {
	nodes := func() []*corev1.Node {
		return []*corev1.Node{makeNode("a1", zone("a")), makeNode("a2", zone("a")), makeNode("b1", zone("b"))}
	}
	weighted := func(weight int32, key string, sel ...string) corev1.WeightedPodAffinityTerm {
		return corev1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: podTerm(key, selector(sel...))}
	}
	runScoreCases(t, InterPodAffinity, []scoreCase{
		{
			// zone a +50 (db), host a2 -20 (web): 50, 30, 0 scaled to 100.
			name: "the pod's preferred affinity adds, its preferred anti-affinity subtracts",
			pod: makePod("p", affinity(&corev1.Affinity{
				PodAffinity:     &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{weighted(50, corev1.LabelTopologyZone, "app", "db")}},
				PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{weighted(20, corev1.LabelHostname, "app", "web")}},
			})),
			nodes: nodes(),
			pods:  []*corev1.Pod{makePod("db", on("a1"), podLabels("app", "db")), makePod("web", on("a2"), podLabels("app", "web"))},
			want:  []int64{100, 60, 0},
		},
		{
			name:  "an existing pod's required affinity that matches the pod attracts it",
			pod:   makePod("p", podLabels("app", "web")),
			nodes: nodes(),
			pods: []*corev1.Pod{makePod("fan", on("b1"), affinity(&corev1.Affinity{PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{podTerm(corev1.LabelTopologyZone, selector("app", "web"))},
			}}))},
			want: []int64{0, 0, 100},
		},
		{
			name:  "an existing pod's preferred anti-affinity that matches the pod repels it",
			pod:   makePod("p", podLabels("app", "batch")),
			nodes: nodes(),
			pods: []*corev1.Pod{makePod("quiet", on("a1"), affinity(&corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{weighted(30, corev1.LabelTopologyZone, "app", "batch")},
			}}))},
			want: []int64{0, 0, 100},
		},
		{
			name:  "no terms anywhere: not scored",
			pod:   makePod("p"),
			nodes: nodes(),
			pods:  []*corev1.Pod{makePod("db", on("a1"), podLabels("app", "db"))},
			want:  nil,
		},
	})
}
