package scheduler

import (
	"context"
	"encoding/json"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// reportFailure tells people why pod was not placed, as kube-scheduler
// does: a FailedScheduling event, and a PodScheduled=False condition with
// reason (Unschedulable, or SchedulerError) and the same message, written
// through pods/status unless the pod already says so.
func (s *Scheduler) reportFailure(ctx context.Context, pod *corev1.Pod, reason string, err error) {
	message := err.Error()
	s.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", message)
	patch, changed := scheduledConditionPatch(pod, reason, message, s.now())
	if !changed {
		return
	}
	s.async(func() {
		_, err := s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			s.log.Warn("updating the PodScheduled condition", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	})
}

// scheduledConditionPatch is the strategic merge patch of pods/status that
// sets PodScheduled=False with reason and message, and whether it changes
// anything. The transition time stays when the condition was already False.
func scheduledConditionPatch(pod *corev1.Pod, reason, message string, now time.Time) ([]byte, bool) {
	transition := metav1.NewTime(now)
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.PodScheduled || c.Status != corev1.ConditionFalse {
			continue
		}
		if c.Reason == reason && c.Message == message {
			return nil, false
		}
		transition = c.LastTransitionTime
	}
	cond := corev1.PodCondition{
		Type:               corev1.PodScheduled,
		Status:             corev1.ConditionFalse,
		Reason:             reason,
		Message:            message,
		LastTransitionTime: transition,
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{cond}}})
	if err != nil {
		// A PodCondition always marshals; nothing to patch otherwise.
		return nil, false
	}
	return patch, true
}
