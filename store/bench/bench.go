// Package bench measures a Kubernetes API server the way its clients load
// it: pod creates, updates and gets at several concurrencies, a watch
// fan-out, and the server's memory with many pods stored. It only speaks
// the HTTP API (client-go, protobuf), so it measures berth and the real
// kube-apiserver alike. Benchmarks report figures; they never fail on one.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Settings choose what Run measures.
type Settings struct {
	// Pods are stored before the update and get scenarios, and the
	// server's memory is read with them in place.
	Pods int
	// Clients are the concurrencies of the create, update and get scenarios.
	Clients []int
	// Duration is how long each create, update and get scenario runs.
	Duration time.Duration
	// Watchers watch one namespace while WatchWrites pods are created in
	// it; zero skips the watch scenario.
	Watchers    int
	WatchWrites int
	// Cleanup deletes the benchmark's namespaces at the end, also of an
	// interrupted run (for a server that outlives the run).
	Cleanup bool
}

// MarshalJSON writes Duration in seconds.
func (s Settings) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Pods        int     `json:"pods"`
		Clients     []int   `json:"clients"`
		Duration    float64 `json:"durationSeconds"`
		Watchers    int     `json:"watchers"`
		WatchWrites int     `json:"watchWrites"`
	}{s.Pods, s.Clients, s.Duration.Seconds(), s.Watchers, s.WatchWrites})
}

// Target is the server under test.
type Target struct {
	// Config reaches the server as an admin (RBAC must not slow it down).
	Config *rest.Config
	// Description says what the server is, for the report.
	Description string
	// Memory reads the server's resident memory and CPU the CPU time it
	// has used; nil when they cannot be read (a server on another machine).
	Memory func() (ProcMemory, error)
	CPU    func() (time.Duration, error)
}

// Report is everything Run measured.
type Report struct {
	Target     string        `json:"target"`
	Machine    Machine       `json:"machine"`
	Settings   Settings      `json:"settings"`
	Throughput []Throughput  `json:"throughput"`
	Watch      *FanoutResult `json:"watch,omitempty"`
	Memory     []MemoryPoint `json:"memory,omitempty"`
	Seconds    float64       `json:"seconds"`
}

// Machine describes where the load generator ran. The load averages
// (from /proc/loadavg, at the start and the end of the run) tell whether
// something else competed for the CPUs.
type Machine struct {
	CPUs      int    `json:"cpus"`
	Kernel    string `json:"kernel,omitempty"`
	GoVersion string `json:"goVersion"`
	LoadStart string `json:"loadAverageStart,omitempty"`
	LoadEnd   string `json:"loadAverageEnd,omitempty"`
}

// Throughput is one load scenario at one concurrency. ServerCPUPerOpMs
// is the server's CPU time per call, which unlike the rates does not
// depend on what else the machine is doing; zero when unknown.
type Throughput struct {
	Scenario string `json:"scenario"`
	LoadResult
	ServerCPUPerOpMs float64 `json:"serverCpuPerOpMs,omitempty"`
}

// MemoryPoint is the server's memory at one moment of the run.
type MemoryPoint struct {
	When string `json:"when"`
	// Pods is how many pods the benchmark had stored by then.
	Pods int `json:"pods"`
	ProcMemory
}

// Scenario names, as they appear in the report.
const (
	ScenarioFill   = "fill"
	ScenarioCreate = "create"
	ScenarioUpdate = "update"
	ScenarioGet    = "get"
)

// settle is how long the server is left alone before its memory is read.
const settle = 3 * time.Second

// Run measures target in this order: memory idle; s.Pods pods stored;
// memory with them; the watch fan-out (so it sees a server holding just
// those pods); creates, updates and gets at each concurrency; memory at
// the end. progress hears what is going on (the run takes a few minutes);
// it may be nil. On an error or when ctx ends, the report so far comes
// back with the error.
func Run(ctx context.Context, target Target, s Settings, progress func(format string, args ...any)) (*Report, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	start := time.Now()
	r := &run{ctx: ctx, target: target, s: s, progress: progress,
		report: &Report{Target: target.Description, Machine: thisMachine(), Settings: s}}
	prefix := "bench-" + rand.String(5)
	r.fillNS, r.createNS, r.watchNS = prefix+"-fill", prefix+"-create", prefix+"-watch"
	admin, err := NewClients(ClientConfig(target.Config), 1)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	r.admin = admin.Sets[0]
	for _, ns := range []string{r.fillNS, r.createNS, r.watchNS} {
		if err := EnsureNamespace(ctx, r.admin, ns); err != nil {
			return nil, err
		}
	}
	if s.Cleanup {
		defer r.cleanup()
	}
	steps := []func() error{
		func() error { return r.memory("idle") },
		r.fill,
		func() error { return r.memory(fmt.Sprintf("with %d pods", r.stored)) },
		r.watch,
		func() error { return r.loads(ScenarioCreate, r.create) },
		func() error { return r.loads(ScenarioUpdate, r.update) },
		func() error { return r.loads(ScenarioGet, r.get) },
		func() error { return r.memory("at the end") },
	}
	defer func() {
		r.report.Machine.LoadEnd = loadAverage()
		r.report.Seconds = time.Since(start).Seconds()
	}()
	for _, step := range steps {
		if err := step(); err != nil {
			return r.report, err
		}
	}
	return r.report, nil
}

// check rejects settings that would measure nothing.
func (s Settings) check() error {
	switch {
	case s.Pods < 1:
		return fmt.Errorf("pods: want at least 1, got %d", s.Pods)
	case len(s.Clients) == 0 || slices.Min(s.Clients) < 1:
		return fmt.Errorf("clients: want one or more counts of at least 1, got %v", s.Clients)
	case s.Duration <= 0:
		return fmt.Errorf("duration: want a positive duration, got %s", s.Duration)
	case s.Watchers < 0:
		return fmt.Errorf("watchers: want 0 (no watch scenario) or more, got %d", s.Watchers)
	case s.Watchers > 0 && s.WatchWrites < 1:
		return fmt.Errorf("watch writes: want at least 1 with %d watchers, got %d", s.Watchers, s.WatchWrites)
	}
	return nil
}

// run is the state one Run shares between its steps.
type run struct {
	ctx      context.Context
	target   Target
	s        Settings
	progress func(format string, args ...any)
	report   *Report
	admin    kubernetes.Interface

	fillNS, createNS, watchNS string
	// pods are the latest versions of the fill pods.
	pods   storedPods
	stored int
}

// memory records the server's memory after letting it settle.
func (r *run) memory(when string) error {
	if r.target.Memory == nil {
		return nil
	}
	select {
	case <-time.After(settle):
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
	m, err := r.target.Memory()
	if err != nil {
		return err
	}
	r.progress("server memory %s: RSS %s (anon %s, file %s), peak %s", when, MiB(m.RSS), MiB(m.Anon), MiB(m.File), MiB(m.Peak))
	r.report.Memory = append(r.report.Memory, MemoryPoint{When: when, Pods: r.stored, ProcMemory: m})
	return nil
}

// fill stores s.Pods pods with the highest concurrency and keeps them
// for the update and get scenarios.
func (r *run) fill() error {
	clients := slices.Max(r.s.Clients)
	cs, err := NewClients(ClientConfig(r.target.Config), clients)
	if err != nil {
		return err
	}
	defer cs.Close()
	r.progress("storing %d pods with %s", r.s.Pods, plural(clients, "client"))
	res, serverCPU := r.measure(Load{
		Clients: clients,
		Limit:   r.s.Pods,
		Op: func(ctx context.Context, w, n int) error {
			name := "pod-" + strconv.Itoa(w) + "-" + strconv.Itoa(n)
			pod, err := cs.Sets[w].CoreV1().Pods(r.fillNS).Create(ctx, Pod(r.fillNS, name, n), metav1.CreateOptions{})
			if err != nil {
				return err
			}
			return r.pods.add(pod)
		},
		Progress: func(done int, elapsed time.Duration) {
			r.progress("  %d/%d pods after %s", done, r.s.Pods, elapsed.Round(time.Second))
		},
	})
	r.record(ScenarioFill, res, serverCPU)
	r.stored += r.pods.len()
	if r.pods.len() == 0 {
		return fmt.Errorf("no pod could be stored: %s", res.FirstError)
	}
	return r.ctx.Err()
}

// loads runs one scenario at every concurrency of the settings.
func (r *run) loads(scenario string, op func(cs []kubernetes.Interface, clients int) Op) error {
	for _, clients := range r.s.Clients {
		cs, err := NewClients(ClientConfig(r.target.Config), clients)
		if err != nil {
			return err
		}
		r.progress("%s with %s for %s", scenario, plural(clients, "client"), r.s.Duration)
		res, serverCPU := r.measure(Load{
			Clients:  clients,
			Duration: r.s.Duration,
			Op:       op(cs.Sets, clients),
			Progress: func(done int, elapsed time.Duration) {
				r.progress("  %d %ss after %s", done, scenario, elapsed.Round(time.Second))
			},
		})
		cs.Close()
		r.record(scenario, res, serverCPU)
		if scenario == ScenarioCreate {
			r.stored += res.Ops
		}
		if err := r.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) create(cs []kubernetes.Interface, clients int) Op {
	return func(ctx context.Context, w, n int) error {
		name := "c" + strconv.Itoa(clients) + "-" + strconv.Itoa(w) + "-" + strconv.Itoa(n)
		_, err := cs[w].CoreV1().Pods(r.createNS).Create(ctx, Pod(r.createNS, name, n), metav1.CreateOptions{})
		return err
	}
}

// update changes a label of one stored pod, workers taking turns through
// the pods so that each sends the version it last got back.
func (r *run) update(cs []kubernetes.Interface, clients int) Op {
	return func(ctx context.Context, w, n int) error {
		return r.pods.update((w+n*clients)%r.pods.len(), func(pod *corev1.Pod) (*corev1.Pod, error) {
			pod.Labels["berth.io/bench-update"] = strconv.Itoa(n)
			return cs[w].CoreV1().Pods(r.fillNS).Update(ctx, pod, metav1.UpdateOptions{})
		})
	}
}

func (r *run) get(cs []kubernetes.Interface, clients int) Op {
	return func(ctx context.Context, w, n int) error {
		name := r.pods.name((w + n*clients) % r.pods.len())
		_, err := cs[w].CoreV1().Pods(r.fillNS).Get(ctx, name, metav1.GetOptions{})
		return err
	}
}

func (r *run) watch() error {
	if r.s.Watchers == 0 {
		return nil
	}
	res, err := Fanout{
		Config:                ClientConfig(r.target.Config),
		Namespace:             r.watchNS,
		Watchers:              r.s.Watchers,
		WatchersPerConnection: watchersPerConnection,
		Writes:                r.s.WatchWrites,
		Progress:              func(format string, args ...any) { r.progress("  "+format, args...) },
		ServerCPU:             r.target.CPU,
	}.Run(r.ctx)
	if err != nil {
		return fmt.Errorf("watch fan-out: %w", err)
	}
	r.stored += r.s.WatchWrites + 1
	r.report.Watch = &res
	r.progress("watch: %d/%d events delivered in %.1fs; delay p50 %s, p99 %s, max %s; CPU: server %.0fms, watchers %.0fms",
		res.Delivered, res.Expected, res.Seconds, Millis(res.Delay.P50), Millis(res.Delay.P99), Millis(res.Delay.Max), res.ServerCPUMs, res.ClientCPUMs)
	return nil
}

// watchersPerConnection spreads watchers over connections the way many
// informers in many programs would, while staying far below the HTTP/2
// stream limit of one connection.
const watchersPerConnection = 100

// measure runs l and returns its result with the server's CPU time over
// it, zero when the target cannot tell.
func (r *run) measure(l Load) (LoadResult, time.Duration) {
	before := readCPU(r.target.CPU)
	res := l.Run(r.ctx)
	after := readCPU(r.target.CPU)
	if before == 0 || after == 0 {
		return res, 0
	}
	return res, after - before
}

// readCPU calls read, if any; zero means the CPU time is unknown.
func readCPU(read func() (time.Duration, error)) time.Duration {
	if read == nil {
		return 0
	}
	d, err := read()
	if err != nil {
		return 0
	}
	return d
}

func (r *run) record(scenario string, res LoadResult, serverCPU time.Duration) {
	t := Throughput{Scenario: scenario, LoadResult: res}
	if calls := res.Ops + res.Errors; calls > 0 {
		t.ServerCPUPerOpMs = millis(serverCPU) / float64(calls)
	}
	r.report.Throughput = append(r.report.Throughput, t)
	errs := ""
	if res.Errors > 0 {
		errs = fmt.Sprintf(", %d errors (first: %s)", res.Errors, res.FirstError)
	}
	r.progress("%s with %s: %.0f/s, p50 %s, p99 %s%s", scenario, plural(res.Clients, "client"), res.PerSecond,
		Millis(res.Latency.P50), Millis(res.Latency.P99), errs)
}

// cleanup deletes the benchmark's namespaces, best effort, even after
// the run was interrupted.
func (r *run) cleanup() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 30*time.Second)
	defer cancel()
	for _, ns := range []string{r.fillNS, r.createNS, r.watchNS} {
		if err := r.admin.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			r.progress("deleting namespace %s: %v", ns, err)
		}
	}
}

func thisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.LoadStart = loadAverage()
	return m
}

// plural is "1 client" or "10 clients".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// loadAverage is the 1, 5 and 15 minute load averages, or "" where
// /proc/loadavg does not exist.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
