package hollow

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations that script what the containers of a pod do on a hollow node.
// They apply to pods whose restartPolicy is Never or OnFailure; the
// containers of other pods run until the pod is deleted.
const (
	// RunForAnnotation is how long the containers run before they exit, a
	// Go duration ("2s"); with neither annotation they run forever.
	RunForAnnotation = "hollow.berth.io/run-for"
	// FailAnnotation "true" makes the containers exit with code 1 (after
	// RunForAnnotation, or at once) instead of 0. Under restartPolicy
	// OnFailure they are restarted after kubelet's crash-loop back-off.
	FailAnnotation = "hollow.berth.io/fail"
)

// Crash-loop back-off of restarted containers, as kubelet's: 10 s,
// doubling, at most 5 min.
const (
	crashLoopBaseDelay = 10 * time.Second
	crashLoopMaxDelay  = 5 * time.Minute
)

// podView is what the hollow kubelet knows about a pod beside the object.
type podView struct {
	hostIP, podIP netip.Addr
	// seen is when the pod was first seen bound to the node: its
	// containers start StartupDelay later.
	seen         time.Time
	startupDelay time.Duration
	// since is when the hollow kubelet last changed the containers' state;
	// zero when unknown (after a restart), then read from the pod.
	since time.Time
}

// podAction is what to do about a pod: delete it, write its status, and
// look at it again after a while (zero: only when it changes).
type podAction struct {
	delete bool
	status *corev1.PodStatus
	after  time.Duration
}

// planPod decides what kubelet would do next for pod at now: end its
// containers and then finish its graceful deletion, start its containers
// once the startup delay is over, or end them when the annotations say
// so. Malformed annotations are an error, and the pod is then left
// running (a pod being deleted then ends with exit code 0).
func planPod(pod *corev1.Pod, v podView, now time.Time) (podAction, error) {
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if pod.DeletionTimestamp != nil {
		if terminal || len(pod.Status.ContainerStatuses) == 0 {
			return podAction{delete: true}, nil
		}
		// As kubelet does since 1.27, stop the containers and report the
		// pod's end before deleting it (the update brings the pod back).
		script, _ := scriptOf(pod)
		return podAction{status: finishedStatus(pod, script.exitCode, now)}, nil
	}
	if terminal {
		return podAction{}, nil
	}
	if !containersStarted(pod) {
		if ready := v.seen.Add(v.startupDelay); now.Before(ready) {
			a := podAction{after: ready.Sub(now)}
			if pod.Status.StartTime == nil {
				a.status = pendingStatus(pod, v, now)
			}
			return a, nil
		}
		if waiting, restarts := crashLoopWaiting(pod); waiting {
			if due := stateSince(pod, v).Add(crashLoopDelay(restarts)); now.Before(due) {
				return podAction{after: due.Sub(now)}, nil
			}
		}
	}
	script, err := scriptOf(pod)
	if err != nil {
		return podAction{}, err
	}
	if !containersStarted(pod) {
		a := podAction{status: runningStatus(pod, v, now)}
		if script.finishes {
			a.after = max(script.runFor, time.Millisecond)
		}
		return a, nil
	}
	if !script.finishes {
		return podAction{}, nil
	}
	if due := stateSince(pod, v).Add(script.runFor); now.Before(due) {
		return podAction{after: due.Sub(now)}, nil
	}
	if script.exitCode != 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure {
		st := crashedStatus(pod, now)
		return podAction{status: st, after: crashLoopDelay(st.ContainerStatuses[0].RestartCount)}, nil
	}
	return podAction{status: finishedStatus(pod, script.exitCode, now)}, nil
}

// script is what the annotations ask of a pod's containers.
type script struct {
	finishes bool
	runFor   time.Duration
	exitCode int32
}

func scriptOf(pod *corev1.Pod) (script, error) {
	runFor, hasRunFor := pod.Annotations[RunForAnnotation]
	fail, hasFail := pod.Annotations[FailAnnotation]
	s := script{finishes: (hasRunFor || hasFail) && pod.Spec.RestartPolicy != corev1.RestartPolicyAlways}
	if hasRunFor {
		d, err := time.ParseDuration(runFor)
		if err != nil || d < 0 {
			return script{}, fmt.Errorf("pod %s/%s: annotation %s=%q: want a non-negative duration such as 2s", pod.Namespace, pod.Name, RunForAnnotation, runFor)
		}
		s.runFor = d
	}
	if hasFail {
		b, err := strconv.ParseBool(fail)
		if err != nil {
			return script{}, fmt.Errorf("pod %s/%s: annotation %s=%q: want true or false", pod.Namespace, pod.Name, FailAnnotation, fail)
		}
		if b {
			s.exitCode = 1
		}
	}
	return s, nil
}

// containersStarted says whether the pod's containers run: every one has
// a running state.
func containersStarted(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || len(pod.Status.ContainerStatuses) == 0 {
		return false
	}
	for _, c := range pod.Status.ContainerStatuses {
		if c.State.Running == nil {
			return false
		}
	}
	return true
}

// crashLoopWaiting says whether the containers wait to be restarted, and
// how often they were.
func crashLoopWaiting(pod *corev1.Pod) (bool, int32) {
	for _, c := range pod.Status.ContainerStatuses {
		if c.State.Waiting != nil && c.State.Waiting.Reason == "CrashLoopBackOff" {
			return true, c.RestartCount
		}
	}
	return false, 0
}

func crashLoopDelay(restarts int32) time.Duration {
	d := crashLoopBaseDelay
	for i := int32(1); i < restarts && d < crashLoopMaxDelay; i++ {
		d *= 2
	}
	return min(d, crashLoopMaxDelay)
}

// stateSince is when the containers entered their current state: as the
// hollow kubelet remembers it, or else as the pod says.
func stateSince(pod *corev1.Pod, v podView) time.Time {
	if !v.since.IsZero() {
		return v.since
	}
	var since time.Time
	for _, c := range pod.Status.ContainerStatuses {
		switch {
		case c.State.Running != nil && c.State.Running.StartedAt.After(since):
			since = c.State.Running.StartedAt.Time
		case c.LastTerminationState.Terminated != nil && c.LastTerminationState.Terminated.FinishedAt.After(since):
			since = c.LastTerminationState.Terminated.FinishedAt.Time
		}
	}
	return since
}

// pendingStatus is a pod's status while its containers are being created.
func pendingStatus(pod *corev1.Pod, v podView, now time.Time) *corev1.PodStatus {
	st := baseStatus(pod, v, now)
	st.Phase = corev1.PodPending
	notReady := notReadyMessage(pod)
	setConditions(st, now, pod.Generation,
		condition(corev1.PodReadyToStartContainers, corev1.ConditionFalse, "", ""),
		condition(corev1.PodInitialized, corev1.ConditionTrue, "", ""),
		condition(corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", notReady),
		condition(corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", notReady),
	)
	st.InitContainerStatuses = nil
	st.ContainerStatuses = make([]corev1.ContainerStatus, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		st.ContainerStatuses[i] = corev1.ContainerStatus{
			Name:  c.Name,
			Image: c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		}
	}
	return st
}

// runningStatus is a pod's status once its containers run (again):
// init containers completed, sidecars and containers running and ready.
func runningStatus(pod *corev1.Pod, v podView, now time.Time) *corev1.PodStatus {
	st := baseStatus(pod, v, now)
	st.Phase = corev1.PodRunning
	st.PodIP = v.podIP.String()
	st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	setConditions(st, now, pod.Generation,
		condition(corev1.PodReadyToStartContainers, corev1.ConditionTrue, "", ""),
		condition(corev1.PodInitialized, corev1.ConditionTrue, "", ""),
		condition(corev1.PodReady, corev1.ConditionTrue, "", ""),
		condition(corev1.ContainersReady, corev1.ConditionTrue, "", ""),
	)
	started := metav1.NewTime(now)
	running := func(c corev1.Container, previous *corev1.ContainerStatus) corev1.ContainerStatus {
		s := corev1.ContainerStatus{
			Name:        c.Name,
			Image:       c.Image,
			ImageID:     c.Image,
			ContainerID: containerID(pod, c.Name),
			Ready:       true,
			Started:     ptrTo(true),
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
		}
		if previous != nil {
			s.RestartCount = previous.RestartCount
			s.LastTerminationState = previous.LastTerminationState
		}
		return s
	}
	st.InitContainerStatuses = make([]corev1.ContainerStatus, len(pod.Spec.InitContainers))
	for i, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			st.InitContainerStatuses[i] = running(c, nil)
			continue
		}
		st.InitContainerStatuses[i] = corev1.ContainerStatus{
			Name:        c.Name,
			Image:       c.Image,
			ImageID:     c.Image,
			ContainerID: containerID(pod, c.Name),
			Ready:       true,
			Started:     ptrTo(false),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason: "Completed", StartedAt: started, FinishedAt: started, ContainerID: containerID(pod, c.Name),
			}},
		}
	}
	st.ContainerStatuses = make([]corev1.ContainerStatus, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		st.ContainerStatuses[i] = running(c, previousStatus(pod, c.Name))
	}
	return st
}

// finishedStatus is the terminal status of a pod whose containers exited
// with exitCode: Succeeded for 0, Failed otherwise.
func finishedStatus(pod *corev1.Pod, exitCode int32, now time.Time) *corev1.PodStatus {
	st := pod.Status.DeepCopy()
	st.Phase, st.ObservedGeneration = corev1.PodSucceeded, pod.Generation
	reason := "Completed"
	if exitCode != 0 {
		st.Phase, reason = corev1.PodFailed, "Error"
	}
	setConditions(st, now, pod.Generation,
		condition(corev1.PodReadyToStartContainers, corev1.ConditionFalse, "", ""),
		condition(corev1.PodReady, corev1.ConditionFalse, "PodCompleted", ""),
		condition(corev1.ContainersReady, corev1.ConditionFalse, "PodCompleted", ""),
	)
	for i := range st.ContainerStatuses {
		st.ContainerStatuses[i] = exited(st.ContainerStatuses[i], exitCode, reason, now)
	}
	return st
}

// crashedStatus is the status of a pod whose containers exited with an
// error and wait for their restart (restartPolicy OnFailure).
func crashedStatus(pod *corev1.Pod, now time.Time) *corev1.PodStatus {
	st := pod.Status.DeepCopy()
	st.ObservedGeneration = pod.Generation
	notReady := notReadyMessage(pod)
	setConditions(st, now, pod.Generation,
		condition(corev1.PodReady, corev1.ConditionFalse, "ContainersNotReady", notReady),
		condition(corev1.ContainersReady, corev1.ConditionFalse, "ContainersNotReady", notReady),
	)
	for i, c := range st.ContainerStatuses {
		crashed := exited(c, 1, "Error", now)
		st.ContainerStatuses[i] = corev1.ContainerStatus{
			Name:                 c.Name,
			Image:                c.Image,
			ImageID:              c.ImageID,
			ContainerID:          c.ContainerID,
			Started:              ptrTo(false),
			RestartCount:         c.RestartCount + 1,
			LastTerminationState: crashed.State,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
				Reason:  "CrashLoopBackOff",
				Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", crashLoopDelay(c.RestartCount+1), c.Name, pod.Name, pod.Namespace, pod.UID),
			}},
		}
	}
	return st
}

// exited is a container status after the container ended.
func exited(c corev1.ContainerStatus, exitCode int32, reason string, now time.Time) corev1.ContainerStatus {
	var startedAt metav1.Time
	if c.State.Running != nil {
		startedAt = c.State.Running.StartedAt
	}
	c.Ready, c.Started = false, ptrTo(false)
	c.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: exitCode, Reason: reason, StartedAt: startedAt, FinishedAt: metav1.NewTime(now), ContainerID: c.ContainerID,
	}}
	return c
}

// baseStatus is the pod's status with what kubelet always reports: the
// host's address, the start time and a PodScheduled condition.
func baseStatus(pod *corev1.Pod, v podView, now time.Time) *corev1.PodStatus {
	st := pod.Status.DeepCopy()
	st.ObservedGeneration = pod.Generation
	st.HostIP = v.hostIP.String()
	st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	if st.StartTime == nil {
		t := metav1.NewTime(now)
		st.StartTime = &t
	}
	if findCondition(st.Conditions, corev1.PodScheduled) < 0 {
		setConditions(st, now, pod.Generation, condition(corev1.PodScheduled, corev1.ConditionTrue, "", ""))
	}
	return st
}

func condition(t corev1.PodConditionType, s corev1.ConditionStatus, reason, message string) corev1.PodCondition {
	return corev1.PodCondition{Type: t, Status: s, Reason: reason, Message: message}
}

// setConditions puts conditions into st, replacing those of the same
// type; a condition keeps its transition time while its status holds.
func setConditions(st *corev1.PodStatus, now time.Time, generation int64, conditions ...corev1.PodCondition) {
	for _, c := range conditions {
		c.ObservedGeneration = generation
		c.LastTransitionTime = metav1.NewTime(now)
		i := findCondition(st.Conditions, c.Type)
		if i < 0 {
			st.Conditions = append(st.Conditions, c)
			continue
		}
		if st.Conditions[i].Status == c.Status {
			c.LastTransitionTime = st.Conditions[i].LastTransitionTime
		}
		st.Conditions[i] = c
	}
}

func findCondition(conditions []corev1.PodCondition, t corev1.PodConditionType) int {
	for i, c := range conditions {
		if c.Type == t {
			return i
		}
	}
	return -1
}

func previousStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	for i, c := range pod.Status.ContainerStatuses {
		if c.Name == name {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// notReadyMessage is kubelet's message for containers not ready yet.
func notReadyMessage(pod *corev1.Pod) string {
	names := make([]string, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		names[i] = c.Name
	}
	return "containers with unready status: [" + strings.Join(names, " ") + "]"
}

func containerID(pod *corev1.Pod, container string) string {
	return "hollow://" + string(pod.UID) + "/" + container
}

func ptrTo[T any](v T) *T { return &v }
