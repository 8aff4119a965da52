// Package cache keeps the scheduler's view of nodes and the pods assigned
// to them, fed by informers, and the pods the scheduler has assumed: a pod
// counts on its chosen node from the moment of the decision, before the
// binding is written and seen again through the watch, so the next pod
// already sees it. An assumed pod is forgotten when its binding fails, or
// when the watch has not confirmed it a TTL after the binding finished.
//
// UpdateSnapshot copies only what changed since the previous call into the
// Snapshot that a scheduling attempt reads without locks.
package cache

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

// Cache is safe for concurrent use.
type Cache struct {
	mu         sync.Mutex
	ttl        time.Duration
	nodes      map[string]*nodeinfo.NodeInfo
	pods       map[types.UID]*podState
	namespaces map[string]labels.Set
	// What changed since the last UpdateSnapshot: the nodes whose
	// NodeInfo changed, whether nodes came or went (or moved zone), and
	// whether namespace labels changed.
	dirty             map[string]struct{}
	nodeSetChanged    bool
	namespacesChanged bool
}

type podState struct {
	info *nodeinfo.PodInfo
	node string
	// assumed: placed by this scheduler, not yet seen bound through the
	// watch. deadline is set once the binding call has returned.
	assumed  bool
	deadline time.Time
}

// New returns an empty cache whose assumed pods expire ttl after their
// binding finished (never when ttl is 0).
func New(ttl time.Duration) *Cache {
	return &Cache{
		ttl:        ttl,
		nodes:      map[string]*nodeinfo.NodeInfo{},
		pods:       map[types.UID]*podState{},
		namespaces: map[string]labels.Set{},
		dirty:      map[string]struct{}{},
	}
}

// SetNode adds or updates a node.
func (c *Cache) SetNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[node.Name]
	switch {
	case !ok:
		n = nodeinfo.New(nil)
		c.nodes[node.Name] = n
		c.nodeSetChanged = true
	case n.Node == nil || zoneLabelsDiffer(n.Node, node):
		c.nodeSetChanged = true
	}
	n.SetNode(node)
	c.dirty[node.Name] = struct{}{}
}

// RemoveNode forgets a node. Pods still assigned to it stay counted until
// they are removed themselves, but the node is no longer a candidate.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return
	}
	if len(n.Pods) == 0 {
		delete(c.nodes, name)
	} else {
		n.SetNode(nil)
	}
	c.nodeSetChanged = true
}

// AddPod records a pod seen bound to a node through the watch. If the
// scheduler had assumed it, the assumption is confirmed (and moved, should
// the pod have been bound elsewhere).
func (c *Cache) AddPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok {
		c.removeFromNode(ps)
		delete(c.pods, pod.UID)
	}
	c.add(newPodInfo(pod), false)
}

// UpdatePod records a change to a bound pod.
func (c *Cache) UpdatePod(pod *corev1.Pod) { c.AddPod(pod) }

// RemovePod stops counting a pod (deleted, or finished).
func (c *Cache) RemovePod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[uid]; ok {
		c.removeFromNode(ps)
		delete(c.pods, uid)
	}
}

// AssumePod counts info's pod on the node in its spec.nodeName before the
// binding is confirmed.
func (c *Cache) AssumePod(info *nodeinfo.PodInfo) error {
	pod := info.Pod
	if pod.Spec.NodeName == "" {
		return fmt.Errorf("assuming pod %s/%s: no node chosen", pod.Namespace, pod.Name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[pod.UID]; ok {
		return fmt.Errorf("assuming pod %s/%s: it is already counted on a node", pod.Namespace, pod.Name)
	}
	c.add(info, true)
	return nil
}

// FinishBinding starts the expiry clock of an assumed pod: the binding
// call has returned successfully at now.
func (c *Cache) FinishBinding(uid types.UID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[uid]; ok && ps.assumed {
		ps.deadline = now.Add(c.ttl)
	}
}

// ForgetPod drops an assumed pod whose binding failed.
func (c *Cache) ForgetPod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[uid]; ok && ps.assumed {
		c.removeFromNode(ps)
		delete(c.pods, uid)
	}
}

// IsAssumed says whether the pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[uid]
	return ok && ps.assumed
}

// Expire forgets the assumed pods whose binding finished more than the TTL
// before now without the watch confirming them, and returns them.
func (c *Cache) Expire(now time.Time) []*corev1.Pod {
	if c.ttl == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var expired []*corev1.Pod
	for uid, ps := range c.pods {
		if ps.assumed && !ps.deadline.IsZero() && now.After(ps.deadline) {
			c.removeFromNode(ps)
			delete(c.pods, uid)
			expired = append(expired, ps.info.Pod)
		}
	}
	return expired
}

// SetNamespace records a namespace's labels (for affinity namespace selectors).
func (c *Cache) SetNamespace(ns *corev1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.namespaces[ns.Name] = labels.Set(ns.Labels)
	c.namespacesChanged = true
}

// RemoveNamespace forgets a namespace.
func (c *Cache) RemoveNamespace(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.namespaces, name)
	c.namespacesChanged = true
}

// NodeCount is the number of known nodes.
func (c *Cache) NodeCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	count := 0
	for _, n := range c.nodes {
		if n.Node != nil {
			count++
		}
	}
	return count
}

// UpdateSnapshot brings s (empty, or filled by earlier calls) up to date,
// cloning only the nodes that changed since the previous call.
func (c *Cache) UpdateSnapshot(s *nodeinfo.Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.namespacesChanged || s.NamespaceLabels == nil {
		s.NamespaceLabels = maps.Clone(c.namespaces)
		c.namespacesChanged = false
	}
	if c.nodeSetChanged || s.Nodes == nil {
		c.rebuild(s)
	} else {
		c.refresh(s)
	}
	clear(c.dirty)
	c.nodeSetChanged = false
}

// rebuild replaces the node list, reusing the snapshot's copies of the
// nodes that did not change.
func (c *Cache) rebuild(s *nodeinfo.Snapshot) {
	names := make([]string, 0, len(c.nodes))
	for name, n := range c.nodes {
		if n.Node != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	list := make([]*nodeinfo.NodeInfo, len(names))
	for i, name := range names {
		_, changed := c.dirty[name]
		if old := s.Get(name); old != nil && !changed {
			list[i] = old
		} else {
			list[i] = c.nodes[name].Clone()
		}
	}
	s.SetNodes(list)
}

// refresh replaces the changed nodes in place.
func (c *Cache) refresh(s *nodeinfo.Snapshot) {
	affinityChanged := false
	for name := range c.dirty {
		n := c.nodes[name]
		if n == nil || n.Node == nil {
			continue
		}
		old := s.Get(name)
		clone := n.Clone()
		s.Replace(clone)
		if hasAffinityPods(old) || hasAffinityPods(clone) {
			affinityChanged = true
		}
	}
	if affinityChanged {
		s.RebuildAffinityLists()
	}
}

func hasAffinityPods(n *nodeinfo.NodeInfo) bool {
	return n != nil && len(n.PodsWithAffinity) > 0
}

// add counts info on its node (creating a placeholder for an unknown node).
func (c *Cache) add(info *nodeinfo.PodInfo, assumed bool) {
	name := info.Pod.Spec.NodeName
	n, ok := c.nodes[name]
	if !ok {
		n = nodeinfo.New(nil)
		c.nodes[name] = n
	}
	n.AddPod(info)
	c.pods[info.Pod.UID] = &podState{info: info, node: name, assumed: assumed}
	c.dirty[name] = struct{}{}
}

func (c *Cache) removeFromNode(ps *podState) {
	n, ok := c.nodes[ps.node]
	if !ok {
		return
	}
	n.RemovePod(ps.info.Pod.UID)
	c.dirty[ps.node] = struct{}{}
	if n.Node == nil && len(n.Pods) == 0 {
		delete(c.nodes, ps.node)
	}
}

// newPodInfo derives the PodInfo of a bound pod. An affinity term that
// does not parse is left out: the pod is counted with the rest.
func newPodInfo(pod *corev1.Pod) *nodeinfo.PodInfo {
	info, _ := nodeinfo.NewPodInfo(pod)
	return info
}

func zoneLabelsDiffer(a, b *corev1.Node) bool {
	return a.Labels[corev1.LabelTopologyZone] != b.Labels[corev1.LabelTopologyZone] ||
		a.Labels[corev1.LabelTopologyRegion] != b.Labels[corev1.LabelTopologyRegion]
}
