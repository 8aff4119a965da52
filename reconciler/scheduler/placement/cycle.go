package placement

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
)

// cycle is one attempt to place one pod: the pod, the snapshot, and what
// the filters and scores compute once per attempt (kube-scheduler's
// PreFilter and PreScore state).
type cycle struct {
	pod          *nodeinfo.PodInfo
	snap         *nodeinfo.Snapshot
	workers      int
	nodeAffinity nodeaffinity.RequiredNodeAffinity
	scalarNames  []corev1.ResourceName
	// interPod is nil when no inter-pod (anti-)affinity applies to the pod.
	interPod *interPodFilterState
	// spread is nil when the pod has no DoNotSchedule spread constraint.
	spread *spreadFilterState
	// softSpread are the pod's ScheduleAnyway spread constraints.
	softSpread []spreadConstraint

	// Filled by the scores' prepare steps.
	preferredNodeAffinity *nodeaffinity.PreferredSchedulingTerms
	preferNoSchedule      []corev1.Toleration
	spreadScore           *spreadScoreState
	interPodScore         topologyScores
}

// newCycle computes what the filters need for pod in snap (workers bounds
// the parallelism of the passes over all nodes). It fails only on terms
// that do not parse, which the API server's validation rejects.
func newCycle(pod *nodeinfo.PodInfo, snap *nodeinfo.Snapshot, workers int) (*cycle, error) {
	c := &cycle{
		pod:          pod,
		snap:         snap,
		workers:      workers,
		nodeAffinity: nodeaffinity.GetRequiredNodeAffinity(pod.Pod),
		scalarNames:  sortedScalarNames(pod.Requests),
	}
	hard, err := spreadConstraints(pod.Pod, corev1.DoNotSchedule)
	if err != nil {
		return nil, err
	}
	if c.softSpread, err = spreadConstraints(pod.Pod, corev1.ScheduleAnyway); err != nil {
		return nil, err
	}
	if a := pod.Pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		if c.preferredNodeAffinity, err = nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
			return nil, fmt.Errorf("pod %s/%s: spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution: %w", pod.Pod.Namespace, pod.Pod.Name, err)
		}
	}
	c.spread = newSpreadFilterState(c, hard)
	c.interPod = newInterPodFilterState(c)
	return c, nil
}
