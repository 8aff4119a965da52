package scheduler

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestScheduledConditionPatch(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	earlier := metav1.NewTime(now.Add(-time.Hour))
	const msg = "0/3 nodes are available: 3 Insufficient cpu."
	withCondition := func(c ...corev1.PodCondition) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Conditions: c}}
	}
	for _, tc := range []struct {
		name       string
		pod        *corev1.Pod
		reason     string
		wantChange bool
		transition metav1.Time
	}{
		{"a new pod gets the condition", withCondition(), corev1.PodReasonUnschedulable, true, metav1.NewTime(now)},
		{
			"the same reason and message are not written again",
			withCondition(corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: earlier}),
			corev1.PodReasonUnschedulable, false, metav1.Time{},
		},
		{
			"a new message keeps the transition time",
			withCondition(corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: "0/2 nodes are available: 2 Insufficient cpu.", LastTransitionTime: earlier}),
			corev1.PodReasonUnschedulable, true, earlier,
		},
		{
			"another reason is written",
			withCondition(corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: earlier}),
			corev1.PodReasonSchedulerError, true, earlier,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch, changed := scheduledConditionPatch(tc.pod, tc.reason, msg, now)
			if changed != tc.wantChange {
				t.Fatalf("changed = %v, want %v", changed, tc.wantChange)
			}
			if !changed {
				return
			}
			var got struct {
				Status corev1.PodStatus `json:"status"`
			}
			if err := json.Unmarshal(patch, &got); err != nil {
				t.Fatal(err)
			}
			want := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: tc.reason, Message: msg, LastTransitionTime: tc.transition}
			if len(got.Status.Conditions) != 1 || !got.Status.Conditions[0].LastTransitionTime.Equal(&want.LastTransitionTime) {
				t.Fatalf("patch %s, want the condition %+v", patch, want)
			}
			got.Status.Conditions[0].LastTransitionTime = want.LastTransitionTime
			if got.Status.Conditions[0] != want {
				t.Fatalf("patch %s, want the condition %+v", patch, want)
			}
		})
	}
}
