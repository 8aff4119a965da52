package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// second is the probes' second in these tests.
const second = 10 * time.Millisecond

// toggle is an HTTP endpoint whose health the test switches, counting hits.
type toggle struct {
	healthy atomic.Bool
	hits    atomic.Int64
}

func (h *toggle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.hits.Add(1)
	if !h.healthy.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// execCounter is a fake ExecSync: per command, how many calls were made and
// whether they succeed.
type execCounter struct {
	mu    sync.Mutex
	calls map[string]int
	ok    map[string]func(call int) bool
}

func newExec() *execCounter {
	return &execCounter{calls: map[string]int{}, ok: map[string]func(int) bool{}}
}

func (e *execCounter) set(cmd string, ok func(call int) bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ok[cmd] = ok
}

func (e *execCounter) count(cmd string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[cmd]
}

func (e *execCounter) exec(_ context.Context, _ string, cmd []string, _ time.Duration) (int, []byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls[cmd[0]]++
	if ok := e.ok[cmd[0]]; ok != nil && ok(e.calls[cmd[0]]) {
		return 0, nil, nil
	}
	return 1, []byte(cmd[0] + " failed"), nil
}

func execProbe(cmd string, failureThreshold int32) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{cmd}}}, PeriodSeconds: 1, FailureThreshold: failureThreshold}
}

func newManager(t *testing.T, exec ExecFunc) *Manager {
	t.Helper()
	m := NewManager(Config{Exec: exec, Second: second})
	t.Cleanup(m.StopAll)
	return m
}

// next waits for the next Update matching cond, failing after a deadline.
func next(t *testing.T, m *Manager, what string, cond func(Update) bool) Update {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case u := <-m.Updates():
			if cond(u) {
				return u
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestReadinessFollowsTheEndpoint(t *testing.T) {
	h := &toggle{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	m := newManager(t, nil)
	probe := httpProbe("/healthz", intstr.FromString("http"), "")
	probe.PeriodSeconds, probe.FailureThreshold = 1, 2
	c := corev1.Container{Name: "web", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(serverPort(t, srv))}}, ReadinessProbe: probe}
	m.Start(Target{PodUID: "u1", Namespace: "ns", Pod: "web-1", Container: c, ContainerID: "c1", PodIP: "127.0.0.1", StartedAt: time.Now()})

	if st, ok := m.Status("c1"); !ok || st.Ready || !st.Started {
		t.Fatalf("before any success: status %+v (tracked %v), want started and not ready", st, ok)
	}
	waitHits := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for h.hits.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("the probe hit the endpoint %d times, want %d", h.hits.Load(), n)
			}
			time.Sleep(second)
		}
	}
	waitHits(3) // failing while unhealthy changes nothing: it starts unready
	h.healthy.Store(true)
	u := next(t, m, "ready", func(u Update) bool { return u.Kind == Readiness })
	if u.Result != Success || !u.Status.Ready || u.Pod != "web-1" || u.Container != "web" || u.ContainerID != "c1" || u.PodUID != "u1" {
		t.Fatalf("update %+v, want web-1/web ready", u)
	}
	h.healthy.Store(false)
	u = next(t, m, "unready", func(u Update) bool { return u.Kind == Readiness })
	if u.Result != Failure || u.Status.Ready || u.Status.Restart || u.Message == "" {
		t.Fatalf("update %+v, want unready with a message and no restart", u)
	}
	h.healthy.Store(true)
	if u := next(t, m, "ready again", func(u Update) bool { return u.Kind == Readiness }); !u.Status.Ready {
		t.Fatalf("update %+v, want ready again", u)
	}
	if st, _ := m.Status("c1"); !st.Ready {
		t.Errorf("Status after recovery: %+v, want ready", st)
	}
}

func TestLivenessFailureAsksForRestartAndStopsProbing(t *testing.T) {
	h := &toggle{}
	h.healthy.Store(true)
	srv := httptest.NewServer(h)
	defer srv.Close()
	m := newManager(t, nil)
	probe := httpProbe("/", intstr.FromInt(serverPort(t, srv)), "")
	probe.PeriodSeconds, probe.FailureThreshold = 1, 3
	m.Start(Target{Container: corev1.Container{Name: "app", LivenessProbe: probe}, ContainerID: "c1", PodIP: "127.0.0.1", StartedAt: time.Now()})
	for h.hits.Load() < 3 {
		time.Sleep(second)
	}
	if st, _ := m.Status("c1"); st.Restart || !st.Ready {
		t.Fatalf("healthy container: %+v", st)
	}
	h.healthy.Store(false)
	failedAt := h.hits.Load()
	u := next(t, m, "liveness failure", func(u Update) bool { return u.Kind == Liveness })
	if u.Result != Failure || !u.Status.Restart {
		t.Fatalf("update %+v, want a restart", u)
	}
	if got := h.hits.Load() - failedAt; got > 3 {
		t.Errorf("reported after %d failed runs, want the failureThreshold of 3", got)
	}
	hits := h.hits.Load()
	time.Sleep(10 * second)
	if h.hits.Load() != hits {
		t.Errorf("the probe ran %d more times after asking for a restart", h.hits.Load()-hits)
	}
}

func TestStartupGatesLivenessAndReadiness(t *testing.T) {
	e := newExec()
	e.set("started", func(call int) bool { return call >= 4 })
	e.set("alive", func(int) bool { return true })
	e.set("ready", func(int) bool { return true })
	m := newManager(t, e.exec)
	c := corev1.Container{Name: "slow", StartupProbe: execProbe("started", 10), LivenessProbe: execProbe("alive", 3), ReadinessProbe: execProbe("ready", 3)}
	m.Start(Target{Container: c, ContainerID: "c1", StartedAt: time.Now()})
	if st, _ := m.Status("c1"); st.Started || st.Ready {
		t.Fatalf("before the startup probe succeeds: %+v", st)
	}
	u := next(t, m, "started", func(u Update) bool { return u.Kind == Startup })
	if u.Result != Success || !u.Status.Started || u.Status.Ready {
		t.Fatalf("update %+v, want started but not yet ready", u)
	}
	if n := e.count("alive") + e.count("ready"); n != 0 {
		t.Errorf("liveness/readiness ran %d times before startup succeeded", n)
	}
	u = next(t, m, "ready", func(u Update) bool { return u.Kind == Readiness })
	if !u.Status.Ready {
		t.Fatalf("update %+v, want ready", u)
	}
	startups := e.count("started")
	for e.count("alive") < 3 {
		time.Sleep(second)
	}
	if e.count("started") != startups {
		t.Errorf("the startup probe ran again after it succeeded")
	}
}

func TestStartupFailureAsksForRestart(t *testing.T) {
	e := newExec()
	m := newManager(t, e.exec)
	c := corev1.Container{Name: "never", StartupProbe: execProbe("started", 2), ReadinessProbe: execProbe("ready", 1)}
	m.Start(Target{Container: c, ContainerID: "c1", StartedAt: time.Now()})
	u := next(t, m, "startup failure", func(u Update) bool { return u.Kind == Startup })
	if u.Result != Failure || !u.Status.Restart || u.Status.Started || u.Status.Ready {
		t.Fatalf("update %+v, want restart, not started, not ready", u)
	}
	if e.count("started") != 2 {
		t.Errorf("startup probe ran %d times, want failureThreshold 2", e.count("started"))
	}
	if e.count("ready") != 0 {
		t.Errorf("readiness ran before startup")
	}
}

func TestInitialDelay(t *testing.T) {
	e := newExec()
	e.set("ready", func(int) bool { return true })
	m := newManager(t, e.exec)
	p := execProbe("ready", 3)
	p.InitialDelaySeconds = 30
	start := time.Now()
	m.Start(Target{Container: corev1.Container{Name: "c", ReadinessProbe: p}, ContainerID: "c1", StartedAt: start})
	next(t, m, "ready", func(u Update) bool { return u.Kind == Readiness && u.Result == Success })
	if took := time.Since(start); took < 30*second {
		t.Errorf("ready after %v, before the initial delay of %v", took, 30*second)
	}
}

func TestStopAndContainersWithoutProbes(t *testing.T) {
	e := newExec()
	m := newManager(t, e.exec)
	m.Start(Target{Container: corev1.Container{Name: "plain"}, ContainerID: "plain"})
	if st, ok := m.Status("plain"); !ok || !st.Ready || !st.Started || st.Restart {
		t.Errorf("container without probes: %+v (tracked %v), want started and ready", st, ok)
	}
	m.Start(Target{Container: corev1.Container{Name: "p", ReadinessProbe: execProbe("ready", 3)}, ContainerID: "c1"})
	for e.count("ready") < 2 {
		time.Sleep(second)
	}
	m.Stop("c1")
	n := e.count("ready")
	time.Sleep(5 * second)
	if e.count("ready") != n {
		t.Errorf("the probe ran after Stop")
	}
	if _, ok := m.Status("c1"); ok {
		t.Errorf("Status after Stop still tracks the container")
	}
	m.Stop("unknown") // no-op
}
