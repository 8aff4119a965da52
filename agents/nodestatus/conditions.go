// Package nodestatus is what every node agent — the real kubelet
// (agents/kubelet/node) and the simulated ones (agents/hollow) — does the
// same way to keep its Node alive in the API: the node conditions built
// from what the node knows of its health, registration (create the Node or
// adopt an existing one and report its full status), status patches, and
// the heartbeat Lease in kube-node-lease.
package nodestatus

import (
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Health is what a node reports through its conditions. The zero value
// is a healthy node: Ready, no pressure.
type Health struct {
	// MemoryPressure, DiskPressure and PIDPressure say that the node runs
	// short of memory, disk or process IDs.
	MemoryPressure, DiskPressure, PIDPressure bool
	// NotReadyReason, when set, is why the node is not Ready (a CamelCase
	// reason such as "ContainerRuntimeDown"); NotReadyMessage says more.
	NotReadyReason, NotReadyMessage string
}

// Conditions are the node conditions for h at now, in the order kubelet
// reports them (MemoryPressure, DiskPressure, PIDPressure, Ready), each
// with the kubelet's reasons and messages. A condition keeps its
// transition time from current while its status holds; every heartbeat
// time is now.
func Conditions(h Health, current []corev1.NodeCondition, now time.Time) []corev1.NodeCondition {
	conditions := []corev1.NodeCondition{
		pressure(corev1.NodeMemoryPressure, h.MemoryPressure,
			"KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
			"KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		pressure(corev1.NodeDiskPressure, h.DiskPressure,
			"KubeletHasDiskPressure", "kubelet has disk pressure",
			"KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		pressure(corev1.NodePIDPressure, h.PIDPressure,
			"KubeletHasInsufficientPID", "kubelet has insufficient PID available",
			"KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	if h.NotReadyReason != "" {
		ready := &conditions[len(conditions)-1]
		ready.Status, ready.Reason, ready.Message = corev1.ConditionFalse, h.NotReadyReason, h.NotReadyMessage
	}
	t := metav1.NewTime(now)
	for i := range conditions {
		conditions[i].LastHeartbeatTime, conditions[i].LastTransitionTime = t, t
	}
	return KeepTransitionTimes(conditions, current)
}

// KeepTransitionTimes sets the transition time of each condition in next
// whose status is unchanged from current to the time current shows, and
// returns next.
func KeepTransitionTimes(next, current []corev1.NodeCondition) []corev1.NodeCondition {
	for i := range next {
		c := &next[i]
		for _, old := range current {
			if old.Type == c.Type && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	return next
}

func pressure(t corev1.NodeConditionType, under bool, reasonOn, messageOn, reasonOff, messageOff string) corev1.NodeCondition {
	if under {
		return corev1.NodeCondition{Type: t, Status: corev1.ConditionTrue, Reason: reasonOn, Message: messageOn}
	}
	return corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: reasonOff, Message: messageOff}
}

// IsReady says whether a node's Ready condition is True.
func IsReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// StatusPatch is a strategic merge patch of nodes/status: all of st when
// full, else only its conditions (merged by type). Registration sends the
// whole status (a server may have dropped the one sent with the Node, or
// the Node existed); heartbeats only the conditions.
func StatusPatch(st corev1.NodeStatus, full bool) []byte {
	var status any = st
	if !full {
		status = map[string]any{"conditions": st.Conditions}
	}
	patch, _ := json.Marshal(map[string]any{"status": status}) // cannot fail: plain API types
	return patch
}
