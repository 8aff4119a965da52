// Package node keeps a real machine's Node in the API, as kubelet's node
// status manager and node lease controller do: it registers the Node with
// the machine's capacity, addresses and system information, renews the
// node's Lease in kube-node-lease every 10 s, and reports its conditions
// (Ready, MemoryPressure, DiskPressure, PIDPressure), measured from the
// machine and the container runtime, whenever they change and at least
// every 5 minutes. What it shares with simulated nodes (conditions,
// registration, the Lease) is agents/nodestatus.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/berth-io/berth/agents/nodestatus"
)

// Config configures a node. Zero values take the defaults in brackets.
type Config struct {
	// Name is the node's name (required; usually the host name).
	Name string
	// Client talks to the API server as the node (system:node:<Name>).
	Client kubernetes.Interface
	// NodeIPs are the node's InternalIP addresses [DefaultRouteIP()].
	NodeIPs []string
	// Hostname is the node's Hostname address [the machine's host name].
	Hostname string
	// DataDir is the agent's data directory: its disk is the node's
	// ephemeral-storage (required).
	DataDir string
	// Port is the agent's HTTPS port, status.daemonEndpoints.kubeletEndpoint
	// (the API server proxies pods/log there) [10250].
	Port int32
	// MaxPods is the node's pod capacity [110].
	MaxPods int
	// Reserved is kept back from capacity; the rest is allocatable
	// [DefaultReserved()].
	Reserved corev1.ResourceList
	// Labels are added to the well-known ones (kubernetes.io/hostname,
	// kubernetes.io/os, kubernetes.io/arch).
	Labels map[string]string
	// Thresholds say when the node reports pressure.
	Thresholds Thresholds
	// KubeletVersion is status.nodeInfo.kubeletVersion: the Kubernetes
	// version berth serves (store/server.KubernetesVersion) (required).
	KubeletVersion string
	// RuntimeVersion is the container runtime's version, such as
	// "containerd://1.6.20" (RuntimeVersion(criClient)) (required).
	RuntimeVersion func(context.Context) (string, error)
	// RuntimeHealthy says what is wrong with the container runtime, or nil
	// (RuntimeHealthy(criClient)); an error makes the node not Ready
	// (required).
	RuntimeHealthy func(context.Context) error
	// StatusUpdateFrequency is how often the node computes its status and
	// sends it if it changed [10s, kubelet's nodeStatusUpdateFrequency];
	// every second while the node is not Ready.
	StatusUpdateFrequency time.Duration
	// StatusReportFrequency is how often it sends its status when nothing
	// changed [5m, kubelet's nodeStatusReportFrequency].
	StatusReportFrequency time.Duration
	// LeaseDuration is the Lease's leaseDurationSeconds [40s];
	// LeaseRenewInterval how often it is renewed [10s].
	LeaseDuration, LeaseRenewInterval time.Duration
	// Measure measures the machine [Measure(DataDir)].
	Measure func() (Machine, error)
	// Log receives the node's logs [slog.Default()].
	Log *slog.Logger
}

// notReadyUpdateFrequency is how often a node that is not Ready yet
// checks again, so that it turns Ready soon after its runtime does.
const notReadyUpdateFrequency = time.Second

// registerBackoff bounds the waits between registration attempts.
var registerBackoff = struct{ first, max time.Duration }{100 * time.Millisecond, 7 * time.Second}

// Node is a registered node. Run keeps it alive.
type Node struct {
	cfg   Config
	facts facts
	uid   types.UID
	lease *nodestatus.Lease
	// leaseStale says that the renewal at registration failed.
	leaseStale bool
	poke       chan struct{}

	mu          sync.Mutex // guards allocatable
	allocatable corev1.ResourceList

	// Only Run's status loop uses these: when the status was last sent,
	// and the resourceVersion of the node's last write to its Node.
	lastReport  time.Time
	lastWritten string
}

// Register checks cfg, measures the machine and registers the Node (or
// adopts the existing one, adding missing well-known labels), retrying
// with back-off (100 ms to 7 s) until it succeeds or ctx ends, and renews
// its Lease once.
func Register(ctx context.Context, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, poke: make(chan struct{}, 1)}
	n.facts = facts{port: cfg.Port, maxPods: cfg.MaxPods, reserved: cfg.Reserved, kubeletVersion: cfg.KubeletVersion}
	delay := registerBackoff.first
	for {
		err := n.register(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("registering node %s: %w (last error: %v)", cfg.Name, ctx.Err(), err)
		}
		cfg.Log.Warn("registering the node failed; retrying", "node", cfg.Name, "in", delay, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("registering node %s: %w (last error: %v)", cfg.Name, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, registerBackoff.max)
	}
	n.lease = nodestatus.NewLease(cfg.Client.CoordinationV1(), cfg.Name, n.uid, cfg.LeaseDuration)
	if err := n.lease.Renew(ctx, time.Now()); err != nil {
		cfg.Log.Warn("renewing the node lease failed; Run retries", "node", cfg.Name, "err", err)
		n.leaseStale = true
	}
	cfg.Log.Info("node registered", "node", cfg.Name, "ips", cfg.NodeIPs, "runtime", n.facts.runtimeVersion)
	return n, nil
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.Name == "":
		return c, errors.New("node: Name is empty")
	case c.Client == nil:
		return c, errors.New("node: Client is required")
	case c.DataDir == "" && c.Measure == nil:
		return c, errors.New("node: DataDir is required")
	case c.KubeletVersion == "":
		return c, errors.New("node: KubeletVersion is required (store/server.KubernetesVersion)")
	case c.RuntimeVersion == nil || c.RuntimeHealthy == nil:
		return c, errors.New("node: RuntimeVersion and RuntimeHealthy are required (RuntimeVersion(cri), RuntimeHealthy(cri))")
	}
	if errs := validation.IsDNS1123Subdomain(c.Name); len(errs) > 0 {
		return c, fmt.Errorf("node name %q: %v", c.Name, errs)
	}
	if len(c.NodeIPs) == 0 {
		ip, err := DefaultRouteIP()
		if err != nil {
			return c, err
		}
		c.NodeIPs = []string{ip}
	}
	if err := validIPs(c.NodeIPs); err != nil {
		return c, err
	}
	if c.Port == 0 {
		c.Port = 10250
	}
	if c.MaxPods <= 0 {
		c.MaxPods = 110
	}
	if c.Reserved == nil {
		c.Reserved = DefaultReserved()
	}
	if c.Measure == nil {
		dir := c.DataDir
		c.Measure = func() (Machine, error) { return Measure(dir) }
	}
	defaults := []struct {
		value *time.Duration
		def   time.Duration
	}{
		{&c.StatusUpdateFrequency, 10 * time.Second},
		{&c.StatusReportFrequency, 5 * time.Minute},
		{&c.LeaseDuration, 40 * time.Second},
		{&c.LeaseRenewInterval, 10 * time.Second},
	}
	for _, d := range defaults {
		if *d.value <= 0 {
			*d.value = d.def
		}
	}
	if c.LeaseRenewInterval >= c.LeaseDuration {
		return c, fmt.Errorf("node: lease renew interval %s must be shorter than the lease duration %s", c.LeaseRenewInterval, c.LeaseDuration)
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c, nil
}

// register makes one attempt at registering the node.
func (n *Node) register(ctx context.Context) error {
	now := time.Now()
	st, err := n.measureStatus(ctx, nil, now)
	if err != nil {
		return err
	}
	nodes := n.cfg.Client.CoreV1().Nodes()
	want := nodeObject(n.cfg.Name, n.cfg.Labels, st)
	stored, err := nodestatus.Register(ctx, nodes, want)
	if err != nil {
		return err
	}
	if missing := missingLabels(stored.Labels, want.Labels); missing != nil {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": missing}}) // cannot fail: strings
		if stored, err = nodes.Patch(ctx, n.cfg.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("labelling node %s: %w", n.cfg.Name, err)
		}
	}
	n.uid = stored.UID
	n.lastReport, n.lastWritten = now, stored.ResourceVersion
	return nil
}

// measureStatus measures the machine and the runtime and returns the
// status to report, conditions keeping their transition times from
// current.
func (n *Node) measureStatus(ctx context.Context, current []corev1.NodeCondition, now time.Time) (corev1.NodeStatus, error) {
	m, err := n.cfg.Measure()
	if err != nil {
		return corev1.NodeStatus{}, err
	}
	if n.cfg.Hostname != "" {
		m.Info.Hostname = n.cfg.Hostname
	}
	runtimeErr := n.cfg.RuntimeHealthy(ctx)
	if v, err := n.cfg.RuntimeVersion(ctx); err == nil {
		n.facts.runtimeVersion = v
	} else if runtimeErr == nil {
		runtimeErr = err
	}
	f := n.facts
	f.addresses = addresses(n.cfg.NodeIPs, m.Info.Hostname)
	st := desiredStatus(m, f, Assess(m, n.cfg.Thresholds, runtimeErr), current, now)
	n.mu.Lock()
	n.allocatable = st.Allocatable
	n.mu.Unlock()
	return st, nil
}

// Run keeps the node alive until ctx ends: it renews the Lease every
// LeaseRenewInterval (sooner after a failure) and updates the status
// every StatusUpdateFrequency.
func (n *Node) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { n.runLease(ctx) })
	wg.Go(func() { n.runStatus(ctx) })
	wg.Wait()
}

func (n *Node) runLease(ctx context.Context) {
	next := wait.Jitter(n.cfg.LeaseRenewInterval, 0.04)
	if n.leaseStale {
		next = 0
	}
	retry := 200 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
		if err := n.lease.Renew(ctx, time.Now()); err != nil {
			if ctx.Err() != nil {
				return
			}
			n.cfg.Log.Warn("renewing the node lease failed", "node", n.cfg.Name, "err", err)
			next, retry = retry, min(2*retry, n.cfg.LeaseRenewInterval)
			continue
		}
		next, retry = wait.Jitter(n.cfg.LeaseRenewInterval, 0.04), 200*time.Millisecond
	}
}

func (n *Node) runStatus(ctx context.Context) {
	next := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.poke:
		case <-time.After(next):
		}
		ready, err := n.UpdateStatus(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			n.cfg.Log.Warn("updating the node status failed", "node", n.cfg.Name, "err", err)
			next = notReadyUpdateFrequency
		case !ready:
			next = notReadyUpdateFrequency
		default:
			next = n.cfg.StatusUpdateFrequency
		}
	}
}

// UpdateStatus computes the node's status at now and sends it when it
// differs from what the API shows (heartbeat times aside) or when
// StatusReportFrequency has passed since the last report. It says whether
// the node is Ready. Run calls it; it is exported for benchmarks and tests
// and is not safe to call while Run runs.
func (n *Node) UpdateStatus(ctx context.Context, now time.Time) (ready bool, err error) {
	nodes := n.cfg.Client.CoreV1().Nodes()
	// From the API server's cache, as kubelet reads it, but not older
	// than the node's own last write: a stale copy could hide a change
	// the node must still report.
	current, err := nodes.Get(ctx, n.cfg.Name, metav1.GetOptions{ResourceVersion: n.lastWritten})
	if err != nil {
		return false, fmt.Errorf("reading node %s: %w", n.cfg.Name, err)
	}
	st, err := n.measureStatus(ctx, current.Status.Conditions, now)
	if err != nil {
		return false, err
	}
	ready = nodestatus.IsReady(&corev1.Node{Status: st})
	if !statusChanged(current.Status, st) && now.Sub(n.lastReport) < n.cfg.StatusReportFrequency {
		return ready, nil
	}
	patched, err := nodestatus.PatchStatus(ctx, nodes, n.cfg.Name, st, true)
	if err != nil {
		return false, err
	}
	n.lastReport, n.lastWritten = now, patched.ResourceVersion
	return ready, nil
}

// UpdateStatusNow asks Run to update the status at once, for example
// after the CNI configuration was written and the runtime's network turns
// ready.
func (n *Node) UpdateStatusNow() {
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// NodeIPs are the node's InternalIP addresses.
func (n *Node) NodeIPs() []string { return append([]string(nil), n.cfg.NodeIPs...) }

// UID is the uid of the Node object.
func (n *Node) UID() types.UID { return n.uid }

// Allocatable is the node's allocatable resources as last reported.
func (n *Node) Allocatable() corev1.ResourceList {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.allocatable.DeepCopy()
}

// WaitForPodCIDR waits until the Node has a pod CIDR (the node lifecycle
// controller allocates one to every node) and returns it: the first of
// spec.podCIDRs, or spec.podCIDR.
func (n *Node) WaitForPodCIDR(ctx context.Context) (string, error) {
	lw := cache.NewListWatchFromClient(n.cfg.Client.CoreV1().RESTClient(), "nodes", "", fields.OneTermEqualSelector("metadata.name", n.cfg.Name))
	var cidr string
	_, err := watchtools.UntilWithSync(ctx, lw, &corev1.Node{}, nil, func(e watch.Event) (bool, error) {
		node, ok := e.Object.(*corev1.Node)
		if !ok || e.Type == watch.Deleted {
			return false, nil
		}
		cidr = podCIDR(node)
		return cidr != "", nil
	})
	if err != nil {
		return "", fmt.Errorf("waiting for node %s to get a pod CIDR (is the node lifecycle controller running with --cluster-cidr?): %w", n.cfg.Name, err)
	}
	return cidr, nil
}

func podCIDR(node *corev1.Node) string {
	if len(node.Spec.PodCIDRs) > 0 {
		return node.Spec.PodCIDRs[0]
	}
	return node.Spec.PodCIDR
}
