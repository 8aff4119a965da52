package job

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Kubernetes' pod failure back-off: the first retry waits DefaultBackoff,
// each further failure doubles it, up to DefaultMaxBackoff.
const (
	DefaultBackoff    = 10 * time.Second
	DefaultMaxBackoff = 6 * time.Minute
)

// backoff is a job's failure record: how many of its pods failed since
// the last one succeeded, and when the last of those finished. The
// controller keeps it in memory, as kube-controller-manager does.
type backoff struct {
	failures int
	last     time.Time
}

// after is the record once newly succeeded and failed pods are counted. A
// success resets it; failures after the latest success count again.
func (b backoff) after(succeeded, failed []*corev1.Pod) backoff {
	if len(succeeded) == 0 && len(failed) == 0 {
		return b
	}
	var lastSuccess time.Time
	if len(succeeded) > 0 {
		b = backoff{}
		for _, p := range succeeded {
			if t := finishTime(p); t.After(lastSuccess) {
				lastSuccess = t
			}
		}
	}
	times := make([]time.Time, 0, len(failed))
	for _, p := range failed {
		if t := finishTime(p); len(succeeded) == 0 || t.After(lastSuccess) {
			times = append(times, t)
		}
	}
	if len(times) == 0 {
		return b
	}
	b.failures += len(times)
	if latest := slices.MaxFunc(times, time.Time.Compare); latest.After(b.last) {
		b.last = latest
	}
	return b
}

// remaining is how long new pods must still wait at now: base after the
// first failure, doubling per further failure up to limit, counted from
// the last failure.
func (b backoff) remaining(now time.Time, base, limit time.Duration) time.Duration {
	if b.failures == 0 {
		return 0
	}
	delay := base
	for i := 1; i < b.failures && delay < limit; i++ {
		delay *= 2
	}
	delay = min(delay, limit)
	return max(delay-now.Sub(b.last), 0)
}

// finishTime is when pod p stopped: the latest termination of its
// containers, else when it turned unready, else when its deletion began,
// else its creation.
func finishTime(p *corev1.Pod) time.Time {
	var latest time.Time
	allTerminated := len(p.Status.ContainerStatuses) > 0
	for _, cs := range p.Status.ContainerStatuses {
		t := cs.State.Terminated
		if t == nil || t.FinishedAt.IsZero() {
			allTerminated = false
			break
		}
		if t.FinishedAt.After(latest) {
			latest = t.FinishedAt.Time
		}
	}
	if allTerminated {
		return latest
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Add(-time.Duration(ptr.Deref(p.DeletionGracePeriodSeconds, 0)) * time.Second)
	}
	return p.CreationTimestamp.Time
}
