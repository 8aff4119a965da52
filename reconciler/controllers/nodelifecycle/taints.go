package nodelifecycle

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// conditionTaintKeys maps a node condition in a given status to the key of
// the NoSchedule taint that keeps new pods off the node meanwhile, as
// kube-controller-manager's TaintNodesByCondition does.
var conditionTaintKeys = map[corev1.NodeConditionType]map[corev1.ConditionStatus]string{
	corev1.NodeReady: {
		corev1.ConditionFalse:   corev1.TaintNodeNotReady,
		corev1.ConditionUnknown: corev1.TaintNodeUnreachable,
	},
	corev1.NodeMemoryPressure:     {corev1.ConditionTrue: corev1.TaintNodeMemoryPressure},
	corev1.NodeDiskPressure:       {corev1.ConditionTrue: corev1.TaintNodeDiskPressure},
	corev1.NodePIDPressure:        {corev1.ConditionTrue: corev1.TaintNodePIDPressure},
	corev1.NodeNetworkUnavailable: {corev1.ConditionTrue: corev1.TaintNodeNetworkUnavailable},
}

// managed reports whether the controller owns t: adds it when the node's
// state calls for it and removes it otherwise. NoExecute taints are managed
// only on nodes that posted a Ready condition.
func managed(t corev1.Taint, node *corev1.Node) bool {
	switch t.Effect {
	case corev1.TaintEffectNoSchedule:
		if t.Key == corev1.TaintNodeUnschedulable {
			return true
		}
		for _, keys := range conditionTaintKeys {
			for _, k := range keys {
				if k == t.Key {
					return true
				}
			}
		}
	case corev1.TaintEffectNoExecute:
		return readiness(node) != "" && (t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable)
	}
	return false
}

// wantedTaints are the managed taints the node's state calls for:
// NoSchedule ones for its conditions and spec.unschedulable, and NoExecute
// not-ready (Ready False) or unreachable (Ready Unknown).
func wantedTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, c := range node.Status.Conditions {
		if key, ok := conditionTaintKeys[c.Type][c.Status]; ok {
			out = append(out, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoSchedule})
		}
	}
	if node.Spec.Unschedulable {
		out = append(out, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	if key, ok := conditionTaintKeys[corev1.NodeReady][readiness(node)]; ok {
		out = append(out, corev1.Taint{Key: key, Effect: corev1.TaintEffectNoExecute})
	}
	return out
}

// reconcileTaints returns the node's taints with the managed ones brought
// in line with its state, and whether that changed anything. Other taints
// and the managed ones that stay are kept as they are (with their
// timeAdded); new NoExecute taints are stamped with now.
func reconcileTaints(node *corev1.Node, now metav1.Time) ([]corev1.Taint, bool) {
	wanted := wantedTaints(node)
	var out []corev1.Taint
	changed := false
	for _, t := range node.Spec.Taints {
		if managed(t, node) && !hasTaint(wanted, t) {
			changed = true
			continue
		}
		out = append(out, t)
	}
	for _, w := range wanted {
		if hasTaint(node.Spec.Taints, w) {
			continue
		}
		if w.Effect == corev1.TaintEffectNoExecute {
			w.TimeAdded = &now
		}
		out = append(out, w)
		changed = true
	}
	return out, changed
}

// hasTaint reports whether taints hold one with t's key and effect.
func hasTaint(taints []corev1.Taint, t corev1.Taint) bool {
	return slices.ContainsFunc(taints, func(have corev1.Taint) bool { return have.MatchTaint(&t) })
}

// noExecuteTaints are the taints that evict pods that do not tolerate them.
func noExecuteTaints(taints []corev1.Taint) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}
