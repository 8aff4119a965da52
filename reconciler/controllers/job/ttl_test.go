package job

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestExpiry(t *testing.T) {
	done := func(ct batchv1.JobConditionType, status corev1.ConditionStatus) func(*batchv1.Job) {
		return func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: ct, Status: status, LastTransitionTime: metav1.NewTime(t0)}}
		}
	}
	ttl := func(s int32) func(*batchv1.Job) {
		return func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To(s) }
	}
	gone := func(j *batchv1.Job) { ts := metav1.NewTime(t0); j.DeletionTimestamp = &ts }
	tests := []struct {
		name string
		job  *batchv1.Job
		want time.Time
		ok   bool
	}{
		{"complete with a TTL", testJob(done(batchv1.JobComplete, corev1.ConditionTrue), ttl(60)), t0.Add(time.Minute), true},
		{"failed with a TTL of zero", testJob(done(batchv1.JobFailed, corev1.ConditionTrue), ttl(0)), t0, true},
		{"no TTL", testJob(done(batchv1.JobComplete, corev1.ConditionTrue)), time.Time{}, false},
		{"still running", testJob(ttl(60)), time.Time{}, false},
		{"interim condition only", testJob(done(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue), ttl(60)), time.Time{}, false},
		{"already being deleted", testJob(done(batchv1.JobComplete, corev1.ConditionTrue), ttl(60), gone), time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := expiry(tt.job)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("%s: expiry = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}
