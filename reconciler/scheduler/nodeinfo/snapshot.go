package nodeinfo

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Snapshot is the cluster as one scheduling attempt sees it. Nothing in it
// changes while the attempt reads it.
type Snapshot struct {
	// Nodes are the known nodes, ordered so that consecutive nodes are in
	// different zones where possible (a sample of them spans zones).
	Nodes []*NodeInfo
	// WithAffinity are the nodes that run a pod with inter-pod affinity
	// terms; WithRequiredAntiAffinity those that run a pod with a required
	// anti-affinity term.
	WithAffinity             []*NodeInfo
	WithRequiredAntiAffinity []*NodeInfo
	// NamespaceLabels are the labels of each namespace, for the namespace
	// selectors of affinity terms.
	NamespaceLabels map[string]labels.Set
	index           map[string]int
}

// NewSnapshot orders nodes (those with a nil Node are left out) and
// indexes them.
func NewSnapshot(nodes []*NodeInfo, namespaceLabels map[string]labels.Set) *Snapshot {
	s := &Snapshot{NamespaceLabels: namespaceLabels}
	s.SetNodes(nodes)
	return s
}

// SetNodes replaces the node list with nodes in zone-interleaved order.
func (s *Snapshot) SetNodes(nodes []*NodeInfo) {
	s.Nodes = interleaveZones(nodes)
	s.index = make(map[string]int, len(s.Nodes))
	for i, n := range s.Nodes {
		s.index[n.Node.Name] = i
	}
	s.RebuildAffinityLists()
}

// Get returns the node named name, or nil.
func (s *Snapshot) Get(name string) *NodeInfo {
	i, ok := s.index[name]
	if !ok {
		return nil
	}
	return s.Nodes[i]
}

// Replace puts n in the place of the node of the same name, which must
// be in the snapshot, and says whether it was.
func (s *Snapshot) Replace(n *NodeInfo) bool {
	i, ok := s.index[n.Node.Name]
	if ok {
		s.Nodes[i] = n
	}
	return ok
}

// RebuildAffinityLists recomputes WithAffinity and WithRequiredAntiAffinity.
func (s *Snapshot) RebuildAffinityLists() {
	s.WithAffinity, s.WithRequiredAntiAffinity = nil, nil
	for _, n := range s.Nodes {
		if len(n.PodsWithAffinity) > 0 {
			s.WithAffinity = append(s.WithAffinity, n)
		}
		if len(n.PodsWithRequiredAntiAffinity) > 0 {
			s.WithRequiredAntiAffinity = append(s.WithRequiredAntiAffinity, n)
		}
	}
}

// NamespaceLabelsOf returns the labels of namespace ns (nil if unknown).
func (s *Snapshot) NamespaceLabelsOf(ns string) labels.Set { return s.NamespaceLabels[ns] }

// interleaveZones orders nodes zone by zone in turn (region and zone
// labels), keeping their order within a zone, as kube-scheduler's node
// tree does.
func interleaveZones(nodes []*NodeInfo) []*NodeInfo {
	var zones []string
	byZone := map[string][]*NodeInfo{}
	for _, n := range nodes {
		if n.Node == nil {
			continue
		}
		z := zoneOf(n.Node)
		if _, ok := byZone[z]; !ok {
			zones = append(zones, z)
		}
		byZone[z] = append(byZone[z], n)
	}
	out := make([]*NodeInfo, 0, len(nodes))
	for i := 0; len(out) < cap(out); i++ {
		added := false
		for _, z := range zones {
			if i < len(byZone[z]) {
				out = append(out, byZone[z][i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}

func zoneOf(node *corev1.Node) string {
	return node.Labels[corev1.LabelTopologyRegion] + ":\x00:" + node.Labels[corev1.LabelTopologyZone]
}
