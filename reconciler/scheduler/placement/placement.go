// Package placement decides which node a pod goes to, as kube-scheduler's
// default profile does: filters (NodeUnschedulable, NodeName,
// TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit,
// PodTopologySpread, InterPodAffinity) find the nodes the pod fits, scores
// (TaintToleration, NodeAffinity, LeastAllocated, BalancedAllocation,
// PodTopologySpread, InterPodAffinity, with kube's weights) rank them, and
// a tie is broken at random.
//
// It is a pure function of a pod and a nodeinfo.Snapshot: no I/O, no
// clock. Filters run in parallel over the nodes, starting where the
// previous pod stopped, and stop once enough feasible nodes are found
// (kube's percentageOfNodesToScore), so a large cluster is only sampled.
// The node matching rules come from k8s.io/component-helpers.
package placement

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

// Options tune a Placer; the zero value is kube-scheduler's default.
type Options struct {
	// Parallelism is how many goroutines filter and score nodes
	// (GOMAXPROCS when 0).
	Parallelism int
	// PercentageOfNodesToScore is the share of the nodes that must be
	// found feasible before filtering stops (at least 100 nodes). 0 adapts
	// it to the cluster as kube-scheduler does: 50% minus 1% per 125
	// nodes, at least 5%.
	PercentageOfNodesToScore int32
	// Rand breaks ties between equally good nodes (a random seed when nil).
	Rand *rand.Rand
}

// Placer places pods one at a time; it remembers where the last search
// stopped so that successive pods start their search on other nodes.
// It is not safe for concurrent use.
type Placer struct {
	workers    int
	percentage int32
	rand       *rand.Rand
	nextStart  int
}

// NewPlacer returns a Placer with opts.
func NewPlacer(opts Options) *Placer {
	p := &Placer{workers: opts.Parallelism, percentage: opts.PercentageOfNodesToScore, rand: opts.Rand}
	if p.workers <= 0 {
		p.workers = runtime.GOMAXPROCS(0)
	}
	if p.rand == nil {
		p.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return p
}

// Decision is where a pod goes.
type Decision struct {
	Node string
	// Evaluated counts the nodes the filters checked; Feasible those
	// that passed (and were scored).
	Evaluated, Feasible int
}

// Place chooses a node for pod in snap. When the pod fits nowhere the
// error is a *FitError; other errors are terms of the pod that do not parse.
func (p *Placer) Place(pod *nodeinfo.PodInfo, snap *nodeinfo.Snapshot) (Decision, error) {
	if len(snap.Nodes) == 0 {
		return Decision{}, &FitError{}
	}
	c, err := newCycle(pod, snap, p.workers)
	if err != nil {
		return Decision{}, err
	}
	feasible, failures, evaluated := p.findFeasible(c)
	d := Decision{Evaluated: evaluated, Feasible: len(feasible)}
	if len(feasible) == 0 {
		return d, newFitError(len(snap.Nodes), failures)
	}
	if len(feasible) == 1 {
		d.Node = feasible[0].Node.Name
		return d, nil
	}
	d.Node = feasible[p.selectHost(c.totalScores(feasible))].Node.Name
	return d, nil
}

// NumFeasibleNodesToFind is how many feasible nodes the filters look for
// among all before they stop: every node in clusters under 100 nodes,
// else percentage of them (adaptive when 0, see Options), at least 100.
func NumFeasibleNodesToFind(percentage int32, all int) int {
	const minNodes, minPercentage, basePercentage = 100, 5, 50
	if all < minNodes || percentage >= 100 {
		return all
	}
	if percentage <= 0 {
		percentage = max(basePercentage-int32(all/125), minPercentage)
	}
	return max(all*int(percentage)/100, minNodes)
}

// failure is why one node was rejected.
type failure struct {
	plugin  string
	reasons []string
}

// findFeasible filters the nodes in parallel, starting at nextStart, until
// enough feasible nodes are found or all were checked. It returns the
// feasible nodes, the failures and how many nodes were checked.
func (p *Placer) findFeasible(c *cycle) ([]*nodeinfo.NodeInfo, []failure, int) {
	nodes := c.snap.Nodes
	all := len(nodes)
	want := NumFeasibleNodesToFind(p.percentage, all)
	feasible := make([]*nodeinfo.NodeInfo, want)
	var found atomic.Int64
	var mu sync.Mutex
	var failures []failure
	start := p.nextStart % all
	parallelize(p.workers, all, func(i int) {
		n := nodes[(start+i)%all]
		plugin, reasons := c.runFilters(n)
		if reasons == nil {
			if k := int(found.Add(1)); k <= want {
				feasible[k-1] = n
			}
			return
		}
		mu.Lock()
		failures = append(failures, failure{plugin, reasons})
		mu.Unlock()
	}, func() bool { return int(found.Load()) >= want })
	count := min(int(found.Load()), want)
	evaluated := count + len(failures)
	p.nextStart = (start + evaluated) % all
	return feasible[:count], failures, evaluated
}

// totalScores runs every score plugin and sums their weighted scores.
func (c *cycle) totalScores(feasible []*nodeinfo.NodeInfo) []int64 {
	totals := make([]int64, len(feasible))
	for i := range scorers {
		s := &scorers[i]
		for j, v := range c.pluginScores(s, feasible) {
			totals[j] += s.weight * v
		}
	}
	return totals
}

// pluginScores runs one score plugin over the feasible nodes and returns
// its normalized scores, or nil when it does not apply to the pod.
func (c *cycle) pluginScores(s *scorer, feasible []*nodeinfo.NodeInfo) []int64 {
	if !s.prepare(c, feasible) {
		return nil
	}
	scores := make([]int64, len(feasible))
	parallelize(c.workers, len(feasible), func(i int) { scores[i] = s.score(c, feasible[i]) }, nil)
	if s.normalize != nil {
		s.normalize(c, scores)
	}
	return scores
}

// selectHost returns the index of a highest score, each of equal ones
// being equally likely.
func (p *Placer) selectHost(totals []int64) int {
	best, ties := 0, 1
	for i := 1; i < len(totals); i++ {
		switch {
		case totals[i] > totals[best]:
			best, ties = i, 1
		case totals[i] == totals[best]:
			ties++
			if p.rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return best
}

// FitError says why a pod fits on no node: for each reason, how many
// nodes gave it. Its message is kube-scheduler's ("0/5 nodes are
// available: 3 Insufficient cpu, 2 node(s) had untolerated taint(s).");
// berth does not preempt, so there is no "preemption:" part.
type FitError struct {
	// NumAllNodes is the number of nodes; 0 when there are none.
	NumAllNodes int
	// Reasons counts the nodes per reason (a node may give several).
	Reasons map[string]int
	// Plugins are the filters that rejected nodes.
	Plugins sets.Set[string]
}

func newFitError(all int, failures []failure) *FitError {
	e := &FitError{NumAllNodes: all, Reasons: map[string]int{}, Plugins: sets.New[string]()}
	for _, f := range failures {
		e.Plugins.Insert(f.plugin)
		for _, r := range f.reasons {
			e.Reasons[r]++
		}
	}
	return e
}

// Error is the message of the FailedScheduling event and of the
// PodScheduled condition: reasons with their node counts, sorted.
func (e *FitError) Error() string {
	if e.NumAllNodes == 0 {
		return "no nodes available to schedule pods"
	}
	histogram := make([]string, 0, len(e.Reasons))
	for reason, count := range e.Reasons {
		histogram = append(histogram, fmt.Sprintf("%d %s", count, reason))
	}
	slices.Sort(histogram)
	return fmt.Sprintf("0/%d nodes are available: %s.", e.NumAllNodes, strings.Join(histogram, ", "))
}
