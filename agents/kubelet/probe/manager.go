package probe

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Target is one running container to probe.
type Target struct {
	// PodUID, Namespace and Pod identify the pod, for Updates.
	PodUID    types.UID
	Namespace string
	Pod       string
	// Container is the container's spec: its probes and named ports.
	Container corev1.Container
	// ContainerID is the runtime's ID of this run of the container; a
	// restarted container is a new Target.
	ContainerID string
	// PodIP is the host httpGet and tcpSocket probes default to, and the
	// host of grpc probes.
	PodIP string
	// StartedAt is when the container started; initial delays count from
	// it (zero counts as long ago: no delay).
	StartedAt time.Time
}

// Update reports that a probe's result changed.
type Update struct {
	PodUID      types.UID
	Namespace   string
	Pod         string
	Container   string
	ContainerID string
	Kind        Kind
	Result      Result
	// Message says why a probe failed (empty on success).
	Message string
	// Status is the container's status after the change: set
	// ContainerStatus.Ready and Started from it, and restart the container
	// when Restart is set.
	Status Status
}

// Config configures a Manager.
type Config struct {
	// Exec runs exec probes in a container (CRI ExecSync).
	Exec ExecFunc
	// Second is the length of the probes' "seconds" (initialDelaySeconds,
	// periodSeconds, timeoutSeconds); zero means time.Second. Tests
	// shorten it.
	Second time.Duration
	// Log receives failed probe runs at debug level; nil uses slog.Default.
	Log *slog.Logger
}

// Manager runs the probes of running containers: one worker goroutine per
// container and probe, from Start until Stop. Every change of a reported
// result is sent on Updates, which the kubelet must keep draining.
type Manager struct {
	cfg     Config
	runner  Runner
	updates chan Update

	mu         sync.Mutex
	containers map[string]*container
}

type container struct {
	target  Target
	results map[Kind]Result
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewManager returns a Manager with no containers.
func NewManager(cfg Config) *Manager {
	if cfg.Second <= 0 {
		cfg.Second = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Manager{
		cfg:        cfg,
		runner:     Runner{Exec: cfg.Exec},
		updates:    make(chan Update, 64),
		containers: map[string]*container{},
	}
}

// Updates delivers every change of a probe's reported result. Workers wait
// for the receiver, so the kubelet must drain it while the Manager runs.
func (m *Manager) Updates() <-chan Update { return m.updates }

// Start begins probing a container. It is a no-op when the container (by
// ContainerID) is already being probed. A container without probes is
// tracked too: it is started and ready at once.
func (m *Manager) Start(t Target) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.containers[t.ContainerID]; ok {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &container{target: t, results: map[Kind]Result{}, cancel: cancel}
	m.containers[t.ContainerID] = c
	for kind, p := range probesOf(&c.target.Container) {
		c.results[kind] = Initial(kind).Result
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			m.work(ctx, c, kind, p)
		}()
	}
}

// Stop ends the probing of a container and forgets it; it returns once its
// workers have stopped.
func (m *Manager) Stop(containerID string) {
	m.mu.Lock()
	c, ok := m.containers[containerID]
	delete(m.containers, containerID)
	m.mu.Unlock()
	if ok {
		c.cancel()
		c.wg.Wait()
	}
}

// StopAll stops every container's probes.
func (m *Manager) StopAll() {
	m.mu.Lock()
	ids := make([]string, 0, len(m.containers))
	for id := range m.containers {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	for _, id := range ids {
		m.Stop(id)
	}
}

// Status returns a container's current status; ok is false when the
// container is not being probed.
func (m *Manager) Status(containerID string) (st Status, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.containers[containerID]
	if !ok {
		return Status{}, false
	}
	return StatusOf(maps.Clone(c.results)), true
}

// probesOf returns the probes a container has, by kind.
func probesOf(c *corev1.Container) map[Kind]*corev1.Probe {
	out := map[Kind]*corev1.Probe{}
	for kind, p := range map[Kind]*corev1.Probe{Liveness: c.LivenessProbe, Readiness: c.ReadinessProbe, Startup: c.StartupProbe} {
		if p != nil {
			out[kind] = p
		}
	}
	return out
}

// work runs one probe of c every period until ctx ends, the probe is on
// hold after a confirmed failure, or a startup probe succeeded.
func (m *Manager) work(ctx context.Context, c *container, kind Kind, p *corev1.Probe) {
	t := TimingOf(kind, p, m.cfg.Second)
	s := Initial(kind)
	ticker := time.NewTicker(t.Period)
	defer ticker.Stop()
	for {
		if ShouldRun(kind, t, s, time.Since(c.target.StartedAt), m.started(c)) {
			outcome, msg := m.runner.Run(ctx, p, &c.target.Container, c.target.ContainerID, c.target.PodIP, t.Timeout)
			if ctx.Err() != nil {
				return
			}
			if outcome == Failure {
				m.cfg.Log.Debug("probe failed", "pod", c.target.Namespace+"/"+c.target.Pod, "container", c.target.Container.Name, "probe", kind, "reason", msg)
			}
			next := Observe(kind, t, s, outcome)
			if next.Result != s.Result {
				m.report(ctx, c, kind, next.Result, msg)
			}
			s = next
		}
		if s.OnHold || s.Done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// started reports whether c's startup probe has succeeded (or it has none).
func (m *Manager) started(c *container) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := c.results[Startup]
	return !ok || r == Success
}

// report records a changed result and sends the Update.
func (m *Manager) report(ctx context.Context, c *container, kind Kind, r Result, msg string) {
	m.mu.Lock()
	c.results[kind] = r
	st := StatusOf(maps.Clone(c.results))
	m.mu.Unlock()
	if r == Success {
		msg = ""
	}
	u := Update{
		PodUID: c.target.PodUID, Namespace: c.target.Namespace, Pod: c.target.Pod,
		Container: c.target.Container.Name, ContainerID: c.target.ContainerID,
		Kind: kind, Result: r, Message: msg, Status: st,
	}
	select {
	case m.updates <- u:
	case <-ctx.Done():
	}
}
