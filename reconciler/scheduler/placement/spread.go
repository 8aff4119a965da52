package placement

import (
	"fmt"
	"math"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

// spreadConstraint is a parsed topologySpreadConstraint with its defaults.
type spreadConstraint struct {
	maxSkew            int32
	minDomains         int32
	topologyKey        string
	selector           labels.Selector
	nodeAffinityPolicy corev1.NodeInclusionPolicy
	nodeTaintsPolicy   corev1.NodeInclusionPolicy
}

// spreadConstraints parses the pod's constraints with the given
// whenUnsatisfiable. matchLabelKeys add the pod's values of those labels
// to the selector; minDomains defaults to 1, nodeAffinityPolicy to Honor
// and nodeTaintsPolicy to Ignore.
func spreadConstraints(pod *corev1.Pod, action corev1.UnsatisfiableConstraintAction) ([]spreadConstraint, error) {
	var out []spreadConstraint
	for i, tsc := range pod.Spec.TopologySpreadConstraints {
		if tsc.WhenUnsatisfiable != action {
			continue
		}
		selector, err := metav1.LabelSelectorAsSelector(tsc.LabelSelector)
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: spec.topologySpreadConstraints[%d].labelSelector: %w", pod.Namespace, pod.Name, i, err)
		}
		for _, key := range tsc.MatchLabelKeys {
			if value, ok := pod.Labels[key]; ok {
				req, err := labels.NewRequirement(key, selection.Equals, []string{value})
				if err != nil {
					return nil, fmt.Errorf("pod %s/%s: spec.topologySpreadConstraints[%d].matchLabelKeys: %w", pod.Namespace, pod.Name, i, err)
				}
				selector = selector.Add(*req)
			}
		}
		c := spreadConstraint{
			maxSkew:            tsc.MaxSkew,
			minDomains:         1,
			topologyKey:        tsc.TopologyKey,
			selector:           selector,
			nodeAffinityPolicy: corev1.NodeInclusionPolicyHonor,
			nodeTaintsPolicy:   corev1.NodeInclusionPolicyIgnore,
		}
		if tsc.MinDomains != nil {
			c.minDomains = *tsc.MinDomains
		}
		if tsc.NodeAffinityPolicy != nil {
			c.nodeAffinityPolicy = *tsc.NodeAffinityPolicy
		}
		if tsc.NodeTaintsPolicy != nil {
			c.nodeTaintsPolicy = *tsc.NodeTaintsPolicy
		}
		out = append(out, c)
	}
	return out, nil
}

// includes says whether node counts for the constraint: it has the
// topology key and passes the inclusion policies.
func (sc *spreadConstraint) includes(c *cycle, node *corev1.Node) bool {
	if _, ok := node.Labels[sc.topologyKey]; !ok {
		return false
	}
	if sc.nodeAffinityPolicy == corev1.NodeInclusionPolicyHonor {
		if match, _ := c.nodeAffinity.Match(node); !match {
			return false
		}
	}
	if sc.nodeTaintsPolicy == corev1.NodeInclusionPolicyHonor {
		if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(noLog, node.Spec.Taints, c.pod.Pod.Spec.Tolerations, doNotScheduleTaint, false); untolerated {
			return false
		}
	}
	return true
}

// hasAllKeys says whether node has the topology key of every constraint.
func hasAllKeys(node *corev1.Node, constraints []spreadConstraint) bool {
	for i := range constraints {
		if _, ok := node.Labels[constraints[i].topologyKey]; !ok {
			return false
		}
	}
	return true
}

// countMatching counts the pods in namespace ns, not being deleted, whose
// labels match selector.
func countMatching(pods []*nodeinfo.PodInfo, selector labels.Selector, ns string) int {
	count := 0
	for _, p := range pods {
		if p.Pod.DeletionTimestamp != nil || p.Pod.Namespace != ns {
			continue
		}
		if selector.Matches(labels.Set(p.Pod.Labels)) {
			count++
		}
	}
	return count
}

// spreadFilterState counts, for each DoNotSchedule constraint, the
// matching pods in each topology domain of the eligible nodes (those with
// every constraint's key).
type spreadFilterState struct {
	constraints []spreadConstraint
	counts      []map[string]int
}

func newSpreadFilterState(c *cycle, constraints []spreadConstraint) *spreadFilterState {
	if len(constraints) == 0 {
		return nil
	}
	s := &spreadFilterState{constraints: constraints, counts: make([]map[string]int, len(constraints))}
	for i := range s.counts {
		s.counts[i] = map[string]int{}
	}
	ns := c.pod.Pod.Namespace
	perNode := make([][]int, len(c.snap.Nodes))
	parallelize(c.workers, len(c.snap.Nodes), func(i int) {
		n := c.snap.Nodes[i]
		if !hasAllKeys(n.Node, constraints) {
			return
		}
		counts := make([]int, len(constraints))
		for j := range constraints {
			if !constraints[j].includes(c, n.Node) {
				counts[j] = -1
				continue
			}
			counts[j] = countMatching(n.Pods, constraints[j].selector, ns)
		}
		perNode[i] = counts
	}, nil)
	for i, counts := range perNode {
		for j, count := range counts {
			if count >= 0 {
				s.counts[j][c.snap.Nodes[i].Node.Labels[constraints[j].topologyKey]] += count
			}
		}
	}
	return s
}

// minMatching is the global minimum of constraint j: the fewest matching
// pods in any domain, or 0 while there are fewer domains than minDomains.
func (s *spreadFilterState) minMatching(j int) int {
	if len(s.counts[j]) < int(s.constraints[j].minDomains) {
		return 0
	}
	least := math.MaxInt
	for _, count := range s.counts[j] {
		least = min(least, count)
	}
	return least
}

// filterSpread rejects a node when placing the pod there would make some
// DoNotSchedule constraint's skew (matching pods in the node's domain,
// plus the pod if it matches, minus the global minimum) exceed maxSkew,
// and nodes without a constraint's topology key.
func filterSpread(c *cycle, n *nodeinfo.NodeInfo) []string {
	s := c.spread
	if s == nil {
		return nil
	}
	podLabels := labels.Set(c.pod.Pod.Labels)
	for j := range s.constraints {
		sc := &s.constraints[j]
		value, ok := n.Node.Labels[sc.topologyKey]
		if !ok {
			return []string{ReasonSpreadMissingLabel}
		}
		self := 0
		if sc.selector.Matches(podLabels) {
			self = 1
		}
		if s.counts[j][value]+self-s.minMatching(j) > int(sc.maxSkew) {
			return []string{ReasonSpreadConstraints}
		}
	}
	return nil
}

// spreadScoreState holds, for each ScheduleAnyway constraint, the matching
// pods per domain of the feasible nodes (hostname domains are counted per
// node when scored), and the weight of the constraint.
type spreadScoreState struct {
	counts  []map[string]*atomic.Int64
	weights []float64
}

// prepareSpreadScore counts, over all nodes, the pods matching the pod's
// ScheduleAnyway constraints in the domains of the feasible nodes.
func prepareSpreadScore(c *cycle, feasible []*nodeinfo.NodeInfo) bool {
	constraints := c.softSpread
	if len(constraints) == 0 {
		return false
	}
	s := &spreadScoreState{counts: make([]map[string]*atomic.Int64, len(constraints)), weights: make([]float64, len(constraints))}
	domains := make([]int, len(constraints))
	eligible := 0
	for j := range s.counts {
		s.counts[j] = map[string]*atomic.Int64{}
	}
	for _, n := range feasible {
		if !hasAllKeys(n.Node, constraints) {
			continue
		}
		eligible++
		for j := range constraints {
			if constraints[j].topologyKey == corev1.LabelHostname {
				continue
			}
			value := n.Node.Labels[constraints[j].topologyKey]
			if s.counts[j][value] == nil {
				s.counts[j][value] = new(atomic.Int64)
				domains[j]++
			}
		}
	}
	for j := range constraints {
		size := domains[j]
		if constraints[j].topologyKey == corev1.LabelHostname {
			size = eligible
		}
		s.weights[j] = math.Log(float64(size + 2))
	}
	ns := c.pod.Pod.Namespace
	parallelize(c.workers, len(c.snap.Nodes), func(i int) {
		n := c.snap.Nodes[i]
		if !hasAllKeys(n.Node, constraints) {
			return
		}
		for j := range constraints {
			sc := &constraints[j]
			if sc.topologyKey == corev1.LabelHostname || !sc.includes(c, n.Node) {
				continue
			}
			if count := s.counts[j][n.Node.Labels[sc.topologyKey]]; count != nil {
				count.Add(int64(countMatching(n.Pods, sc.selector, ns)))
			}
		}
	}, nil)
	c.spreadScore = s
	return true
}

// invalidScore marks a node a score plugin ignores (scored 0 after
// normalizing).
const invalidScore = -1

// scoreSpread sums, over the constraints, the matching pods in the node's
// domain times the constraint's weight, plus maxSkew-1 (so that small
// skews matter less): fewer is better, normalizeSpread inverts it.
func scoreSpread(c *cycle, n *nodeinfo.NodeInfo) int64 {
	if !hasAllKeys(n.Node, c.softSpread) {
		return invalidScore
	}
	var score float64
	for j := range c.softSpread {
		sc := &c.softSpread[j]
		var count int64
		if sc.topologyKey == corev1.LabelHostname {
			count = int64(countMatching(n.Pods, sc.selector, c.pod.Pod.Namespace))
		} else {
			count = c.spreadScore.counts[j][n.Node.Labels[sc.topologyKey]].Load()
		}
		score += float64(count)*c.spreadScore.weights[j] + float64(sc.maxSkew-1)
	}
	return int64(math.Round(score))
}

// normalizeSpread maps the lowest raw score to the highest final one:
// 100 * (max + min - score) / max, and 0 for ignored nodes.
func normalizeSpread(_ *cycle, scores []int64) {
	least, most := int64(math.MaxInt64), int64(0)
	for _, s := range scores {
		if s == invalidScore {
			continue
		}
		least, most = min(least, s), max(most, s)
	}
	for i, s := range scores {
		switch {
		case s == invalidScore:
			scores[i] = 0
		case most == 0:
			scores[i] = MaxNodeScore
		default:
			scores[i] = MaxNodeScore * (most + least - s) / most
		}
	}
}
