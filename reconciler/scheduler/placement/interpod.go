package placement

import (
	"math"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

// topologyPair is one topology domain: a node label and its value.
type topologyPair struct{ key, value string }

// pairCounts counts matching pods (or terms) per topology domain.
type pairCounts map[topologyPair]int64

// add counts delta in the domain of node for topology key, if the node
// has that label, and returns m (allocated on first use).
func (m pairCounts) add(node *corev1.Node, key string, delta int64) pairCounts {
	if value, ok := node.Labels[key]; ok {
		if m == nil {
			m = pairCounts{}
		}
		m[topologyPair{key, value}] += delta
	}
	return m
}

func (m pairCounts) merge(o pairCounts) {
	for k, v := range o {
		m[k] += v
	}
}

// interPodFilterState is what the InterPodAffinity filter needs:
//   - existingAnti: domains where an existing pod's required anti-affinity
//     term matches the pod;
//   - affinity: domains holding pods that match all of the pod's required
//     affinity terms (counted once per term's topology key);
//   - anti: domains holding pods that match one of the pod's required
//     anti-affinity terms.
type interPodFilterState struct {
	existingAnti, affinity, anti pairCounts
}

// newInterPodFilterState walks the nodes with pods that have required
// anti-affinity, and all nodes if the pod itself has required terms.
// It returns nil when there is nothing to check.
func newInterPodFilterState(c *cycle) *interPodFilterState {
	p := c.pod
	own := len(p.RequiredAffinity)+len(p.RequiredAntiAffinity) > 0
	if !own && len(c.snap.WithRequiredAntiAffinity) == 0 {
		return nil
	}
	s := &interPodFilterState{existingAnti: pairCounts{}, affinity: pairCounts{}, anti: pairCounts{}}
	nsLabels := c.snap.NamespaceLabelsOf(p.Pod.Namespace)
	for _, n := range c.snap.WithRequiredAntiAffinity {
		for _, existing := range n.PodsWithRequiredAntiAffinity {
			for i := range existing.RequiredAntiAffinity {
				t := &existing.RequiredAntiAffinity[i]
				if t.Matches(p.Pod, nsLabels) {
					s.existingAnti = s.existingAnti.add(n.Node, t.TopologyKey, 1)
				}
			}
		}
	}
	if !own {
		return s
	}
	var mu sync.Mutex
	parallelize(c.workers, len(c.snap.Nodes), func(i int) {
		n := c.snap.Nodes[i]
		var affinity, anti pairCounts
		for _, existing := range n.Pods {
			existingNS := c.snap.NamespaceLabelsOf(existing.Pod.Namespace)
			if len(p.RequiredAffinity) > 0 && matchesAll(p.RequiredAffinity, existing.Pod, existingNS) {
				for j := range p.RequiredAffinity {
					affinity = affinity.add(n.Node, p.RequiredAffinity[j].TopologyKey, 1)
				}
			}
			for j := range p.RequiredAntiAffinity {
				if t := &p.RequiredAntiAffinity[j]; t.Matches(existing.Pod, existingNS) {
					anti = anti.add(n.Node, t.TopologyKey, 1)
				}
			}
		}
		if affinity == nil && anti == nil {
			return
		}
		mu.Lock()
		s.affinity.merge(affinity)
		s.anti.merge(anti)
		mu.Unlock()
	}, nil)
	return s
}

func matchesAll(terms []nodeinfo.AffinityTerm, pod *corev1.Pod, nsLabels labels.Set) bool {
	for i := range terms {
		if !terms[i].Matches(pod, nsLabels) {
			return false
		}
	}
	return true
}

// filterInterPodAffinity checks, in this order, the pod's required
// affinity, its required anti-affinity, and the required anti-affinity of
// the pods already placed.
func filterInterPodAffinity(c *cycle, n *nodeinfo.NodeInfo) []string {
	s := c.interPod
	if s == nil {
		return nil
	}
	if !satisfiesAffinity(c, n.Node) {
		return []string{ReasonAffinityRules}
	}
	for i := range c.pod.RequiredAntiAffinity {
		key := c.pod.RequiredAntiAffinity[i].TopologyKey
		if value, ok := n.Node.Labels[key]; ok && s.anti[topologyPair{key, value}] > 0 {
			return []string{ReasonAntiAffinityRules}
		}
	}
	if len(s.existingAnti) > 0 {
		for key, value := range n.Node.Labels {
			if s.existingAnti[topologyPair{key, value}] > 0 {
				return []string{ReasonExistingAntiAffinityRule}
			}
		}
	}
	return nil
}

// satisfiesAffinity: the node has every term's topology key, and each
// term's domain holds a matching pod. The first pod of a group that
// attracts itself is let through when no pod matches yet and it matches
// its own terms.
func satisfiesAffinity(c *cycle, node *corev1.Node) bool {
	terms := c.pod.RequiredAffinity
	found := true
	for i := range terms {
		value, ok := node.Labels[terms[i].TopologyKey]
		if !ok {
			return false
		}
		if c.interPod.affinity[topologyPair{terms[i].TopologyKey, value}] <= 0 {
			found = false
		}
	}
	if found {
		return true
	}
	return len(c.interPod.affinity) == 0 && matchesAll(terms, c.pod.Pod, c.snap.NamespaceLabelsOf(c.pod.Pod.Namespace))
}

// topologyScores are the preferred inter-pod affinity scores per topology
// key and value.
type topologyScores map[string]map[string]int64

func (m topologyScores) add(node *corev1.Node, key string, delta int64) {
	value, ok := node.Labels[key]
	if !ok {
		return
	}
	if m[key] == nil {
		m[key] = map[string]int64{}
	}
	m[key][value] += delta
}

// hardAffinityWeight is what an existing pod's required affinity term that
// matches the pod adds to its domain's score (kube-scheduler's
// hardPodAffinityWeight default).
const hardAffinityWeight = 1

// prepareInterPodScore sums, per domain, the weights of the preferred
// terms that bind the pod and the pods already placed, in both directions
// (anti-affinity subtracts), plus hardAffinityWeight for existing pods'
// required affinity terms that match the pod. Only nodes with pods that
// have terms are visited unless the pod has preferred terms itself.
func prepareInterPodScore(c *cycle, _ []*nodeinfo.NodeInfo) bool {
	p := c.pod
	own := len(p.PreferredAffinity)+len(p.PreferredAntiAffinity) > 0
	nodes := c.snap.WithAffinity
	if own {
		nodes = c.snap.Nodes
	}
	nsLabels := c.snap.NamespaceLabelsOf(p.Pod.Namespace)
	scores := topologyScores{}
	var mu sync.Mutex
	parallelize(c.workers, len(nodes), func(i int) {
		n := nodes[i]
		if len(n.Node.Labels) == 0 {
			return
		}
		pods := n.PodsWithAffinity
		if own {
			pods = n.Pods
		}
		local := topologyScores{}
		for _, existing := range pods {
			existingNS := c.snap.NamespaceLabelsOf(existing.Pod.Namespace)
			addWeighted(local, p.PreferredAffinity, existing.Pod, existingNS, n.Node, 1)
			addWeighted(local, p.PreferredAntiAffinity, existing.Pod, existingNS, n.Node, -1)
			for j := range existing.RequiredAffinity {
				if t := &existing.RequiredAffinity[j]; t.Matches(p.Pod, nsLabels) {
					local.add(n.Node, t.TopologyKey, hardAffinityWeight)
				}
			}
			addWeighted(local, existing.PreferredAffinity, p.Pod, nsLabels, n.Node, 1)
			addWeighted(local, existing.PreferredAntiAffinity, p.Pod, nsLabels, n.Node, -1)
		}
		if len(local) == 0 {
			return
		}
		mu.Lock()
		for key, values := range local {
			for value, v := range values {
				if scores[key] == nil {
					scores[key] = map[string]int64{}
				}
				scores[key][value] += v
			}
		}
		mu.Unlock()
	}, nil)
	if len(scores) == 0 {
		return false
	}
	c.interPodScore = scores
	return true
}

func addWeighted(m topologyScores, terms []nodeinfo.WeightedAffinityTerm, pod *corev1.Pod, nsLabels labels.Set, node *corev1.Node, sign int64) {
	for i := range terms {
		if terms[i].Matches(pod, nsLabels) {
			m.add(node, terms[i].TopologyKey, sign*int64(terms[i].Weight))
		}
	}
}

// scoreInterPod sums the scores of the node's domains.
func scoreInterPod(c *cycle, n *nodeinfo.NodeInfo) int64 {
	var score int64
	for key, values := range c.interPodScore {
		if value, ok := n.Node.Labels[key]; ok {
			score += values[value]
		}
	}
	return score
}

// normalizeMinMax maps the lowest score to 0 and the highest to 100
// (all 0 when they are equal).
func normalizeMinMax(_ *cycle, scores []int64) {
	least, most := int64(math.MaxInt64), int64(math.MinInt64)
	for _, s := range scores {
		least, most = min(least, s), max(most, s)
	}
	for i, s := range scores {
		if most > least {
			scores[i] = int64(float64(MaxNodeScore) * float64(s-least) / float64(most-least))
		} else {
			scores[i] = 0
		}
	}
}
