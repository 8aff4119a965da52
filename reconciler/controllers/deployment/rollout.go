package deployment

import (
	"math"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The rollout decisions, as pure functions of a Deployment and its
// ReplicaSets. sync.go gathers the inputs and performs the results.

const maxInt32 = math.MaxInt32

// scaleAction sets a ReplicaSet's replicas.
type scaleAction struct {
	rs       *appsv1.ReplicaSet
	replicas int32
}

// desiredReplicas is d.spec.replicas, 1 when unset (the API default).
func desiredReplicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

func isRollingUpdate(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
}

// fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded
// down) against desired. When both come to zero, maxUnavailable is 1 so the
// rollout can move (validation forbids 0/0, but 1% of 10 is 0).
func fenceposts(surge, unavailable *intstr.IntOrString, desired int32) (int32, int32) {
	zero := intstr.FromInt32(0)
	s, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(surge, zero), int(desired), true)
	if err != nil {
		s = 0 // validation rejects malformed values
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(unavailable, zero), int(desired), false)
	if err != nil {
		u = 0
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u)
}

// maxSurge is how many pods above replicas a rolling update may run; 0 for
// Recreate.
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) || d.Spec.Strategy.RollingUpdate == nil {
		return 0
	}
	s, _ := fenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, desiredReplicas(d))
	return s
}

// maxUnavailable is how many of replicas a rolling update may have
// unavailable, at most replicas; 0 for Recreate or zero replicas.
func maxUnavailable(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) || d.Spec.Strategy.RollingUpdate == nil || desiredReplicas(d) == 0 {
		return 0
	}
	_, u := fenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, desiredReplicas(d))
	return min(u, desiredReplicas(d))
}

func sumReplicas(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += replicas(rs)
	}
	return n
}

// sumLive counts the pods the ReplicaSets may be running: a ReplicaSet
// just scaled down still runs the pods it has not deleted yet (its status
// says how many), one just scaled up runs at most its replicas.
func sumLive(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += max(replicas(rs), rs.Status.Replicas)
		}
	}
	return n
}

// available is how many of rs's pods count as available: those its status
// reports, but no more than its replicas (the rest are about to go).
func available(rs *appsv1.ReplicaSet) int32 {
	return min(rs.Status.AvailableReplicas, replicas(rs))
}

func sumAvailable(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += available(rs)
		}
	}
	return n
}

// active are the ReplicaSets (nil skipped) with replicas above zero.
func active(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if replicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// newReplicaSetSize is the size the new ReplicaSet may grow to now: for a
// rolling update as far as replicas + maxSurge allows counting the pods of
// every ReplicaSet (never beyond replicas); for Recreate all replicas at
// once. Kubernetes counts replicas only, so its pods can briefly exceed
// the surge while a scaled-down ReplicaSet deletes its own; counting the
// pods not yet deleted keeps the bound (at the cost of waiting for them).
func newReplicaSetSize(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	if !isRollingUpdate(d) {
		return desiredReplicas(d)
	}
	want := desiredReplicas(d)
	ceiling := want + maxSurge(d)
	current := sumLive(all)
	if current >= ceiling {
		return replicas(newRS)
	}
	return replicas(newRS) + min(ceiling-current, want-replicas(newRS))
}

// rollingStep is one step of a rolling update: grow the new ReplicaSet
// within maxSurge if it can, otherwise shrink old ones within
// maxUnavailable: first the old pods that are not available anyway, then
// available ones while enough stay available. oldRSs are every old
// ReplicaSet; the result is empty when nothing may move until pods change.
func rollingStep(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) []scaleAction {
	all := append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)
	want := desiredReplicas(d)
	switch cur := replicas(newRS); {
	case cur > want:
		return []scaleAction{{newRS, want}}
	case cur < want:
		if n := newReplicaSetSize(d, all, newRS); n != cur {
			return []scaleAction{{newRS, n}}
		}
	}
	return scaleDownOld(d, newRS, all, active(oldRSs))
}

// scaleDownOld shrinks the old ReplicaSets, oldest first, as far as
// maxUnavailable allows.
func scaleDownOld(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all, old []*appsv1.ReplicaSet) []scaleAction {
	if sumReplicas(old) == 0 {
		return nil
	}
	minAvailable := desiredReplicas(d) - maxUnavailable(d)
	newUnavailable := replicas(newRS) - available(newRS)
	budget := sumReplicas(all) - minAvailable - newUnavailable
	if budget <= 0 {
		return nil
	}
	old = append([]*appsv1.ReplicaSet(nil), old...)
	sort.SliceStable(old, byCreation(old))
	size := make([]int32, len(old))
	for i, rs := range old {
		size[i] = replicas(rs)
	}
	// Pods that are not available cost no availability to remove.
	var removed int32
	for i, rs := range old {
		if removed >= budget {
			break
		}
		if unavailable := size[i] - available(rs); unavailable > 0 {
			n := min(budget-removed, unavailable)
			size[i] -= n
			removed += n
		}
	}
	// Then available pods, while more than minAvailable are. Pods beyond a
	// ReplicaSet's replicas do not count: they are going.
	if excess := sumAvailable(append(old, newRS)) - minAvailable; excess > 0 {
		var done int32
		for i := range old {
			if done >= excess {
				break
			}
			n := min(size[i], excess-done)
			size[i] -= n
			done += n
		}
	}
	var out []scaleAction
	for i, rs := range old {
		if size[i] != replicas(rs) {
			out = append(out, scaleAction{rs, size[i]})
		}
	}
	return out
}

// scaleToZero scales every ReplicaSet of rss that has replicas to zero.
func scaleToZero(rss []*appsv1.ReplicaSet) []scaleAction {
	var out []scaleAction
	for _, rs := range active(rss) {
		out = append(out, scaleAction{rs, 0})
	}
	return out
}

// oldPodsRunning reports whether any pod of an old ReplicaSet may still
// run: Recreate starts new pods only once none does. podsByRS maps a
// ReplicaSet's UID to its pods.
func oldPodsRunning(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, podsByRS map[string][]*corev1.Pod) bool {
	for _, rs := range oldRSs {
		if rs.Status.Replicas > 0 {
			return true
		}
	}
	for uid, pods := range podsByRS {
		if newRS != nil && string(newRS.UID) == uid {
			continue
		}
		for _, p := range pods {
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				return true
			}
		}
	}
	return false
}

// isScalingEvent reports whether d's replicas changed since its active
// ReplicaSets were last sized (their desired-replicas annotation).
func isScalingEvent(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) bool {
	for _, rs := range active(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS)) {
		if v, ok := replicasAnnotation(rs, DesiredReplicasAnnotation); ok && v != desiredReplicas(d) {
			return true
		}
	}
	return false
}

// isSaturated reports whether rs alone runs all of d's replicas, available,
// sized for d's current replicas.
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	want := desiredReplicas(d)
	v, ok := replicasAnnotation(rs, DesiredReplicasAnnotation)
	return ok && v == want && replicas(rs) == want && rs.Status.AvailableReplicas == want
}

// proportionalScale resizes a Deployment whose replicas changed, or that
// is paused, without moving the rollout: a single active ReplicaSet takes
// the new size; a saturated new ReplicaSet lets the old ones go to zero;
// during a rolling update the change is shared among the active
// ReplicaSets in proportion to their sizes (the largest first, rounding
// leftovers to the first). Every active ReplicaSet is returned in the last
// case, so that its annotations are brought up to date.
func proportionalScale(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) []scaleAction {
	want := desiredReplicas(d)
	if only := activeOrLatest(newRS, oldRSs); only != nil {
		if replicas(only) == want {
			return nil
		}
		return []scaleAction{{only, want}}
	}
	if isSaturated(d, newRS) {
		return scaleToZero(oldRSs)
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := active(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS))
	var allowed int32
	if want > 0 {
		allowed = want + maxSurge(d)
	}
	toAdd := allowed - sumReplicas(all)
	switch {
	case toAdd > 0:
		sort.SliceStable(all, bySize(all, true))
	case toAdd < 0:
		sort.SliceStable(all, bySize(all, false))
	}
	size := make([]int32, len(all))
	var added int32
	for i, rs := range all {
		size[i] = replicas(rs)
		if toAdd != 0 {
			p := proportion(d, rs, toAdd, added)
			size[i] += p
			added += p
		}
	}
	if toAdd != 0 && len(all) > 0 {
		size[0] = max(size[0]+toAdd-added, 0)
	}
	out := make([]scaleAction, len(all))
	for i, rs := range all {
		out[i] = scaleAction{rs, size[i]}
	}
	return out
}

// activeOrLatest is the only active ReplicaSet, or the newest one when none
// is active; nil when several are active.
func activeOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	all := active(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS))
	switch {
	case len(all) == 1:
		return all[0]
	case len(all) > 1:
		return nil
	case newRS != nil:
		return newRS
	case len(oldRSs) == 0:
		return nil
	}
	newest := oldRSs[0]
	for _, rs := range oldRSs[1:] {
		if rs.CreationTimestamp.After(newest.CreationTimestamp.Time) {
			newest = rs
		}
	}
	return newest
}

// bySize orders ReplicaSets largest first; ties go newest first when
// growing, oldest first when shrinking.
func bySize(rss []*appsv1.ReplicaSet, newerFirst bool) func(i, j int) bool {
	older := byCreation(rss)
	return func(i, j int) bool {
		if ri, rj := replicas(rss[i]), replicas(rss[j]); ri != rj {
			return ri > rj
		}
		if newerFirst {
			return older(j, i)
		}
		return older(i, j)
	}
}

// proportion is rs's share of toAdd (negative to remove) given added
// already handed out: its size scaled by the Deployment's new maximum over
// the maximum it was last sized for, never beyond what is left.
func proportion(d *appsv1.Deployment, rs *appsv1.ReplicaSet, toAdd, added int32) int32 {
	if replicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	share := fraction(d, rs)
	left := toAdd - added
	if toAdd > 0 {
		return min(share, left)
	}
	return max(share, left)
}

// fraction is how many replicas rs gains (or loses) if it keeps its share
// of the Deployment's maximum size.
func fraction(d *appsv1.Deployment, rs *appsv1.ReplicaSet) int32 {
	want := desiredReplicas(d)
	if want == 0 {
		return -replicas(rs)
	}
	newMax := want + maxSurge(d)
	oldMax, ok := replicasAnnotation(rs, MaxReplicasAnnotation)
	if !ok || oldMax == 0 {
		oldMax = d.Status.Replicas
		if oldMax == 0 {
			return 0
		}
	}
	scaled := float64(replicas(rs)) * float64(newMax) / float64(oldMax)
	return int32(math.Round(scaled)) - replicas(rs)
}
