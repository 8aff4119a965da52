package hollow

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	t0    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	view0 = podView{hostIP: netip.MustParseAddr("172.16.0.1"), podIP: netip.MustParseAddr("10.244.0.7"), seen: t0}
)

// boundPod is a pod just bound by the scheduler: PodScheduled, a QoS
// class, an init container, a sidecar and two containers.
func boundPod(restart corev1.RestartPolicy, annotations map[string]string) *corev1.Pod {
	always := corev1.ContainerRestartPolicyAlways
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1", Generation: 2, Annotations: annotations},
		Spec: corev1.PodSpec{
			NodeName:       "hollow-0",
			RestartPolicy:  restart,
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}, {Name: "sidecar", Image: "envoy", RestartPolicy: &always}},
			Containers:     []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "log", Image: "fluent"}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodPending,
			QOSClass:   corev1.PodQOSBurstable,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0.Add(-time.Minute))}},
		},
	}
}

// advanced is pod after the status of a, as the API would show it.
func advanced(pod *corev1.Pod, a podAction) *corev1.Pod {
	next := pod.DeepCopy()
	next.Status = *a.status
	return next
}

func conditionStatus(st *corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	if i := findCondition(st.Conditions, t); i >= 0 {
		return st.Conditions[i].Status
	}
	return ""
}

func TestANewPodRunsWithItsIPAndEveryConditionTrue(t *testing.T) {
	pod := boundPod(corev1.RestartPolicyAlways, nil)
	a, err := planPod(pod, view0, t0)
	if err != nil || a.status == nil || a.delete || a.after != 0 {
		t.Fatalf("plan = %+v, %v; want a status and nothing else", a, err)
	}
	st := a.status
	if st.Phase != corev1.PodRunning || st.PodIP != "10.244.0.7" || st.PodIPs[0].IP != "10.244.0.7" || st.HostIP != "172.16.0.1" || st.HostIPs[0].IP != "172.16.0.1" {
		t.Errorf("phase %s, pod IP %s %v, host IP %s %v", st.Phase, st.PodIP, st.PodIPs, st.HostIP, st.HostIPs)
	}
	if st.QOSClass != corev1.PodQOSBurstable || st.StartTime == nil || !st.StartTime.Time.Equal(t0) || st.ObservedGeneration != 2 {
		t.Errorf("qos %s, start %v, observed generation %d", st.QOSClass, st.StartTime, st.ObservedGeneration)
	}
	for _, c := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		if s := conditionStatus(st, c); s != corev1.ConditionTrue {
			t.Errorf("condition %s = %q, want True", c, s)
		}
	}
	if got := st.Conditions[findCondition(st.Conditions, corev1.PodScheduled)].LastTransitionTime.Time; !got.Equal(t0.Add(-time.Minute)) {
		t.Errorf("PodScheduled transition time changed to %v", got)
	}
	if len(st.ContainerStatuses) != 2 {
		t.Fatalf("%d container statuses, want 2", len(st.ContainerStatuses))
	}
	for _, c := range st.ContainerStatuses {
		if !c.Ready || c.State.Running == nil || !*c.Started || c.ContainerID == "" || c.Image == "" {
			t.Errorf("container %s: %+v, want running and ready", c.Name, c)
		}
	}
	init, sidecar := st.InitContainerStatuses[0], st.InitContainerStatuses[1]
	if init.State.Terminated == nil || init.State.Terminated.ExitCode != 0 || init.State.Terminated.Reason != "Completed" {
		t.Errorf("init container: %+v, want completed", init.State)
	}
	if sidecar.State.Running == nil || !sidecar.Ready {
		t.Errorf("sidecar: %+v, want running and ready", sidecar)
	}
	if a, _ := planPod(advanced(pod, a), view0, t0.Add(time.Hour)); a.status != nil || a.after != 0 {
		t.Errorf("a running pod without a script: plan %+v, want nothing", a)
	}
}

func TestAStartupDelayKeepsThePodCreatingContainers(t *testing.T) {
	pod := boundPod(corev1.RestartPolicyAlways, nil)
	v := view0
	v.startupDelay = 5 * time.Second
	a, err := planPod(pod, v, t0.Add(time.Second))
	if err != nil || a.status == nil || a.after != 4*time.Second {
		t.Fatalf("plan = %+v, %v; want a pending status and a look after 4s", a, err)
	}
	st := a.status
	if st.Phase != corev1.PodPending || st.PodIP != "" || st.HostIP == "" || st.StartTime == nil ||
		conditionStatus(st, corev1.PodReady) != corev1.ConditionFalse || conditionStatus(st, corev1.PodInitialized) != corev1.ConditionTrue {
		t.Errorf("pending status %+v", st)
	}
	if w := st.ContainerStatuses[1].State.Waiting; w == nil || w.Reason != "ContainerCreating" {
		t.Errorf("container state %+v, want waiting in ContainerCreating", st.ContainerStatuses[1].State)
	}
	if r := st.Conditions[findCondition(st.Conditions, corev1.PodReady)].Message; r != "containers with unready status: [app log]" {
		t.Errorf("Ready message %q", r)
	}
	pending := advanced(pod, a)
	if a, _ := planPod(pending, v, t0.Add(3*time.Second)); a.status != nil || a.after != 2*time.Second {
		t.Errorf("still creating: plan %+v, want only a look after 2s", a)
	}
	a, _ = planPod(pending, v, t0.Add(5*time.Second))
	if a.status == nil || a.status.Phase != corev1.PodRunning || !a.status.StartTime.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("after the delay: %+v, want running with the first start time", a.status)
	}
}

func TestScriptedPodsFinish(t *testing.T) {
	runFor := map[string]string{RunForAnnotation: "2s"}
	fail := map[string]string{FailAnnotation: "true", RunForAnnotation: "2s"}
	for _, tc := range []struct {
		name        string
		restart     corev1.RestartPolicy
		annotations map[string]string
		phase       corev1.PodPhase
		exitCode    int32
		reason      string
	}{
		{"success", corev1.RestartPolicyNever, runFor, corev1.PodSucceeded, 0, "Completed"},
		{"failure", corev1.RestartPolicyNever, fail, corev1.PodFailed, 1, "Error"},
		{"success under OnFailure", corev1.RestartPolicyOnFailure, runFor, corev1.PodSucceeded, 0, "Completed"},
		{"failure at once", corev1.RestartPolicyNever, map[string]string{FailAnnotation: "true"}, corev1.PodFailed, 1, "Error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := boundPod(tc.restart, tc.annotations)
			a, err := planPod(pod, view0, t0)
			if err != nil || a.status == nil || a.after <= 0 || a.after > 2*time.Second {
				t.Fatalf("start: %+v, %v; want running and a look within 2s", a, err)
			}
			running := advanced(pod, a)
			v := view0
			v.since = t0
			if early, _ := planPod(running, v, t0.Add(a.after-time.Millisecond)); early.status != nil && a.after > time.Millisecond {
				t.Fatalf("finished early: %+v", early.status)
			}
			end, _ := planPod(running, v, t0.Add(2*time.Second))
			if end.status == nil || end.status.Phase != tc.phase {
				t.Fatalf("end: %+v, want phase %s", end.status, tc.phase)
			}
			for _, c := range end.status.ContainerStatuses {
				term := c.State.Terminated
				if term == nil || term.ExitCode != tc.exitCode || term.Reason != tc.reason || c.Ready || !term.StartedAt.Time.Equal(t0) {
					t.Errorf("container %s: %+v, want terminated with %d (%s)", c.Name, c.State, tc.exitCode, tc.reason)
				}
			}
			if s := conditionStatus(end.status, corev1.PodReady); s != corev1.ConditionFalse {
				t.Errorf("Ready = %s after the end", s)
			}
			if end.status.PodIP != "10.244.0.7" {
				t.Errorf("pod IP %q lost at the end", end.status.PodIP)
			}
			if after, _ := planPod(advanced(running, end), v, t0.Add(time.Hour)); after.status != nil || after.after != 0 {
				t.Errorf("a finished pod: plan %+v, want nothing", after)
			}
		})
	}
}

func TestFailingContainersUnderOnFailureCrashLoop(t *testing.T) {
	pod := boundPod(corev1.RestartPolicyOnFailure, map[string]string{FailAnnotation: "true", RunForAnnotation: "1s"})
	v := view0
	a, _ := planPod(pod, v, t0)
	pod = advanced(pod, a)
	now := t0
	for restart, wantDelay := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second} {
		v.since = now
		now = now.Add(time.Second)
		crash, _ := planPod(pod, v, now)
		if crash.status == nil || crash.status.Phase != corev1.PodRunning || crash.after != wantDelay {
			t.Fatalf("crash %d: %+v after %s, want still Running and a back-off of %s", restart+1, crash.status, crash.after, wantDelay)
		}
		c := crash.status.ContainerStatuses[0]
		if c.RestartCount != int32(restart+1) || c.State.Waiting == nil || c.State.Waiting.Reason != "CrashLoopBackOff" ||
			c.LastTerminationState.Terminated == nil || c.LastTerminationState.Terminated.ExitCode != 1 || c.Ready {
			t.Fatalf("crash %d: container %+v", restart+1, c)
		}
		if s := conditionStatus(crash.status, corev1.PodReady); s != corev1.ConditionFalse {
			t.Fatalf("crash %d: Ready = %s", restart+1, s)
		}
		pod = advanced(pod, crash)
		v.since = now
		if wait, _ := planPod(pod, v, now.Add(wantDelay-time.Second)); wait.status != nil || wait.after != time.Second {
			t.Fatalf("crash %d: restarted before the back-off: %+v", restart+1, wait)
		}
		now = now.Add(wantDelay)
		again, _ := planPod(pod, v, now)
		if again.status == nil || !containersStartedIn(again.status) || again.status.ContainerStatuses[0].RestartCount != int32(restart+1) {
			t.Fatalf("crash %d: restart %+v", restart+1, again.status)
		}
		pod = advanced(pod, again)
	}
}

func containersStartedIn(st *corev1.PodStatus) bool {
	return containersStarted(&corev1.Pod{Status: *st})
}

func TestPlanEdges(t *testing.T) {
	deletingPending := boundPod(corev1.RestartPolicyAlways, nil)
	deletingPending.DeletionTimestamp = &metav1.Time{Time: t0}
	deletingRunning := boundPod(corev1.RestartPolicyAlways, nil)
	deletingRunning.Status = *runningStatus(deletingRunning, view0, t0)
	deletingRunning.DeletionTimestamp = &metav1.Time{Time: t0}
	deletingEnded := deletingRunning.DeepCopy()
	deletingEnded.Status = *finishedStatus(deletingEnded, 0, t0)
	succeeded := boundPod(corev1.RestartPolicyNever, nil)
	succeeded.Status.Phase = corev1.PodSucceeded
	always := boundPod(corev1.RestartPolicyAlways, map[string]string{RunForAnnotation: "1s", FailAnnotation: "true"})
	always.Status = *runningStatus(always, view0, t0)

	// A pod that ran before the fleet restarted: since is read from the pod.
	restarted := boundPod(corev1.RestartPolicyNever, map[string]string{RunForAnnotation: "10s"})
	restarted.Status = *runningStatus(restarted, view0, t0)

	for _, tc := range []struct {
		name       string
		pod        *corev1.Pod
		now        time.Time
		wantDelete bool
		wantStatus bool
		wantAfter  time.Duration
		wantErr    string
	}{
		{"a pod deleted before it started is deleted", deletingPending, t0, true, false, 0, ""},
		{"a running pod being deleted ends first", deletingRunning, t0, false, true, 0, ""},
		{"a pod being deleted that ended is deleted", deletingEnded, t0, true, false, 0, ""},
		{"a finished pod is left alone", succeeded, t0, false, false, 0, ""},
		{"restartPolicy Always ignores the script", always, t0.Add(time.Hour), false, false, 0, ""},
		{"the start time comes from the pod after a restart", restarted, t0.Add(4 * time.Second), false, false, 6 * time.Second, ""},
		{"a bad duration is an error", boundPod(corev1.RestartPolicyNever, map[string]string{RunForAnnotation: "soon"}), t0, false, false, 0, `annotation hollow.berth.io/run-for="soon"`},
		{"a negative duration is an error", boundPod(corev1.RestartPolicyNever, map[string]string{RunForAnnotation: "-1s"}), t0, false, false, 0, "non-negative"},
		{"a bad boolean is an error", boundPod(corev1.RestartPolicyNever, map[string]string{FailAnnotation: "maybe"}), t0, false, false, 0, "want true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := planPod(tc.pod, view0, tc.now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "ns/p") {
					t.Fatalf("error %v, want one naming the pod and saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || a.delete != tc.wantDelete || (a.status != nil) != tc.wantStatus || a.after != tc.wantAfter {
				t.Fatalf("plan = {delete %v, status %v, after %s}, %v", a.delete, a.status != nil, a.after, err)
			}
		})
	}
}

func TestCrashLoopDelay(t *testing.T) {
	for restarts, want := range map[int32]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 5: 160 * time.Second, 6: 5 * time.Minute, 100: 5 * time.Minute} {
		if got := crashLoopDelay(restarts); got != want {
			t.Errorf("crashLoopDelay(%d) = %s, want %s", restarts, got, want)
		}
	}
}

func TestADeletedRunningPodEndsAsItsScriptSays(t *testing.T) {
	for _, tc := range []struct {
		annotations map[string]string
		phase       corev1.PodPhase
	}{
		{nil, corev1.PodSucceeded},
		{map[string]string{FailAnnotation: "true"}, corev1.PodFailed},
		{map[string]string{FailAnnotation: "garbage"}, corev1.PodSucceeded},
	} {
		pod := boundPod(corev1.RestartPolicyAlways, tc.annotations)
		pod.Status = *runningStatus(pod, view0, t0)
		pod.DeletionTimestamp = &metav1.Time{Time: t0}
		a, err := planPod(pod, view0, t0.Add(time.Second))
		if err != nil || a.status == nil || a.status.Phase != tc.phase || a.status.ContainerStatuses[0].State.Terminated == nil {
			t.Errorf("annotations %v: plan %+v, %v; want the containers ended and phase %s", tc.annotations, a, err, tc.phase)
		}
	}
}
