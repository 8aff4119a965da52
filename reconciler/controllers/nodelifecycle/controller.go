// Package nodelifecycle is the node lifecycle controller, with node IPAM
// and taint-based eviction, as kube-controller-manager runs them:
//
//   - IPAM: every node gets spec.podCIDR(s), a subnet of the cluster CIDR
//     (10.244.0.0/16 in /24s by default). Which subnets are taken is rebuilt
//     from the nodes at start, so a restart never hands one out twice; a
//     deleted node's subnet is released.
//   - Health: a node whose Lease (kube-node-lease) and Ready heartbeat stop
//     changing for the grace period (40 s) gets its kubelet conditions set
//     Unknown through nodes/status, and a NodeNotReady event.
//   - Taints: Ready False or Unknown adds node.kubernetes.io/not-ready or
//     unreachable with effect NoExecute (and NoSchedule); pressure
//     conditions and spec.unschedulable add their NoSchedule taints. They go
//     when the node recovers.
//   - Pods on a node that is not ready are marked Ready=False, and pods on
//     a node with NoExecute taints are deleted once their tolerations expire
//     (at once without a matching toleration), with a TaintManagerEviction
//     event.
//
// The decisions are the pure functions of health.go, taints.go and
// eviction.go; sync.go does the I/O.
package nodelifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/berth-io/berth/reconciler/controllers/nodelifecycle/cidrset"

	"github.com/berth-io/berth/reconciler/worker"
)

// Defaults, as kube-controller-manager's.
const (
	// DefaultGracePeriod is how long a node may go without renewing its
	// Lease or posting status before it is marked Unknown.
	DefaultGracePeriod = 40 * time.Second
	// DefaultStartupGracePeriod is the same for a node whose kubelet never
	// posted a Ready condition.
	DefaultStartupGracePeriod = 60 * time.Second
	// DefaultIPv4MaskSize and DefaultIPv6MaskSize are the sizes of the pod
	// CIDR each node gets.
	DefaultIPv4MaskSize = 24
	DefaultIPv6MaskSize = 64
)

// DefaultClusterCIDR is the range pod CIDRs are cut from by default.
var DefaultClusterCIDR = netip.MustParsePrefix("10.244.0.0/16")

// Options tune the controller; the zero value is the default.
type Options struct {
	// ClusterCIDR is the range node pod CIDRs are cut from
	// (DefaultClusterCIDR when invalid/zero).
	ClusterCIDR netip.Prefix
	// NodeMaskSize is the prefix length of each node's pod CIDR (24 for an
	// IPv4 cluster CIDR, 64 for IPv6, when 0). It may be at most 16 bits
	// longer than the cluster CIDR's.
	NodeMaskSize int
	// GracePeriod and StartupGracePeriod: see DefaultGracePeriod and
	// DefaultStartupGracePeriod (used when 0).
	GracePeriod        time.Duration
	StartupGracePeriod time.Duration
	// Log receives the controller's logs (slog.Default() when nil).
	Log *slog.Logger
}

// podsByNode names the index of pods by spec.nodeName this controller adds
// to the shared pod informer.
const podsByNode = "nodelifecycle.berth.io/nodeName"

// Controller is the node lifecycle controller. Build it with New, then
// call Run once.
type Controller struct {
	client       kubernetes.Interface
	nodes        corelisters.NodeLister
	leases       coordinationlisters.LeaseLister
	pods         corelisters.PodLister
	podIndex     cache.Indexer
	synced       []cache.InformerSynced
	nodeQueue    workqueue.TypedRateLimitingInterface[string]
	podQueue     workqueue.TypedRateLimitingInterface[string]
	recorder     record.EventRecorder
	grace        time.Duration
	startupGrace time.Duration
	log          *slog.Logger

	mu      sync.Mutex
	cidrs   *cidrset.Set
	probes  map[string]probe                // by node name
	untimed map[string]map[string]time.Time // untimedSince, by node name
}

// New builds the controller on factory's Node, Lease and Pod informers (it
// adds an index to the Pod informer). recorder records events on nodes and
// pods; client should be the controller manager's identity.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	opts = withDefaults(opts)
	cidrs, err := cidrset.New(opts.ClusterCIDR, opts.NodeMaskSize)
	if err != nil {
		return nil, fmt.Errorf("node lifecycle controller: cluster CIDR %s: %w", opts.ClusterCIDR, err)
	}
	nodeInformer := factory.Core().V1().Nodes()
	leaseInformer := factory.Coordination().V1().Leases()
	podInformer := factory.Core().V1().Pods()
	if err := podInformer.Informer().AddIndexers(cache.Indexers{podsByNode: indexByNode}); err != nil {
		return nil, fmt.Errorf("node lifecycle controller: indexing pods by node: %w", err)
	}
	c := &Controller{
		client:       client,
		nodes:        nodeInformer.Lister(),
		leases:       leaseInformer.Lister(),
		pods:         podInformer.Lister(),
		podIndex:     podInformer.Informer().GetIndexer(),
		nodeQueue:    newQueue("nodelifecycle-nodes"),
		podQueue:     newQueue("nodelifecycle-pods"),
		recorder:     recorder,
		grace:        opts.GracePeriod,
		startupGrace: opts.StartupGracePeriod,
		log:          opts.Log.With("controller", "nodelifecycle"),
		cidrs:        cidrs,
		probes:       map[string]probe{},
		untimed:      map[string]map[string]time.Time{},
	}
	handlers := []struct {
		name     string
		informer cache.SharedIndexInformer
		funcs    cache.ResourceEventHandlerFuncs
	}{
		{"nodes", nodeInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.nodeChanged(nil, obj.(*corev1.Node)) },
			UpdateFunc: func(old, cur any) { c.nodeChanged(old.(*corev1.Node), cur.(*corev1.Node)) },
			DeleteFunc: c.nodeDeleted,
		}},
		{"leases", leaseInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.leaseChanged,
			UpdateFunc: func(_, cur any) { c.leaseChanged(cur) },
		}},
		{"pods", podInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.podChanged,
			UpdateFunc: func(_, cur any) { c.podChanged(cur) },
		}},
	}
	for _, h := range handlers {
		reg, err := h.informer.AddEventHandler(h.funcs)
		if err != nil {
			return nil, fmt.Errorf("node lifecycle controller: watching %s: %w", h.name, err)
		}
		c.synced = append(c.synced, reg.HasSynced)
	}
	return c, nil
}

func withDefaults(opts Options) Options {
	if !opts.ClusterCIDR.IsValid() {
		opts.ClusterCIDR = DefaultClusterCIDR
	}
	if opts.NodeMaskSize == 0 {
		opts.NodeMaskSize = DefaultIPv4MaskSize
		if opts.ClusterCIDR.Addr().Is6() {
			opts.NodeMaskSize = DefaultIPv6MaskSize
		}
	}
	if opts.GracePeriod <= 0 {
		opts.GracePeriod = DefaultGracePeriod
	}
	if opts.StartupGracePeriod <= 0 {
		opts.StartupGracePeriod = DefaultStartupGracePeriod
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return opts
}

func newQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
}

func indexByNode(obj any) ([]string, error) {
	if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != "" {
		return []string{pod.Spec.NodeName}, nil
	}
	return nil, nil
}

// Run waits until the event handlers have seen every cached object (so
// the pod CIDRs the nodes already have are all taken), then works on nodes
// and pods, workers goroutines each, until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	wg.Go(func() {
		worker.Run(ctx, c.podQueue, workers, c.log.With("queue", "pods"), "pod", c.syncPod, c.synced...)
	})
	worker.Run(ctx, c.nodeQueue, workers, c.log.With("queue", "nodes"), "node", c.syncNode, c.synced...)
	wg.Wait()
}

// nodeChanged takes the node's pod CIDRs, queues it, and queues its pods
// when what they depend on (readiness, NoExecute taints) changed. old is
// nil for a new node.
func (c *Controller) nodeChanged(old, cur *corev1.Node) {
	c.occupy(cur)
	c.nodeQueue.Add(cur.Name)
	if old == nil && !affectsPods(cur) {
		return
	}
	if old != nil && readiness(old) == readiness(cur) && sameTaints(noExecuteTaints(old.Spec.Taints), noExecuteTaints(cur.Spec.Taints)) {
		return
	}
	keys, err := c.podIndex.IndexKeys(podsByNode, cur.Name)
	if err != nil {
		c.log.Error("listing pods by node", "node", cur.Name, "err", err)
		return
	}
	for _, k := range keys {
		c.podQueue.Add(k)
	}
}

// nodeDeleted releases the node's pod CIDRs and forgets what was heard
// from it.
func (c *Controller) nodeDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range podCIDRs(node) {
		if err := c.cidrs.Release(p); err != nil {
			c.log.Debug("not releasing a pod CIDR", "node", node.Name, "err", err)
		}
	}
	delete(c.probes, node.Name)
	delete(c.untimed, node.Name)
}

// leaseChanged queues the node whose Lease was renewed.
func (c *Controller) leaseChanged(obj any) {
	if lease := obj.(*coordinationv1.Lease); lease.Namespace == corev1.NamespaceNodeLease {
		c.nodeQueue.Add(lease.Name)
	}
}

// podChanged queues a pod bound to a node that is not ready or has
// NoExecute taints.
func (c *Controller) podChanged(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		return
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if err != nil || !affectsPods(node) {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(pod)
	if err != nil {
		c.log.Error("cannot key pod", "err", err)
		return
	}
	c.podQueue.Add(key)
}

// affectsPods reports whether the node's state calls for work on its
// pods: it is not ready, or has NoExecute taints.
func affectsPods(node *corev1.Node) bool {
	return unready(node) || len(noExecuteTaints(node.Spec.Taints)) > 0
}

func sameTaints(a, b []corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || a[i].Value != b[i].Value || a[i].Effect != b[i].Effect || !a[i].TimeAdded.Equal(b[i].TimeAdded) {
			return false
		}
	}
	return true
}

// occupy marks the node's pod CIDRs taken.
func (c *Controller) occupy(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range podCIDRs(node) {
		if err := c.cidrs.Occupy(p); err != nil {
			c.log.Debug("pod CIDR outside the cluster CIDR", "node", node.Name, "err", err)
		}
	}
}

// podCIDRs are the node's parseable pod CIDRs.
func podCIDRs(node *corev1.Node) []netip.Prefix {
	cidrs := node.Spec.PodCIDRs
	if len(cidrs) == 0 && node.Spec.PodCIDR != "" {
		cidrs = []string{node.Spec.PodCIDR}
	}
	var out []netip.Prefix
	for _, s := range cidrs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}
