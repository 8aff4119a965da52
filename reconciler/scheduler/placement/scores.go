package placement

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

// MaxNodeScore is the best score a plugin gives a node, after normalizing.
const MaxNodeScore int64 = 100

// scorer is one score plugin. prepare computes what score needs for the
// feasible nodes (false skips the plugin: it adds nothing); score rates
// one node; normalize, if set, maps the raw scores to 0..MaxNodeScore.
// A node's total is the sum of weight * normalized score.
type scorer struct {
	name      string
	weight    int64
	prepare   func(c *cycle, feasible []*nodeinfo.NodeInfo) bool
	score     func(c *cycle, n *nodeinfo.NodeInfo) int64
	normalize func(c *cycle, scores []int64)
}

// scorers and their weights are kube-scheduler's defaults.
var scorers = []scorer{
	{TaintToleration, 3, prepareTaintScore, scoreTaints, normalizeReverse},
	{NodeAffinity, 2, prepareNodeAffinityScore, scoreNodeAffinity, normalizeToMax},
	{NodeResourcesFit, 1, always, scoreLeastAllocated, nil},
	{NodeResourcesBalancedAllocation, 1, prepareBalanced, scoreBalanced, nil},
	{PodTopologySpread, 2, prepareSpreadScore, scoreSpread, normalizeSpread},
	{InterPodAffinity, 2, prepareInterPodScore, scoreInterPod, normalizeMinMax},
}

func always(*cycle, []*nodeinfo.NodeInfo) bool { return true }

// prepareTaintScore keeps the pod's tolerations that can tolerate a
// PreferNoSchedule taint (that effect, or any).
func prepareTaintScore(c *cycle, _ []*nodeinfo.NodeInfo) bool {
	c.preferNoSchedule = nil
	for _, t := range c.pod.Pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			c.preferNoSchedule = append(c.preferNoSchedule, t)
		}
	}
	return true
}

// scoreTaints counts the node's PreferNoSchedule taints the pod does not
// tolerate (more is worse: normalizeReverse).
func scoreTaints(c *cycle, n *nodeinfo.NodeInfo) int64 {
	var count int64
	for i := range n.Taints {
		t := &n.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !corev1helpers.TolerationsTolerateTaint(noLog, c.preferNoSchedule, t, false) {
			count++
		}
	}
	return count
}

func prepareNodeAffinityScore(c *cycle, _ []*nodeinfo.NodeInfo) bool {
	return c.preferredNodeAffinity != nil
}

// scoreNodeAffinity sums the weights of the preferred node affinity terms
// the node matches.
func scoreNodeAffinity(c *cycle, n *nodeinfo.NodeInfo) int64 {
	return c.preferredNodeAffinity.Score(n.Node)
}

// scoreLeastAllocated favours nodes with more room left: for cpu and
// memory, (allocatable - requested) * 100 / allocatable after adding the
// pod (requests with the non-zero defaults), averaged.
func scoreLeastAllocated(c *cycle, n *nodeinfo.NodeInfo) int64 {
	var sum, resources int64
	for _, r := range [...]struct{ requested, allocatable int64 }{
		{n.NonZeroRequested.MilliCPU + c.pod.NonZeroRequests.MilliCPU, n.Allocatable.MilliCPU},
		{n.NonZeroRequested.Memory + c.pod.NonZeroRequests.Memory, n.Allocatable.Memory},
	} {
		if r.allocatable == 0 {
			continue
		}
		resources++
		if r.requested <= r.allocatable {
			sum += (r.allocatable - r.requested) * MaxNodeScore / r.allocatable
		}
	}
	if resources == 0 {
		return 0
	}
	return sum / resources
}

// prepareBalanced skips best-effort pods (no cpu or memory request), which
// would otherwise all pile onto the same balanced node.
func prepareBalanced(c *cycle, _ []*nodeinfo.NodeInfo) bool {
	return c.pod.Requests.MilliCPU > 0 || c.pod.Requests.Memory > 0
}

// scoreBalanced favours nodes whose cpu and memory would be used in equal
// proportions after adding the pod: (1 - |cpu fraction - memory fraction| / 2) * 100.
func scoreBalanced(c *cycle, n *nodeinfo.NodeInfo) int64 {
	cpu, hasCPU := fraction(n.Requested.MilliCPU+c.pod.Requests.MilliCPU, n.Allocatable.MilliCPU)
	mem, hasMem := fraction(n.Requested.Memory+c.pod.Requests.Memory, n.Allocatable.Memory)
	std := 0.0
	if hasCPU && hasMem {
		std = math.Abs(cpu-mem) / 2
	}
	return int64((1 - std) * float64(MaxNodeScore))
}

// fraction is requested/allocatable capped at 1; false when nothing is allocatable.
func fraction(requested, allocatable int64) (float64, bool) {
	if allocatable == 0 {
		return 0, false
	}
	return min(float64(requested)/float64(allocatable), 1), true
}

// normalizeToMax scales scores so that the highest is MaxNodeScore.
func normalizeToMax(_ *cycle, scores []int64) { scaleToMax(scores, false) }

// normalizeReverse scales like normalizeToMax, then turns the scale over
// (the highest raw score becomes 0, nodes with 0 get MaxNodeScore).
func normalizeReverse(_ *cycle, scores []int64) { scaleToMax(scores, true) }

func scaleToMax(scores []int64, reverse bool) {
	var most int64
	for _, s := range scores {
		most = max(most, s)
	}
	for i, s := range scores {
		switch {
		case most == 0 && reverse:
			scores[i] = MaxNodeScore
		case most == 0:
			scores[i] = 0
		case reverse:
			scores[i] = MaxNodeScore - MaxNodeScore*s/most
		default:
			scores[i] = MaxNodeScore * s / most
		}
	}
}
