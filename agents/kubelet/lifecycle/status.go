package lifecycle

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/agents/kubelet/podspec"
	"github.com/berth-io/berth/agents/kubelet/probe"
)

// ContainerIDPrefix is the runtime's scheme in ContainerStatus.ContainerID.
const ContainerIDPrefix = "containerd://"

// StatusInput is what Status reports from.
type StatusInput struct {
	Pod      *corev1.Pod
	Observed Observed
	Probes   map[string]probe.Status
	// Waiting holds why containers wait (Plan's Result.Waiting).
	Waiting map[string]Waiting
	// HostIPs are the node's addresses.
	HostIPs []string
	Now     time.Time
}

// Status is the pod's status as kubelet reports it, built from the
// runtime's view; fields the kubelet does not own (nominatedNodeName,
// the PodScheduled condition, qosClass) are kept from the pod.
func Status(in StatusInput) corev1.PodStatus {
	pod := in.Pod
	old := pod.Status
	st := corev1.PodStatus{
		QOSClass:           old.QOSClass,
		NominatedNodeName:  old.NominatedNodeName,
		StartTime:          old.StartTime,
		ObservedGeneration: pod.Generation,
	}
	if st.StartTime == nil {
		t := metav1.NewTime(in.Now)
		st.StartTime = &t
	}
	for _, ip := range in.HostIPs {
		st.HostIPs = append(st.HostIPs, corev1.HostIP{IP: ip})
	}
	if len(in.HostIPs) > 0 {
		st.HostIP = in.HostIPs[0]
	}
	sb := in.Observed.LatestSandbox()
	var podIPs []string
	switch {
	case pod.Spec.HostNetwork:
		podIPs = in.HostIPs
	case sb != nil:
		podIPs = sb.IPs
	}
	for _, ip := range podIPs {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(podIPs) > 0 {
		st.PodIP = podIPs[0]
	}

	initDone := true
	for i := range pod.Spec.InitContainers {
		cs := containerStatus(in, &pod.Spec.InitContainers[i], podspec.KindInit, false)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			initDone = false
		}
	}
	for i := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(in, &pod.Spec.Containers[i], podspec.KindApp, !initDone))
	}
	terminal := pod.DeletionTimestamp != nil && !anyAlive(in.Observed)
	st.Phase = phase(pod, st, terminal)
	if old.Phase == corev1.PodSucceeded || old.Phase == corev1.PodFailed {
		st.Phase = old.Phase // a finished pod never runs again
	}
	st.Conditions = conditions(pod, st, sb, initDone, in.Now)
	return st
}

// podFinished says whether the pod has run to completion: it is, or its
// containers make it, Succeeded or Failed.
func podFinished(pod *corev1.Pod, obs Observed) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return true
	}
	if obs.LatestSandbox() == nil {
		return false
	}
	p := Status(StatusInput{Pod: pod, Observed: obs}).Phase
	return p == corev1.PodSucceeded || p == corev1.PodFailed
}

func anyAlive(obs Observed) bool {
	for _, c := range obs.Containers {
		if c.alive() {
			return true
		}
	}
	return false
}

func containerStatus(in StatusInput, c *corev1.Container, kind string, initPending bool) corev1.ContainerStatus {
	cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(false)}
	runs := in.Observed.Runs(c.Name, kind, "")
	w, waiting := in.Waiting[c.Name]
	if len(runs) == 0 {
		switch {
		case waiting:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
		case initPending:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "PodInitializing"}
		default:
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}
		return cs
	}
	cur := runs[0]
	cs.RestartCount = int32(cur.RestartCount)
	cs.ContainerID = ContainerIDPrefix + cur.ID
	cs.ImageID = cur.ImageRef
	if len(runs) > 1 && runs[1].State == Exited {
		cs.LastTerminationState.Terminated = terminated(runs[1])
	}
	switch cur.State {
	case Running:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cur.StartedAt)}
		ps, ok := in.Probes[cur.ID]
		if !ok {
			ps = probe.Status{Started: c.StartupProbe == nil, Ready: c.StartupProbe == nil && c.ReadinessProbe == nil}
		}
		cs.Started = new(ps.Started)
		cs.Ready = ps.Ready && kind == podspec.KindApp
	case Exited:
		if waiting {
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
			cs.LastTerminationState.Terminated = terminated(cur)
		} else {
			cs.State.Terminated = terminated(cur)
			cs.Ready = kind == podspec.KindInit && cur.ExitCode == 0
		}
	default:
		reason := "ContainerCreating"
		if waiting {
			reason = w.Reason
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: w.Message}
	}
	return cs
}

func terminated(c Container) *corev1.ContainerStateTerminated {
	reason := c.Reason
	if reason == "" {
		reason = "Error"
		if c.ExitCode == 0 {
			reason = "Completed"
		}
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: c.ExitCode, Reason: reason, Message: c.Message,
		StartedAt: metav1.NewTime(c.StartedAt), FinishedAt: metav1.NewTime(c.FinishedAt),
		ContainerID: ContainerIDPrefix + c.ID,
	}
}

// phase is kubelet's getPhase over the container statuses; terminal is
// set for a deleted pod whose containers all stopped.
func phase(pod *corev1.Pod, st corev1.PodStatus, terminal bool) corev1.PodPhase {
	pendingInit, failedInit := 0, 0
	for _, cs := range st.InitContainerStatuses {
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
		case cs.State.Terminated != nil:
			failedInit++
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.ExitCode != 0:
			failedInit++
			pendingInit++
		default:
			pendingInit++
		}
	}
	if failedInit > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	if pendingInit > 0 || failedInit > 0 {
		if terminal {
			return corev1.PodFailed
		}
		return corev1.PodPending
	}
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for _, cs := range st.ContainerStatuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil:
			stopped++
		case cs.State.Waiting != nil:
			waiting++
		default:
			unknown++
		}
	}
	switch {
	case waiting > 0:
		if terminal {
			return corev1.PodFailed
		}
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if terminal || pod.Spec.RestartPolicy != corev1.RestartPolicyAlways {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			if terminal || pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				return corev1.PodFailed
			}
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

func conditions(pod *corev1.Pod, st corev1.PodStatus, sb *Sandbox, initDone bool, now time.Time) []corev1.PodCondition {
	var out []corev1.PodCondition
	add := func(t corev1.PodConditionType, ok bool, reason, msg string) {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, ObservedGeneration: pod.Generation}
		if ok {
			c.Status = corev1.ConditionTrue
		} else {
			c.Reason, c.Message = reason, msg
		}
		c.LastTransitionTime = metav1.NewTime(now)
		for _, o := range pod.Status.Conditions {
			if o.Type == t && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
				c.LastProbeTime = o.LastProbeTime
			}
		}
		out = append(out, c)
	}
	finished := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	add(corev1.PodReadyToStartContainers, sb != nil && sb.Ready && !finished, "", "")

	var incomplete []string
	for _, cs := range st.InitContainerStatuses {
		if !cs.Ready {
			incomplete = append(incomplete, cs.Name)
		}
	}
	initOK := initDone || finished && len(incomplete) == 0
	if st.Phase == corev1.PodSucceeded && len(pod.Spec.InitContainers) > 0 {
		initOK = true
	}
	add(corev1.PodInitialized, initOK, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " ")))

	var unready []string
	for _, cs := range st.ContainerStatuses {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	ready := len(unready) == 0 && initDone
	reason, msg := "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	if finished {
		ready, reason, msg = false, "PodCompleted", ""
	}
	add(corev1.ContainersReady, ready, reason, msg)

	podReady, podReason, podMsg := ready, reason, msg
	if podReady {
		var missing []string
		for _, g := range pod.Spec.ReadinessGates {
			ok := false
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
					ok = true
				}
			}
			if !ok {
				missing = append(missing, string(g.ConditionType))
			}
		}
		if len(missing) > 0 {
			podReady, podReason, podMsg = false, "ReadinessGatesNotReady", fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", missing[0])
		}
	}
	add(corev1.PodReady, podReady, podReason, podMsg)

	// Conditions the kubelet does not own (PodScheduled, readiness gates,
	// DisruptionTarget) are kept as they are.
	owned := map[corev1.PodConditionType]bool{corev1.PodReadyToStartContainers: true, corev1.PodInitialized: true, corev1.ContainersReady: true, corev1.PodReady: true}
	for _, c := range pod.Status.Conditions {
		if !owned[c.Type] {
			out = append(out, c)
		}
	}
	order := map[corev1.PodConditionType]int{corev1.PodReadyToStartContainers: 0, corev1.PodInitialized: 1, corev1.PodReady: 2, corev1.ContainersReady: 3, corev1.PodScheduled: 4}
	sort.SliceStable(out, func(i, j int) bool {
		oi, ok1 := order[out[i].Type]
		oj, ok2 := order[out[j].Type]
		if !ok1 {
			oi = 9
		}
		if !ok2 {
			oj = 9
		}
		return oi < oj
	})
	return out
}
