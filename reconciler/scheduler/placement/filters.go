package placement

import (
	"fmt"
	"slices"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

// Plugin names, as kube-scheduler names its filters and scores. A failed
// attempt reports the names of the filters that rejected nodes, so the
// queue knows which cluster events may help.
const (
	NodeUnschedulable               = "NodeUnschedulable"
	NodeName                        = "NodeName"
	TaintToleration                 = "TaintToleration"
	NodeAffinity                    = "NodeAffinity"
	NodePorts                       = "NodePorts"
	NodeResourcesFit                = "NodeResourcesFit"
	NodeResourcesBalancedAllocation = "NodeResourcesBalancedAllocation"
	PodTopologySpread               = "PodTopologySpread"
	InterPodAffinity                = "InterPodAffinity"
)

// The reasons filters give, worded as kube-scheduler words them (they end
// up, counted per node, in the FailedScheduling message).
const (
	ReasonUnschedulable            = "node(s) were unschedulable"
	ReasonNodeName                 = "node(s) didn't match the requested node name"
	ReasonUntoleratedTaint         = "node(s) had untolerated taint(s)"
	ReasonNodeAffinity             = "node(s) didn't match Pod's node affinity/selector"
	ReasonNodePorts                = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods              = "Too many pods"
	ReasonSpreadConstraints        = "node(s) didn't match pod topology spread constraints"
	ReasonSpreadMissingLabel       = "node(s) didn't match pod topology spread constraints (missing required label)"
	ReasonAffinityRules            = "node(s) didn't match pod affinity rules"
	ReasonAntiAffinityRules        = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAffinityRule = "node(s) didn't satisfy existing pods anti-affinity rules"
)

// ReasonInsufficient is the reason for a resource the node lacks
// ("Insufficient cpu").
func ReasonInsufficient(resource corev1.ResourceName) string {
	return fmt.Sprintf("Insufficient %s", resource)
}

// filterFunc checks one node for the cycle's pod: nil if the pod fits,
// else the reasons it does not.
type filterFunc func(c *cycle, n *nodeinfo.NodeInfo) []string

type filter struct {
	name string
	fn   filterFunc
}

// filters run in kube-scheduler's order; a node's first failing filter
// gives its reasons.
var filters = []filter{
	{NodeUnschedulable, filterUnschedulable},
	{NodeName, filterNodeName},
	{TaintToleration, filterTaints},
	{NodeAffinity, filterNodeAffinity},
	{NodePorts, filterPorts},
	{NodeResourcesFit, filterResources},
	{PodTopologySpread, filterSpread},
	{InterPodAffinity, filterInterPodAffinity},
}

// runFilters checks n against every filter and returns the first
// failure's plugin name and reasons ("" and nil if the pod fits).
func (c *cycle) runFilters(n *nodeinfo.NodeInfo) (string, []string) {
	for _, f := range filters {
		if reasons := f.fn(c, n); reasons != nil {
			return f.name, reasons
		}
	}
	return "", nil
}

// noLog discards what the scheduling helpers would log.
var noLog = logr.Discard()

// filterUnschedulable rejects cordoned nodes (spec.unschedulable) unless
// the pod tolerates the node.kubernetes.io/unschedulable:NoSchedule taint.
func filterUnschedulable(c *cycle, n *nodeinfo.NodeInfo) []string {
	if !n.Unschedulable {
		return nil
	}
	taint := corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	if corev1helpers.TolerationsTolerateTaint(noLog, c.pod.Pod.Spec.Tolerations, &taint, false) {
		return nil
	}
	return []string{ReasonUnschedulable}
}

// filterNodeName rejects every node but the one the pod names, if it names one.
func filterNodeName(c *cycle, n *nodeinfo.NodeInfo) []string {
	if name := c.pod.Pod.Spec.NodeName; name != "" && name != n.Node.Name {
		return []string{ReasonNodeName}
	}
	return nil
}

// filterTaints rejects nodes with a NoSchedule or NoExecute taint the pod
// does not tolerate. The reason does not name the taint: keys and values
// may be confidential (kube-scheduler stopped naming them in 1.34).
func filterTaints(c *cycle, n *nodeinfo.NodeInfo) []string {
	if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(noLog, n.Taints, c.pod.Pod.Spec.Tolerations, doNotScheduleTaint, false); untolerated {
		return []string{ReasonUntoleratedTaint}
	}
	return nil
}

func doNotScheduleTaint(t *corev1.Taint) bool {
	return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
}

// filterNodeAffinity rejects nodes that do not match the pod's nodeSelector
// and required node affinity.
func filterNodeAffinity(c *cycle, n *nodeinfo.NodeInfo) []string {
	if match, _ := c.nodeAffinity.Match(n.Node); !match {
		return []string{ReasonNodeAffinity}
	}
	return nil
}

// filterPorts rejects nodes where a host port the pod wants is taken.
func filterPorts(c *cycle, n *nodeinfo.NodeInfo) []string {
	for _, p := range c.pod.Ports {
		if n.UsedPorts.Conflicts(p) {
			return []string{ReasonNodePorts}
		}
	}
	return nil
}

// filterResources rejects nodes whose allocatable, minus what the pods
// already there request, cannot hold the pod's requests; one reason per
// missing resource.
func filterResources(c *cycle, n *nodeinfo.NodeInfo) []string {
	req, used, alloc := &c.pod.Requests, &n.Requested, &n.Allocatable
	var reasons []string
	if used.Pods+1 > alloc.Pods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-used.MilliCPU {
		reasons = append(reasons, ReasonInsufficient(corev1.ResourceCPU))
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-used.Memory {
		reasons = append(reasons, ReasonInsufficient(corev1.ResourceMemory))
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-used.EphemeralStorage {
		reasons = append(reasons, ReasonInsufficient(corev1.ResourceEphemeralStorage))
	}
	for _, name := range c.scalarNames {
		if req.Scalar[name] > alloc.Scalar[name]-used.Scalar[name] {
			reasons = append(reasons, ReasonInsufficient(name))
		}
	}
	return reasons
}

// sortedScalarNames lists the scalar resources r asks a positive amount of.
func sortedScalarNames(r nodeinfo.Resource) []corev1.ResourceName {
	var names []corev1.ResourceName
	for name, v := range r.Scalar {
		if v > 0 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
