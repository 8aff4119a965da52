package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The reasons and messages kube-controller-manager writes on the
// conditions of a node it no longer hears from.
const (
	reasonStatusUnknown = "NodeStatusUnknown"
	messageStopped      = "Kubelet stopped posting node status."
	reasonNeverUpdated  = "NodeStatusNeverUpdated"
	messageNeverUpdated = "Kubelet never posted node status."
)

// kubeletConditions are the node conditions the kubelet keeps; the
// controller turns them Unknown when the kubelet goes quiet.
var kubeletConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// probe is what the controller last heard from a node's kubelet and when,
// by the controller's own clock, so that the kubelet's clock never matters.
type probe struct {
	renewed   time.Time // the node Lease's spec.renewTime
	heartbeat time.Time // the Ready condition's lastHeartbeatTime
	heardAt   time.Time // when either last changed, or the node was first seen
}

// observe is prev after seeing the node's current lease renewal and
// heartbeat at now; a node not seen before (known false) is heard at now.
func observe(prev probe, known bool, renewed, heartbeat, now time.Time) probe {
	if known && prev.renewed.Equal(renewed) && prev.heartbeat.Equal(heartbeat) {
		return prev
	}
	return probe{renewed: renewed, heartbeat: heartbeat, heardAt: now}
}

// deadline is when the node counts as gone quiet if nothing changes.
func (p probe) deadline(grace time.Duration) time.Time {
	return p.heardAt.Add(grace)
}

// unknownConditions returns conds with every kubelet condition Unknown, as
// kube-controller-manager writes them for a node whose kubelet stopped
// posting status, and whether that changed anything. Conditions the kubelet
// never posted are added (heartbeat at the node's creation); those already
// Unknown are kept as they are.
func unknownConditions(conds []corev1.NodeCondition, created, now metav1.Time) ([]corev1.NodeCondition, bool) {
	out := append([]corev1.NodeCondition(nil), conds...)
	changed := false
	for _, t := range kubeletConditions {
		i := conditionIndex(out, t)
		if i < 0 {
			out = append(out, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown,
				Reason: reasonNeverUpdated, Message: messageNeverUpdated,
				LastHeartbeatTime: created, LastTransitionTime: now,
			})
			changed = true
			continue
		}
		if out[i].Status == corev1.ConditionUnknown {
			continue
		}
		out[i].Status = corev1.ConditionUnknown
		out[i].Reason, out[i].Message = reasonStatusUnknown, messageStopped
		out[i].LastTransitionTime = now
		changed = true
	}
	return out, changed
}

// readiness is the status of the node's Ready condition, or "" when the
// kubelet never posted one.
func readiness(node *corev1.Node) corev1.ConditionStatus {
	if i := conditionIndex(node.Status.Conditions, corev1.NodeReady); i >= 0 {
		return node.Status.Conditions[i].Status
	}
	return ""
}

// unready reports whether the node posted a Ready condition that is not
// True (False, or Unknown because it went quiet).
func unready(node *corev1.Node) bool {
	r := readiness(node)
	return r != "" && r != corev1.ConditionTrue
}

func conditionIndex(conds []corev1.NodeCondition, t corev1.NodeConditionType) int {
	for i := range conds {
		if conds[i].Type == t {
			return i
		}
	}
	return -1
}

// podNotReady returns status with its Ready condition False, as for a pod
// whose node is not ready, and whether that changed anything. A pod that
// has no Ready condition yet is left alone.
func podNotReady(status corev1.PodStatus, now metav1.Time) (corev1.PodStatus, bool) {
	for i, c := range status.Conditions {
		if c.Type != corev1.PodReady {
			continue
		}
		if c.Status == corev1.ConditionFalse {
			return status, false
		}
		out := *status.DeepCopy()
		out.Conditions[i].Status = corev1.ConditionFalse
		out.Conditions[i].LastTransitionTime = now
		return out, true
	}
	return status, false
}
