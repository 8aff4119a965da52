package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/kubectl/pkg/util/podutils"
)

// The decisions of the ReplicaSet controller, as pure functions of what it
// observed. sync.go gathers the inputs and performs the results.

// DeletionCostAnnotation lets users say which pods of a ReplicaSet to
// remove first on scale down: lower cost goes first (Kubernetes' name).
const DeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// reconcileReplicas decides how to bring pods (the active pods a ReplicaSet
// controls) to desired: how many to create, or which to delete, at most
// burst either way. related are the active pods of every ReplicaSet under
// the same controller (a Deployment's), used to spread deletions: pods that
// share a node with more of their siblings go first.
func reconcileReplicas(desired int, pods, related []*corev1.Pod, burst int, now time.Time) (create int, remove []*corev1.Pod) {
	diff := len(pods) - desired
	switch {
	case diff < 0:
		return min(-diff, burst), nil
	case diff > 0:
		return 0, podsToDelete(pods, related, min(diff, burst), now)
	}
	return 0, nil
}

// podsToDelete returns the n least useful of pods (see deleteFirst).
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	onNode := map[string]int{}
	for _, p := range related {
		if isActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	ranked := make([]rankedPod, len(pods))
	for i, p := range pods {
		ranked[i] = rankedPod{pod: p, colocated: onNode[p.Spec.NodeName]}
	}
	sort.SliceStable(ranked, func(i, j int) bool { return deleteFirst(ranked[i], ranked[j], now) })
	out := make([]*corev1.Pod, n)
	for i := range out {
		out[i] = ranked[i].pod
	}
	return out
}

// rankedPod is a pod and the number of active sibling pods on its node.
type rankedPod struct {
	pod       *corev1.Pod
	colocated int
}

// phaseOrder ranks phases by how far a pod got: pending pods go first.
var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// deleteFirst reports whether a is less useful than b, in Kubernetes'
// order: unscheduled before scheduled; Pending before Unknown before
// Running; not ready before ready; lower deletion cost first; more
// siblings on the same node first; ready for less time first; more
// container restarts first; newer first. Times count on a log2 scale from
// now, so pods of about the same age tie and fall to their UIDs.
func deleteFirst(a, b rankedPod, now time.Time) bool {
	pa, pb := a.pod, b.pod
	if sa, sb := pa.Spec.NodeName == "", pb.Spec.NodeName == ""; sa != sb {
		return sa
	}
	if oa, ob := phaseOrder[pa.Status.Phase], phaseOrder[pb.Status.Phase]; oa != ob {
		return oa < ob
	}
	ra, rb := podutils.IsPodReady(pa), podutils.IsPodReady(pb)
	if ra != rb {
		return !ra
	}
	if ca, cb := deletionCost(pa), deletionCost(pb); ca != cb {
		return ca < cb
	}
	if a.colocated != b.colocated {
		return a.colocated > b.colocated
	}
	if ra && rb {
		if less, decided := newerFirst(readySince(pa), readySince(pb), pa.UID < pb.UID, now); decided {
			return less
		}
	}
	if xa, xb := restarts(pa), restarts(pb); xa != xb {
		if xa[0] != xb[0] {
			return xa[0] > xb[0]
		}
		return xa[1] > xb[1]
	}
	less, _ := newerFirst(pa.CreationTimestamp.Time, pb.CreationTimestamp.Time, pa.UID < pb.UID, now)
	return less
}

// newerFirst orders two times newest first, a zero time before any other;
// decided is false when they are equal. Non-zero times within the same
// power-of-two age bucket tie, and uidLess breaks the tie.
func newerFirst(a, b time.Time, uidLess bool, now time.Time) (less, decided bool) {
	if a.Equal(b) {
		return false, false
	}
	if a.IsZero() || b.IsZero() {
		return a.IsZero(), true
	}
	if ba, bb := ageBucket(a, now), ageBucket(b, now); ba != bb {
		return ba < bb, true
	}
	return uidLess, true
}

// ageBucket is floor(log2(now - t in ns)), or -1 for a time not in the past.
func ageBucket(t, now time.Time) int64 {
	d := now.Sub(t)
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

// readySince is when pod's Ready condition last became true.
func readySince(pod *corev1.Pod) time.Time {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// restarts is the highest restart count of pod's regular containers and of
// its sidecars (init containers that always restart).
func restarts(pod *corev1.Pod) [2]int32 {
	var out [2]int32
	for _, c := range pod.Status.ContainerStatuses {
		out[0] = max(out[0], c.RestartCount)
	}
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		sidecars[c.Name] = c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	}
	for _, c := range pod.Status.InitContainerStatuses {
		if sidecars[c.Name] {
			out[1] = max(out[1], c.RestartCount)
		}
	}
	return out
}

// deletionCost reads DeletionCostAnnotation; absent or malformed is 0.
func deletionCost(pod *corev1.Pod) int32 {
	v, err := strconv.ParseInt(pod.Annotations[DeletionCostAnnotation], 10, 32)
	if err != nil {
		return 0
	}
	return int32(v)
}

// isActive reports whether pod counts toward a ReplicaSet's replicas: not
// finished and not being deleted.
func isActive(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.DeletionTimestamp == nil
}

// isTerminating reports whether pod is being deleted but not finished.
func isTerminating(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.DeletionTimestamp != nil
}

// slowStartBatches splits n creations into batches of 1, 2, 4, ... (the
// last one smaller), so that a systematic failure (quota, admission) costs
// one request rather than n.
func slowStartBatches(n int) []int {
	var out []int
	for size := 1; n > 0; size *= 2 {
		b := min(size, n)
		out = append(out, b)
		n -= b
	}
	return out
}

// calculateStatus is rs's status for its active and terminating pods, as
// of rs's generation.
// manageErr, the error of the last create or delete round, sets or clears
// the ReplicaFailure condition.
func calculateStatus(rs *appsv1.ReplicaSet, active, terminating []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	status := *rs.Status.DeepCopy()
	template := labels.SelectorFromSet(rs.Spec.Template.Labels)
	var labelled, ready, available int32
	for _, p := range active {
		if template.Matches(labels.Set(p.Labels)) {
			labelled++
		}
		if podutils.IsPodReady(p) {
			ready++
			if podutils.IsPodAvailable(p, rs.Spec.MinReadySeconds, metav1.NewTime(now)) {
				available++
			}
		}
	}
	status.ObservedGeneration = rs.Generation
	status.Replicas = int32(len(active))
	status.FullyLabeledReplicas = labelled
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	n := int32(len(terminating))
	status.TerminatingReplicas = &n

	failure := condition(status, appsv1.ReplicaSetReplicaFailure)
	switch {
	case manageErr != nil && failure == nil:
		reason := "FailedCreate"
		if len(active) > int(replicas(rs)) {
			reason = "FailedDelete"
		}
		status.Conditions = append(status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		status.Conditions = withoutCondition(status.Conditions, appsv1.ReplicaSetReplicaFailure)
	}
	return status
}

// nextAvailabilityCheck is how long until the first of pods that is ready
// but not yet available (minReadySeconds not over) becomes available; zero
// when none is waiting.
func nextAvailabilityCheck(pods []*corev1.Pod, minReadySeconds int32, now time.Time) time.Duration {
	if minReadySeconds <= 0 {
		return 0
	}
	var next time.Duration
	for _, p := range pods {
		since := readySince(p)
		if !podutils.IsPodReady(p) || since.IsZero() || podutils.IsPodAvailable(p, minReadySeconds, metav1.NewTime(now)) {
			continue
		}
		wait := since.Add(time.Duration(minReadySeconds) * time.Second).Sub(now)
		// IsPodAvailable wants strictly after: add a moment.
		wait = max(wait, 0) + 100*time.Millisecond
		if next == 0 || wait < next {
			next = wait
		}
	}
	return next
}

func condition(status appsv1.ReplicaSetStatus, t appsv1.ReplicaSetConditionType) *appsv1.ReplicaSetCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

func withoutCondition(conds []appsv1.ReplicaSetCondition, t appsv1.ReplicaSetConditionType) []appsv1.ReplicaSetCondition {
	var out []appsv1.ReplicaSetCondition
	for _, c := range conds {
		if c.Type != t {
			out = append(out, c)
		}
	}
	return out
}

// replicas is rs.spec.replicas, 1 when unset (the API default).
func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}
