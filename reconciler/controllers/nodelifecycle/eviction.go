package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// evictionDeadline is when a pod with tolerations must leave a node with
// taints, as kube's taint-eviction controller decides. Each NoExecute taint
// is tolerated from its start (timeAdded, or start(taint) for a taint
// without one) for the shortest tolerationSeconds among the pod's
// tolerations that match it (those without tolerationSeconds do not
// limit); the deadline is the earliest end. A NoExecute taint that no
// toleration matches evicts at once: the zero time. ok is false when the
// pod may stay for ever.
func evictionDeadline(tolerations []corev1.Toleration, taints []corev1.Taint, start func(corev1.Taint) time.Time) (deadline time.Time, ok bool) {
	for _, taint := range noExecuteTaints(taints) {
		limit, tolerated, forever := tolerationLimit(tolerations, taint)
		if !tolerated {
			return time.Time{}, true
		}
		if forever {
			continue
		}
		from := start(taint)
		if taint.TimeAdded != nil {
			from = taint.TimeAdded.Time
		}
		if end := from.Add(limit); !ok || end.Before(deadline) {
			deadline, ok = end, true
		}
	}
	return deadline, ok
}

// tolerationLimit is how long the tolerations that match taint let a pod
// stay: tolerated is false when none matches, forever true when none of
// those that match has tolerationSeconds. Negative seconds count as zero.
func tolerationLimit(tolerations []corev1.Toleration, taint corev1.Taint) (limit time.Duration, tolerated, forever bool) {
	forever = true
	for _, tol := range tolerations {
		if !tol.ToleratesTaint(klog.Background(), &taint, false) {
			continue
		}
		tolerated = true
		if tol.TolerationSeconds == nil {
			continue
		}
		d := time.Duration(max(*tol.TolerationSeconds, 0)) * time.Second
		if forever || d < limit {
			limit, forever = d, false
		}
	}
	return limit, tolerated, forever
}

// untimedSince records when each of a node's NoExecute taints without
// timeAdded was first seen, by key: prev's time for those still there, now
// for new ones. It is nil when there are none.
func untimedSince(prev map[string]time.Time, taints []corev1.Taint, now time.Time) map[string]time.Time {
	var out map[string]time.Time
	for _, t := range noExecuteTaints(taints) {
		if t.TimeAdded != nil {
			continue
		}
		if out == nil {
			out = map[string]time.Time{}
		}
		since, seen := prev[t.Key]
		if !seen {
			since = now
		}
		out[t.Key] = since
	}
	return out
}
