package nodelifecycle

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestReconcileTaints(t *testing.T) {
	now := metav1.NewTime(t0)
	earlier := metav1.NewTime(t0.Add(-time.Minute))
	ready := func(s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: corev1.NodeReady, Status: s}
	}
	const (
		unreachable = corev1.TaintNodeUnreachable
		notReady    = corev1.TaintNodeNotReady
		noExec      = corev1.TaintEffectNoExecute
		noSched     = corev1.TaintEffectNoSchedule
	)
	taint := func(key string, effect corev1.TaintEffect) corev1.Taint {
		return corev1.Taint{Key: key, Effect: effect}
	}
	timed := func(key string, at metav1.Time) corev1.Taint {
		return corev1.Taint{Key: key, Effect: noExec, TimeAdded: &at}
	}
	user := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: noExec}
	for _, tc := range []struct {
		name          string
		conds         []corev1.NodeCondition
		unschedulable bool
		taints        []corev1.Taint
		want          []corev1.Taint
		changed       bool
	}{
		{
			name:  "ready node keeps only foreign taints",
			conds: []corev1.NodeCondition{ready(corev1.ConditionTrue)},
			taints: []corev1.Taint{
				user, taint(unreachable, noSched), timed(unreachable, earlier), taint(notReady, noSched),
			},
			want:    []corev1.Taint{user},
			changed: true,
		},
		{
			name:    "unknown node gets unreachable, NoExecute stamped now",
			conds:   []corev1.NodeCondition{ready(corev1.ConditionUnknown)},
			taints:  []corev1.Taint{user},
			want:    []corev1.Taint{user, taint(unreachable, noSched), timed(unreachable, now)},
			changed: true,
		},
		{
			name:    "not ready swaps unreachable for not-ready",
			conds:   []corev1.NodeCondition{ready(corev1.ConditionFalse)},
			taints:  []corev1.Taint{taint(unreachable, noSched), timed(unreachable, earlier)},
			want:    []corev1.Taint{taint(notReady, noSched), timed(notReady, now)},
			changed: true,
		},
		{
			name:    "a taint already there keeps its time",
			conds:   []corev1.NodeCondition{ready(corev1.ConditionUnknown)},
			taints:  []corev1.Taint{timed(unreachable, earlier), taint(unreachable, noSched)},
			want:    []corev1.Taint{timed(unreachable, earlier), taint(unreachable, noSched)},
			changed: false,
		},
		{
			name:    "no Ready condition leaves NoExecute taints alone",
			taints:  []corev1.Taint{timed(unreachable, earlier), taint(notReady, noSched)},
			want:    []corev1.Taint{timed(unreachable, earlier)},
			changed: true,
		},
		{
			name: "pressure, network and cordon add NoSchedule taints",
			conds: []corev1.NodeCondition{
				ready(corev1.ConditionTrue),
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse},
				{Type: corev1.NodePIDPressure, Status: corev1.ConditionTrue},
				{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue},
			},
			unschedulable: true,
			want: []corev1.Taint{
				taint(corev1.TaintNodeMemoryPressure, noSched), taint(corev1.TaintNodePIDPressure, noSched),
				taint(corev1.TaintNodeNetworkUnavailable, noSched), taint(corev1.TaintNodeUnschedulable, noSched),
			},
			changed: true,
		},
		{
			name:    "uncordoned node loses the unschedulable taint",
			conds:   []corev1.NodeCondition{ready(corev1.ConditionTrue)},
			taints:  []corev1.Taint{taint(corev1.TaintNodeUnschedulable, noSched)},
			changed: true,
		},
		{
			name:    "a managed key with a foreign effect is not ours",
			conds:   []corev1.NodeCondition{ready(corev1.ConditionTrue)},
			taints:  []corev1.Taint{taint(unreachable, corev1.TaintEffectPreferNoSchedule)},
			want:    []corev1.Taint{taint(unreachable, corev1.TaintEffectPreferNoSchedule)},
			changed: false,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := &corev1.Node{
				Spec:   corev1.NodeSpec{Taints: tc.taints, Unschedulable: tc.unschedulable},
				Status: corev1.NodeStatus{Conditions: tc.conds},
			}
			got, changed := reconcileTaints(node, now)
			if changed != tc.changed {
				t.Errorf("changed = %v, want %v", changed, tc.changed)
			}
			if !slices.EqualFunc(got, tc.want, func(a, b corev1.Taint) bool {
				return a.Key == b.Key && a.Value == b.Value && a.Effect == b.Effect && a.TimeAdded.Equal(b.TimeAdded)
			}) {
				t.Errorf("taints = %v\nwant     %v", got, tc.want)
			}
		})
	}
}
