package nodeinfo

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// NodeInfo is a node with the pods assigned to it (bound, or assumed by
// the scheduler) and their totals. Node is nil while pods are known on a
// node the scheduler has not seen (yet, or any more).
type NodeInfo struct {
	Node *corev1.Node
	// Unschedulable and Taints are the node's spec.unschedulable and
	// spec.taints, kept here so that filters do not touch the (large)
	// node object of every node for every pod.
	Unschedulable bool
	Taints        []corev1.Taint
	Pods          []*PodInfo
	// PodsWithAffinity have any inter-pod affinity or anti-affinity term;
	// PodsWithRequiredAntiAffinity a required anti-affinity term.
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo
	// Requested sums the pods' Requests (Pods counts them);
	// NonZeroRequested their NonZeroRequests.
	Requested        Resource
	NonZeroRequested Resource
	// Allocatable is the node's status.allocatable.
	Allocatable Resource
	UsedPorts   HostPorts
}

// New returns the NodeInfo of node (which may be nil) with no pods.
func New(node *corev1.Node) *NodeInfo {
	n := &NodeInfo{UsedPorts: HostPorts{}}
	n.SetNode(node)
	return n
}

// Name is the node's name, or "" while the node is unknown.
func (n *NodeInfo) Name() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}

// SetNode replaces the node object (nil: the node is gone, its pods stay).
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Allocatable, n.Unschedulable, n.Taints = Resource{}, false, nil
	if node != nil {
		n.Allocatable = NewResource(node.Status.Allocatable)
		n.Unschedulable, n.Taints = node.Spec.Unschedulable, node.Spec.Taints
	}
}

// AddPod counts p on the node.
func (n *NodeInfo) AddPod(p *PodInfo) {
	n.Pods = append(n.Pods, p)
	if p.HasAffinity() {
		n.PodsWithAffinity = append(n.PodsWithAffinity, p)
	}
	if len(p.RequiredAntiAffinity) > 0 {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, p)
	}
	n.Requested.Add(p.Requests)
	n.NonZeroRequested.Add(p.NonZeroRequests)
	for _, port := range p.Ports {
		n.UsedPorts.add(port, 1)
	}
}

// RemovePod stops counting the pod with uid and says whether it was there.
func (n *NodeInfo) RemovePod(uid types.UID) bool {
	i := indexOf(n.Pods, uid)
	if i < 0 {
		return false
	}
	p := n.Pods[i]
	n.Pods = removeAt(n.Pods, i)
	if j := indexOf(n.PodsWithAffinity, uid); j >= 0 {
		n.PodsWithAffinity = removeAt(n.PodsWithAffinity, j)
	}
	if j := indexOf(n.PodsWithRequiredAntiAffinity, uid); j >= 0 {
		n.PodsWithRequiredAntiAffinity = removeAt(n.PodsWithRequiredAntiAffinity, j)
	}
	n.Requested.Sub(p.Requests)
	n.NonZeroRequested.Sub(p.NonZeroRequests)
	for _, port := range p.Ports {
		n.UsedPorts.add(port, -1)
	}
	return true
}

// Clone returns a copy whose slices and maps can change without
// affecting n (the pods and the node object themselves are shared, and
// never modified).
func (n *NodeInfo) Clone() *NodeInfo {
	return &NodeInfo{
		Node:                         n.Node,
		Unschedulable:                n.Unschedulable,
		Taints:                       n.Taints,
		Pods:                         clonePods(n.Pods),
		PodsWithAffinity:             clonePods(n.PodsWithAffinity),
		PodsWithRequiredAntiAffinity: clonePods(n.PodsWithRequiredAntiAffinity),
		Requested:                    n.Requested.Clone(),
		NonZeroRequested:             n.NonZeroRequested.Clone(),
		Allocatable:                  n.Allocatable.Clone(),
		UsedPorts:                    n.UsedPorts.clone(),
	}
}

func clonePods(pods []*PodInfo) []*PodInfo {
	if len(pods) == 0 {
		return nil
	}
	return append(make([]*PodInfo, 0, len(pods)), pods...)
}

func indexOf(pods []*PodInfo, uid types.UID) int {
	for i, p := range pods {
		if p.Pod.UID == uid {
			return i
		}
	}
	return -1
}

// removeAt removes pods[i] without keeping the order, as the order of a
// node's pods means nothing.
func removeAt(pods []*PodInfo, i int) []*PodInfo {
	last := len(pods) - 1
	pods[i] = pods[last]
	pods[last] = nil
	return pods[:last]
}
