package lifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/agents/kubelet/probe"
)

func conditionOf(st corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func TestStatus(t *testing.T) {
	always := testPod(corev1.RestartPolicyAlways, nil, "app")
	never := testPod(corev1.RestartPolicyNever, nil, "app")
	withInit := testPod(corev1.RestartPolicyAlways, []string{"i1"}, "app")
	probed := testPod(corev1.RestartPolicyAlways, nil, "app")
	probed.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
	hostNet := testPod(corev1.RestartPolicyAlways, nil, "app")
	hostNet.Spec.HostNetwork = true
	sb := []Sandbox{ready("sb1")}

	tests := []struct {
		name    string
		pod     *corev1.Pod
		obs     Observed
		probes  map[string]probe.Status
		waiting map[string]Waiting
		phase   corev1.PodPhase
		ready   bool
		check   func(*testing.T, corev1.PodStatus)
	}{
		{name: "nothing yet: Pending, ContainerCreating", pod: always, phase: corev1.PodPending,
			check: func(t *testing.T, st corev1.PodStatus) {
				if w := st.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ContainerCreating" {
					t.Errorf("state %+v", st.ContainerStatuses[0].State)
				}
				if c := conditionOf(st, corev1.PodReadyToStartContainers); c.Status != corev1.ConditionFalse {
					t.Errorf("PodReadyToStartContainers %s", c.Status)
				}
				if c := conditionOf(st, corev1.ContainersReady); c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [app]" {
					t.Errorf("ContainersReady %+v", c)
				}
			}},
		{name: "running without probes: Running and Ready", pod: always, obs: Observed{Sandboxes: sb, Containers: []Container{run(always, "c1", "app", 0)}},
			phase: corev1.PodRunning, ready: true,
			check: func(t *testing.T, st corev1.PodStatus) {
				cs := st.ContainerStatuses[0]
				if cs.ContainerID != "containerd://c1" || !cs.Ready || cs.Started == nil || !*cs.Started || cs.State.Running == nil {
					t.Errorf("container status %+v", cs)
				}
				if st.PodIP != "10.0.0.5" || st.HostIP != "192.0.2.9" || len(st.PodIPs) != 1 || len(st.HostIPs) != 1 || st.StartTime == nil {
					t.Errorf("IPs %q %q, start %v", st.PodIP, st.HostIP, st.StartTime)
				}
			}},
		{name: "readiness probe not passed yet: not Ready", pod: probed, obs: Observed{Sandboxes: sb, Containers: []Container{run(probed, "c1", "app", 0)}},
			phase: corev1.PodRunning, ready: false},
		{name: "readiness probe passed: Ready", pod: probed, obs: Observed{Sandboxes: sb, Containers: []Container{run(probed, "c1", "app", 0)}},
			probes: map[string]probe.Status{"c1": {Started: true, Ready: true}}, phase: corev1.PodRunning, ready: true},
		{name: "exit 0 under Never: Succeeded, PodCompleted", pod: never, obs: Observed{Sandboxes: sb, Containers: []Container{exited(run(never, "c1", "app", 0), 0, t0)}},
			phase: corev1.PodSucceeded,
			check: func(t *testing.T, st corev1.PodStatus) {
				if term := st.ContainerStatuses[0].State.Terminated; term == nil || term.Reason != "Completed" {
					t.Errorf("state %+v", st.ContainerStatuses[0].State)
				}
				if c := conditionOf(st, corev1.PodReady); c.Reason != "PodCompleted" {
					t.Errorf("Ready %+v", c)
				}
			}},
		{name: "exit 3 under Never: Failed with the code", pod: never, obs: Observed{Sandboxes: sb, Containers: []Container{exited(run(never, "c1", "app", 0), 3, t0)}},
			phase: corev1.PodFailed,
			check: func(t *testing.T, st corev1.PodStatus) {
				if term := st.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 3 || term.Reason != "Error" {
					t.Errorf("state %+v", st.ContainerStatuses[0].State)
				}
			}},
		{name: "OOMKilled reason from the runtime", pod: never, obs: Observed{Sandboxes: sb, Containers: []Container{func() Container {
			c := exited(run(never, "c1", "app", 0), 137, t0)
			c.Reason = "OOMKilled"
			return c
		}()}}, phase: corev1.PodFailed,
			check: func(t *testing.T, st corev1.PodStatus) {
				if term := st.ContainerStatuses[0].State.Terminated; term == nil || term.Reason != "OOMKilled" {
					t.Errorf("state %+v", st.ContainerStatuses[0].State)
				}
			}},
		{name: "crash loop: Waiting with the last termination, pod Running", pod: always,
			obs:     Observed{Sandboxes: sb, Containers: []Container{exited(run(always, "c0", "app", 0), 1, t0), exited(run(always, "c1", "app", 1), 2, t0)}},
			waiting: map[string]Waiting{"app": {Reason: "CrashLoopBackOff", Message: "back-off 10s"}}, phase: corev1.PodRunning,
			check: func(t *testing.T, st corev1.PodStatus) {
				cs := st.ContainerStatuses[0]
				if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.LastTerminationState.Terminated == nil ||
					cs.LastTerminationState.Terminated.ExitCode != 2 || cs.RestartCount != 1 {
					t.Errorf("container status %+v", cs)
				}
			}},
		{name: "running after restarts: last state is the previous run", pod: always,
			obs:   Observed{Sandboxes: sb, Containers: []Container{exited(run(always, "c0", "app", 0), 1, t0), run(always, "c1", "app", 1)}},
			phase: corev1.PodRunning, ready: true,
			check: func(t *testing.T, st corev1.PodStatus) {
				cs := st.ContainerStatuses[0]
				if cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ContainerID != "containerd://c0" {
					t.Errorf("container status %+v", cs)
				}
			}},
		{name: "image pull failing: Pending with the reason", pod: always, obs: Observed{Sandboxes: sb},
			waiting: map[string]Waiting{"app": {Reason: "ImagePullBackOff", Message: "Back-off pulling image"}}, phase: corev1.PodPending,
			check: func(t *testing.T, st corev1.PodStatus) {
				if w := st.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ImagePullBackOff" {
					t.Errorf("state %+v", st.ContainerStatuses[0].State)
				}
			}},
		{name: "init container running: Pending, PodInitializing", pod: withInit,
			obs: Observed{Sandboxes: sb, Containers: []Container{initRun(run(withInit, "i", "i1", 0))}}, phase: corev1.PodPending,
			check: func(t *testing.T, st corev1.PodStatus) {
				if w := st.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "PodInitializing" {
					t.Errorf("app state %+v", st.ContainerStatuses[0].State)
				}
				if c := conditionOf(st, corev1.PodInitialized); c.Status != corev1.ConditionFalse || c.Message != "containers with incomplete status: [i1]" {
					t.Errorf("Initialized %+v", c)
				}
			}},
		{name: "hostNetwork: the pod IP is the node's", pod: hostNet, obs: Observed{Sandboxes: []Sandbox{{ID: "sb1", Ready: true}}, Containers: []Container{run(hostNet, "c1", "app", 0)}},
			phase: corev1.PodRunning, ready: true,
			check: func(t *testing.T, st corev1.PodStatus) {
				if st.PodIP != "192.0.2.9" {
					t.Errorf("pod IP %q", st.PodIP)
				}
			}},
		{name: "deleted and stopped: terminal by exit codes", pod: deleting(testPod(corev1.RestartPolicyAlways, nil, "app")),
			obs: Observed{Sandboxes: sb, Containers: []Container{exited(run(always, "c1", "app", 0), 137, t0)}}, phase: corev1.PodFailed},
		{name: "a finished pod stays finished", pod: func() *corev1.Pod {
			p := testPod(corev1.RestartPolicyNever, nil, "app")
			p.Status.Phase = corev1.PodSucceeded
			return p
		}(), phase: corev1.PodSucceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := Status(StatusInput{Pod: tc.pod, Observed: tc.obs, Probes: tc.probes, Waiting: tc.waiting, HostIPs: []string{"192.0.2.9"}, Now: t0})
			if st.Phase != tc.phase {
				t.Errorf("phase %s, want %s", st.Phase, tc.phase)
			}
			if got := conditionOf(st, corev1.PodReady).Status == corev1.ConditionTrue; got != tc.ready {
				t.Errorf("Ready %v, want %v", got, tc.ready)
			}
			if tc.check != nil {
				tc.check(t, st)
			}
		})
	}
}

func TestStatusKeepsTransitionTimesAndForeignConditions(t *testing.T) {
	pod := testPod(corev1.RestartPolicyAlways, nil, "app")
	earlier := metav1.NewTime(t0.Add(-time.Hour))
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: earlier},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: earlier},
		{Type: corev1.PodInitialized, Status: corev1.ConditionFalse, LastTransitionTime: earlier},
	}
	st := Status(StatusInput{Pod: pod, Observed: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{run(pod, "c1", "app", 0)}}, Now: t0})
	if c := conditionOf(st, corev1.PodReady); !c.LastTransitionTime.Equal(&earlier) {
		t.Errorf("Ready kept its status but its transition time became %v", c.LastTransitionTime)
	}
	if c := conditionOf(st, corev1.PodInitialized); c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Time.Equal(t0) {
		t.Errorf("Initialized %+v, want True since now", c)
	}
	if c := conditionOf(st, corev1.PodScheduled); c.Status != corev1.ConditionTrue {
		t.Errorf("PodScheduled dropped: %+v", st.Conditions)
	}
	if len(st.Conditions) != 5 {
		t.Errorf("%d conditions, want 5: %+v", len(st.Conditions), st.Conditions)
	}
}
