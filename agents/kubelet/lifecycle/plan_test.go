package lifecycle

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/agents/kubelet/podspec"
	"github.com/berth-io/berth/agents/kubelet/probe"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testPod(policy corev1.RestartPolicy, inits []string, apps ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u1"}, Spec: corev1.PodSpec{RestartPolicy: policy}}
	for _, n := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n, Image: "img"})
	}
	for _, n := range apps {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: "img"})
	}
	return p
}

func ready(id string) Sandbox {
	return Sandbox{ID: id, Ready: true, CreatedAt: t0, IPs: []string{"10.0.0.5"}}
}

func run(pod *corev1.Pod, id, name string, restarts int) Container {
	c := Container{ID: id, SandboxID: "sb1", Name: name, Kind: podspec.KindApp, RestartCount: restarts, State: Running,
		CreatedAt: t0.Add(time.Duration(restarts) * time.Second), StartedAt: t0.Add(time.Duration(restarts) * time.Second)}
	if spec := containerSpecOf(pod, name); spec != nil {
		c.Hash = podspec.Hash(spec)
	}
	return c
}

func exited(c Container, code int32, finished time.Time) Container {
	c.State, c.ExitCode, c.FinishedAt = Exited, code, finished
	return c
}

func initRun(c Container) Container { c.Kind = podspec.KindInit; return c }

func containerSpecOf(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func deleting(p *corev1.Pod) *corev1.Pod {
	now := metav1.NewTime(t0)
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, new(int64(30))
	return p
}

func TestPlan(t *testing.T) {
	always := testPod(corev1.RestartPolicyAlways, nil, "app")
	never := testPod(corev1.RestartPolicyNever, nil, "app")
	onFailure := testPod(corev1.RestartPolicyOnFailure, nil, "app")
	withInit := testPod(corev1.RestartPolicyAlways, []string{"i1", "i2"}, "app")
	changed := testPod(corev1.RestartPolicyAlways, nil, "app")
	changedRun := run(changed, "c1", "app", 0)
	changed.Spec.Containers[0].Image = "img:v2"
	backoff := Backoff{Initial: 10 * time.Second, Max: 5 * time.Minute}

	tests := []struct {
		name     string
		pod      *corev1.Pod
		obs      Observed
		probes   map[string]probe.Status
		failures map[string]Failure
		now      time.Time
		want     []string
		waiting  map[string]string
		requeue  time.Duration
	}{
		{name: "new pod: sandbox, then its containers",
			pod: always, want: []string{"CreateSandbox(attempt 0)", "StartContainer(app app, restart 0)"}},
		{name: "new pod with init containers: only the first init container",
			pod: withInit, want: []string{"CreateSandbox(attempt 0)", "StartContainer(init i1, restart 0)"}},
		{name: "running pod: nothing to do",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{run(always, "c1", "app", 0)}}},
		{name: "first init done: the second starts",
			pod: withInit, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{exited(initRun(run(withInit, "i1a", "i1", 0)), 0, t0)}},
			want: []string{"StartContainer(init i2, restart 0)"}},
		{name: "init container running: wait for it",
			pod: withInit, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{initRun(run(withInit, "i1a", "i1", 0))}}},
		{name: "all init containers done: app starts",
			pod: withInit, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{
				exited(initRun(run(withInit, "i1a", "i1", 0)), 0, t0), exited(initRun(run(withInit, "i2a", "i2", 0)), 0, t0)}},
			want: []string{"StartContainer(app app, restart 0)"}},
		{name: "failed init container under Always: restarted (first time at once)",
			pod: withInit, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{exited(initRun(run(withInit, "i1a", "i1", 0)), 1, t0)}},
			now: t0.Add(time.Millisecond), want: []string{"StartContainer(init i1, restart 1)"}},
		{name: "first crash: restart at once",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{exited(run(always, "c1", "app", 0), 1, t0)}},
			now: t0.Add(time.Millisecond), want: []string{"StartContainer(app app, restart 1)"}},
		{name: "second crash: CrashLoopBackOff for 10s",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{exited(run(always, "c0", "app", 0), 1, t0), exited(run(always, "c1", "app", 1), 1, t0.Add(2*time.Second))}},
			now: t0.Add(3 * time.Second), waiting: map[string]string{"app": "CrashLoopBackOff"}, requeue: 9 * time.Second},
		{name: "second crash, back-off over: restart",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{exited(run(always, "c0", "app", 0), 1, t0), exited(run(always, "c1", "app", 1), 1, t0.Add(2*time.Second))}},
			now: t0.Add(12 * time.Second), want: []string{"StartContainer(app app, restart 2)"}},
		{name: "third run exited: the oldest run is removed, back-off 20s",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{
				exited(run(always, "c0", "app", 0), 1, t0), exited(run(always, "c1", "app", 1), 1, t0), exited(run(always, "c2", "app", 2), 0, t0)}},
			now: t0.Add(time.Second), want: []string{"RemoveContainer(app c0: old run)"}, waiting: map[string]string{"app": "CrashLoopBackOff"}, requeue: 19 * time.Second},
		{name: "exit 0 under Always restarts too",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{exited(run(always, "c1", "app", 0), 0, t0)}},
			now: t0, want: []string{"StartContainer(app app, restart 1)"}},
		{name: "exit 0 under OnFailure: pod finished, sandbox stopped",
			pod: onFailure, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{exited(run(onFailure, "c1", "app", 0), 0, t0)}},
			now: t0, want: []string{"StopSandbox(sb1)"}},
		{name: "exit 1 under OnFailure: restarted",
			pod: onFailure, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{exited(run(onFailure, "c1", "app", 0), 1, t0)}},
			now: t0, want: []string{"StartContainer(app app, restart 1)"}},
		{name: "exit 1 under Never: pod failed, sandbox stopped",
			pod: never, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{exited(run(never, "c1", "app", 0), 1, t0)}},
			now: t0, want: []string{"StopSandbox(sb1)"}},
		{name: "finished pod with stopped sandbox: nothing more",
			pod: never, obs: Observed{Sandboxes: []Sandbox{{ID: "sb1", CreatedAt: t0}}, Containers: []Container{exited(run(never, "c1", "app", 0), 1, t0)}},
			now: t0},
		{name: "liveness failed: kill",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{run(always, "c1", "app", 0)}},
			probes: map[string]probe.Status{"c1": {Restart: true}}, want: []string{"KillContainer(app c1: failed liveness or startup probe)"}},
		{name: "image changed: replace",
			pod: changed, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{changedRun}},
			want: []string{"KillContainer(app c1: container spec changed)"}},
		{name: "sandbox died: new sandbox, containers again",
			pod: always, obs: Observed{Sandboxes: []Sandbox{{ID: "sb1", CreatedAt: t0}}, Containers: []Container{exited(run(always, "c1", "app", 0), 137, t0)}},
			now: t0, want: []string{"CreateSandbox(attempt 1)", "StartContainer(app app, restart 1)"}},
		{name: "sandbox died under Never: no new sandbox",
			pod: never, obs: Observed{Sandboxes: []Sandbox{{ID: "sb1", CreatedAt: t0}}, Containers: []Container{exited(run(never, "c1", "app", 0), 137, t0)}},
			now: t0},
		{name: "old sandbox removed once the new one has containers",
			pod: always, obs: Observed{Sandboxes: []Sandbox{{ID: "sb0", CreatedAt: t0.Add(-time.Minute)}, {ID: "sb1", Attempt: 1, Ready: true, CreatedAt: t0}},
				Containers: []Container{run(always, "c1", "app", 1)}},
			want: []string{"RemoveSandbox(sb0)"}},
		{name: "deleted: kill running containers",
			pod: deleting(testPod(corev1.RestartPolicyAlways, nil, "a", "b")), obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{
				{ID: "ca", SandboxID: "sb1", Name: "a", Kind: podspec.KindApp, State: Running}, {ID: "cb", SandboxID: "sb1", Name: "b", Kind: podspec.KindApp, State: Exited}}},
			want: []string{"KillContainer(a ca: pod is being deleted)"}},
		{name: "deleted, containers stopped: stop and remove the sandbox, finish",
			pod: deleting(testPod(corev1.RestartPolicyAlways, nil, "a")), obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{
				{ID: "ca", SandboxID: "sb1", Name: "a", Kind: podspec.KindApp, State: Exited}}},
			want: []string{"StopSandbox(sb1)", "RemoveSandbox(sb1)", "FinishDeletion"}},
		{name: "deleted before it ran: finish at once",
			pod: deleting(testPod(corev1.RestartPolicyAlways, nil, "a")), want: []string{"FinishDeletion"}},
		{name: "image pull failed recently: ImagePullBackOff",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}},
			failures: map[string]Failure{"app": {Reason: "ErrImagePull", Message: "no registry", At: t0, Count: 1}},
			now:      t0.Add(time.Second), waiting: map[string]string{"app": "ImagePullBackOff"}, requeue: 9 * time.Second},
		{name: "config error, back-off over: try again",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}},
			failures: map[string]Failure{"app": {Reason: "CreateContainerConfigError", At: t0, Count: 1}},
			now:      t0.Add(11 * time.Second), want: []string{"StartContainer(app app, restart 0)"}},
		{name: "sandbox failed recently: wait, containers say why",
			pod: always, failures: map[string]Failure{SandboxFailure: {Reason: "FailedCreatePodSandBox", Message: "no network", At: t0, Count: 1}},
			now: t0.Add(time.Second), waiting: map[string]string{"app": "ContainerCreating"}, requeue: 9 * time.Second},
		{name: "sandbox failed, back-off over: try again",
			pod: always, failures: map[string]Failure{SandboxFailure: {Reason: "FailedCreatePodSandBox", At: t0, Count: 1}},
			now: t0.Add(11 * time.Second), want: []string{"CreateSandbox(attempt 0)", "StartContainer(app app, restart 0)"}},
		{name: "a created run that never started is replaced",
			pod: always, obs: Observed{Sandboxes: []Sandbox{ready("sb1")}, Containers: []Container{{ID: "c1", SandboxID: "sb1", Name: "app", Kind: podspec.KindApp, State: Created}}},
			want: []string{"RemoveContainer(app c1: never started)", "StartContainer(app app, restart 1)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			r := Plan(Input{Pod: tc.pod, Observed: tc.obs, Probes: tc.probes, Failures: tc.failures, Backoff: backoff, Now: now})
			var got []string
			for _, a := range r.Actions {
				got = append(got, a.String())
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("actions\n got %q\nwant %q", got, tc.want)
			}
			waiting := map[string]string{}
			for n, w := range r.Waiting {
				waiting[n] = w.Reason
			}
			if len(tc.waiting) == 0 {
				tc.waiting = map[string]string{}
			}
			if !reflect.DeepEqual(waiting, tc.waiting) {
				t.Errorf("waiting %v, want %v", waiting, tc.waiting)
			}
			if r.RequeueAfter != tc.requeue {
				t.Errorf("requeue after %s, want %s", r.RequeueAfter, tc.requeue)
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	b := DefaultBackoff
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for n, w := range want {
		if got := b.Delay(n); got != w {
			t.Errorf("Delay(%d) = %s, want %s", n, got, w)
		}
	}
}
