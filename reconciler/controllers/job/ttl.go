package job

import (
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// finishedAt reports whether job has ended (its Complete or Failed
// condition is True) and when.
func finishedAt(job *batchv1.Job) (time.Time, bool) {
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

// expiry reports whether job is to be deleted after it finished
// (ttlSecondsAfterFinished) and when.
func expiry(job *batchv1.Job) (time.Time, bool) {
	ttl := job.Spec.TTLSecondsAfterFinished
	at, finished := finishedAt(job)
	if ttl == nil || !finished || job.DeletionTimestamp != nil {
		return time.Time{}, false
	}
	return at.Add(time.Duration(*ttl) * time.Second), true
}
