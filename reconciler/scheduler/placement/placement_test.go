package placement

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

func newTestPlacer(opts Options) *Placer {
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
	}
	return NewPlacer(opts)
}

func place(t *testing.T, p *Placer, pod *corev1.Pod, nodes []*corev1.Node, pods []*corev1.Pod) (Decision, error) {
	t.Helper()
	snap := newSnapshot(t, nodes, pods, nil)
	return p.Place(newTestCycle(t, pod, snap).pod, snap)
}

func TestPlaceChoosesTheBestScoringFeasibleNode(t *testing.T) {
	nodes := []*corev1.Node{
		makeNode("tainted", taints(corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule})),
		makeNode("busy"),
		makeNode("idle"),
		makeNode("spot", taints(corev1.Taint{Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule})),
	}
	pods := []*corev1.Pod{makePod("b", on("busy"), requests("cpu", "3", "memory", "6Gi"))}
	d, err := place(t, newTestPlacer(Options{}), makePod("p", requests("cpu", "1", "memory", "1Gi")), nodes, pods)
	if err != nil {
		t.Fatal(err)
	}
	if d.Node != "idle" || d.Feasible != 3 || d.Evaluated != 4 {
		t.Fatalf("got %+v, want idle of 3 feasible among 4 evaluated (spot is as empty but has a PreferNoSchedule taint)", d)
	}
}

func TestPlaceFailsWithKubesMessage(t *testing.T) {
	taint := corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}
	nodes := []*corev1.Node{
		makeNode("small1", allocatable(corev1.ResourceCPU, "1")),
		makeNode("small2", allocatable(corev1.ResourceCPU, "1")),
		makeNode("small3", allocatable(corev1.ResourceCPU, "1"), allocatable(corev1.ResourceMemory, "1Gi")),
		makeNode("db", taints(taint)),
		makeNode("cordoned", cordoned),
	}
	_, err := place(t, newTestPlacer(Options{}), makePod("p", requests("cpu", "2", "memory", "2Gi")), nodes, nil)
	var fit *FitError
	if !errors.As(err, &fit) {
		t.Fatalf("got %v, want a FitError", err)
	}
	want := "0/5 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint(s), 1 node(s) were unschedulable, 3 Insufficient cpu."
	if err.Error() != want {
		t.Fatalf("message:\n got %s\nwant %s", err, want)
	}
	if !fit.Plugins.Equal(sets.New(NodeResourcesFit, TaintToleration, NodeUnschedulable)) {
		t.Fatalf("rejecting plugins %v", sets.List(fit.Plugins))
	}
}

func TestFitErrorMessage(t *testing.T) {
	for _, tc := range []struct {
		err  *FitError
		want string
	}{
		{&FitError{}, "no nodes available to schedule pods"},
		{&FitError{NumAllNodes: 1, Reasons: map[string]int{ReasonNodeAffinity: 1}}, "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{
			&FitError{NumAllNodes: 12, Reasons: map[string]int{"Insufficient cpu": 10, ReasonTooManyPods: 2, ReasonAntiAffinityRules: 2}},
			"0/12 nodes are available: 10 Insufficient cpu, 2 Too many pods, 2 node(s) didn't match pod anti-affinity rules.",
		},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestPlaceWithoutNodes(t *testing.T) {
	_, err := place(t, newTestPlacer(Options{}), makePod("p"), nil, nil)
	var fit *FitError
	if !errors.As(err, &fit) || fit.NumAllNodes != 0 {
		t.Fatalf("got %v, want a FitError for no nodes", err)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	for _, tc := range []struct {
		percentage int32
		nodes      int
		want       int
	}{
		{0, 50, 50},       // small clusters: every node
		{0, 100, 100},     // 50% of 100 is under the 100-node floor
		{0, 1000, 420},    // 50% - 1000/125 = 42%
		{0, 5000, 500},    // 50% - 40 = 10%
		{0, 6000, 300},    // 50% - 48 = 2%, raised to 5%
		{0, 15000, 750},   // 5%
		{30, 1000, 300},   // configured
		{1, 1000, 100},    // the 100-node floor
		{100, 5000, 5000}, // everything
	} {
		if got := NumFeasibleNodesToFind(tc.percentage, tc.nodes); got != tc.want {
			t.Errorf("NumFeasibleNodesToFind(%d, %d) = %d, want %d", tc.percentage, tc.nodes, got, tc.want)
		}
	}
}

func TestLargeClustersAreSampledFromARotatingStart(t *testing.T) {
	var nodes []*corev1.Node
	for i := range 1000 {
		nodes = append(nodes, makeNode(fmt.Sprintf("n%04d", i)))
	}
	snap := newSnapshot(t, nodes, nil, nil)
	p := newTestPlacer(Options{Parallelism: 2})
	want := NumFeasibleNodesToFind(0, 1000)
	seen := map[string]bool{}
	for i := range 3 {
		pod := newTestCycle(t, makePod(fmt.Sprintf("p%d", i)), snap).pod
		start := p.nextStart
		d, err := p.Place(pod, snap)
		if err != nil {
			t.Fatal(err)
		}
		// Workers finish the chunk they are in after the target is met.
		if d.Feasible != want || d.Evaluated < want || d.Evaluated > want+2*chunkSize(2, 1000) {
			t.Fatalf("pod %d: %+v, want %d feasible of about as many evaluated", i, d, want)
		}
		if p.nextStart != (start+d.Evaluated)%1000 {
			t.Fatalf("pod %d: next search starts at %d, want %d", i, p.nextStart, (start+d.Evaluated)%1000)
		}
		seen[d.Node] = true
	}
	if len(seen) != 3 {
		t.Fatalf("three pods on identical nodes went to %v: the searches should cover different nodes", seen)
	}
}

func TestTiesAreBrokenAtRandom(t *testing.T) {
	nodes := []*corev1.Node{makeNode("a"), makeNode("b"), makeNode("c")}
	p := newTestPlacer(Options{})
	counts := map[string]int{}
	for i := range 300 {
		d, err := place(t, p, makePod(fmt.Sprintf("p%d", i)), nodes, nil)
		if err != nil {
			t.Fatal(err)
		}
		counts[d.Node]++
	}
	for _, n := range nodes {
		if counts[n.Name] < 50 {
			t.Fatalf("identical nodes chosen %v times: ties should be spread evenly", counts)
		}
	}
}

func TestParallelizeVisitsEachIndexOnceAndStops(t *testing.T) {
	for _, workers := range []int{1, 2, 8} {
		for _, n := range []int{0, 10, 1000} {
			visits := make([]atomic.Int32, n)
			parallelize(workers, n, func(i int) { visits[i].Add(1) }, nil)
			for i := range visits {
				if v := visits[i].Load(); v != 1 {
					t.Fatalf("workers=%d n=%d: index %d visited %d times", workers, n, i, v)
				}
			}
		}
		var count atomic.Int64
		parallelize(workers, 10000, func(int) { count.Add(1) }, func() bool { return count.Load() >= 100 })
		if c := count.Load(); c < 100 || c > 100+int64(workers*chunkSize(workers, 10000)) {
			t.Fatalf("workers=%d: %d calls after asking to stop at 100", workers, c)
		}
	}
}

// BenchmarkPlace measures one placement among 5,000 nodes that each run
// two pods, as in the scheduler_perf 5000-node case (filters stop after
// 500 feasible nodes).
func BenchmarkPlace(b *testing.B) {
	var nodes []*corev1.Node
	var pods []*corev1.Pod
	for i := range 5000 {
		name := fmt.Sprintf("n%04d", i)
		nodes = append(nodes, makeNode(name, zone(fmt.Sprint(i%10))))
		for j := range 2 {
			pods = append(pods, makePod(fmt.Sprintf("p%d-%d", i, j), on(name), requests("cpu", "100m", "memory", "500Mi")))
		}
	}
	t := &testing.T{}
	snap := newSnapshot(t, nodes, pods, nil)
	pod := newTestCycle(t, makePod("new", requests("cpu", "100m", "memory", "500Mi")), snap).pod
	p := newTestPlacer(Options{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Place(pod, snap); err != nil {
			b.Fatal(err)
		}
	}
}
