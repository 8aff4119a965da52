package job

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestBackoffRemaining(t *testing.T) {
	base, limit := 10*time.Second, 6*time.Minute
	tests := []struct {
		failures int
		since    time.Duration
		want     time.Duration
	}{
		{0, 0, 0},
		{1, 0, 10 * time.Second},
		{1, 4 * time.Second, 6 * time.Second},
		{1, 11 * time.Second, 0},
		{2, 0, 20 * time.Second},
		{4, 0, 80 * time.Second},
		{6, 0, 320 * time.Second},
		{7, 0, 6 * time.Minute},
		{50, time.Minute, 5 * time.Minute},
	}
	for _, tt := range tests {
		b := backoff{failures: tt.failures, last: t0.Add(-tt.since)}
		if got := b.remaining(t0, base, limit); got != tt.want {
			t.Errorf("%d failures, last %v ago: remaining %v, want %v", tt.failures, tt.since, got, tt.want)
		}
	}
}

func TestBackoffAfter(t *testing.T) {
	at := func(offset time.Duration) *corev1.Pod {
		return testPod("p", corev1.PodFailed, exitedAt(t0.Add(offset)))
	}
	tests := []struct {
		name      string
		before    backoff
		succeeded []*corev1.Pod
		failed    []*corev1.Pod
		want      backoff
	}{
		{"nothing new", backoff{failures: 2, last: t0}, nil, nil, backoff{failures: 2, last: t0}},
		{"failures add up", backoff{failures: 1, last: t0.Add(-time.Hour)}, nil, []*corev1.Pod{at(-time.Second), at(0)}, backoff{failures: 3, last: t0}},
		{"a success resets", backoff{failures: 4, last: t0.Add(-time.Hour)}, []*corev1.Pod{at(0)}, nil, backoff{}},
		{"failures after the last success count", backoff{failures: 4}, []*corev1.Pod{at(0)}, []*corev1.Pod{at(-time.Second), at(time.Second)}, backoff{failures: 1, last: t0.Add(time.Second)}},
	}
	for _, tt := range tests {
		if got := tt.before.after(tt.succeeded, tt.failed); got != tt.want {
			t.Errorf("%s: after = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestFinishTime(t *testing.T) {
	created := metav1.NewTime(t0.Add(-time.Hour))
	tests := []struct {
		name string
		pod  corev1.Pod
		want time.Time
	}{
		{"latest container exit", corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(t0.Add(-time.Minute))}}},
			{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(t0)}}},
		}}}, t0},
		{"a container still running: when it turned unready", corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}, Status: corev1.PodStatus{
			ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}},
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: metav1.NewTime(t0)}},
		}}, t0},
		{"deleted: when its grace period began", corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			DeletionTimestamp: &metav1.Time{Time: t0.Add(30 * time.Second)}, DeletionGracePeriodSeconds: ptr.To[int64](30),
		}}, t0},
		{"otherwise its creation", corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}}, created.Time},
	}
	for _, tt := range tests {
		if got := finishTime(&tt.pod); !got.Equal(tt.want) {
			t.Errorf("%s: finishTime = %v, want %v", tt.name, got, tt.want)
		}
	}
}
