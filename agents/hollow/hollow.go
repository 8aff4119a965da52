// Package hollow simulates nodes for scale tests and benchmarks, as
// kubemark and kwok do for Kubernetes: a Fleet registers Node objects,
// keeps their Leases and Ready conditions fresh, and plays kubelet for the
// pods bound to them (Running and Ready with an IP from the node's pod
// CIDR, scripted exits for Job pods, graceful deletion) without running
// any container.
//
// A fleet is cheap: one pod informer and one node informer for all its
// nodes, one queue of heartbeats and one of pods served by a few workers,
// and a rate limiter on heartbeats; no goroutine per node. All nodes use
// the identity of the client they are given. A kubelet is
// system:node:<name>, which node authorization confines to its own Node;
// a fleet's identity is a user in the group berth:hollow-nodes
// (store/server.HollowNodesGroup), which the bootstrap role system:node
// binds with the same rights, not confined to one node (or admin).
package hollow

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"

	"github.com/berth-io/berth/agents/nodestatus"
)

// Options describe a fleet. Zero values take the defaults in brackets.
type Options struct {
	// Nodes is how many nodes to run (1 to 16384).
	Nodes int
	// NamePrefix starts every node name; the node's index follows ["hollow-"].
	NamePrefix string
	// FirstIndex is the index of the first node, so that several fleets
	// can share a cluster without sharing names and addresses [0].
	FirstIndex int
	// CPU, Memory and Pods are each node's capacity and allocatable
	// [8, 32Gi, 110].
	CPU, Memory resource.Quantity
	Pods        int
	// Labels are added to every node's labels.
	Labels map[string]string
	// StartupDelay is how long after a pod is seen bound to a node its
	// containers start [0]; meanwhile it is Pending with ContainerCreating.
	StartupDelay time.Duration
	// LeaseDuration is the leaseDurationSeconds of node Leases [40s].
	LeaseDuration time.Duration
	// LeaseRenewInterval is how often a node renews its Lease [10s].
	LeaseRenewInterval time.Duration
	// StatusReportInterval is how often a node reports its conditions
	// when nothing changed [5m, kubelet's nodeStatusReportFrequency]. A
	// node that the API shows not Ready reports at once.
	StatusReportInterval time.Duration
	// Workers is how many API calls the fleet makes at once, for
	// heartbeats and for pods each [16].
	Workers int
	// HeartbeatQPS limits registrations, Lease renewals and status
	// reports per second [1000].
	HeartbeatQPS float64
	// KubeletVersion is what the nodes report as their kubelet version ["hollow"].
	KubeletVersion string
	// Log receives problems (failed heartbeats, bad annotations); nil
	// discards them.
	Log *slog.Logger
}

// Fleet is a set of running hollow nodes.
type Fleet struct {
	client  kubernetes.Interface
	opts    Options
	nodes   map[string]*node // read-only once started
	order   []*node
	limiter flowcontrol.RateLimiter

	heartbeats workqueue.TypedRateLimitingInterface[task]
	pods       workqueue.TypedRateLimitingInterface[string]
	nodeLister corelisters.NodeLister
	podLister  corelisters.PodLister
	wg         sync.WaitGroup

	mu        sync.Mutex // guards node.stopped, node.pool, node.pods and podStates
	podStates map[string]*podState
}

// node is one hollow node.
type node struct {
	name     string
	index    int
	ip       netip.Addr
	fallback netip.Prefix
	uid      types.UID         // set at registration
	lease    *nodestatus.Lease // made at the first renewal; only the heartbeat worker of the node's lease task uses it

	stopped bool
	pool    *ipPool
	pods    map[*podState]struct{}
}

// podState is what the fleet remembers of a pod on one of its nodes.
type podState struct {
	uid   types.UID
	node  *node
	ip    netip.Addr
	seen  time.Time
	since time.Time
}

// Start registers the nodes (adopting those that exist), waits until the
// fleet's informers have synced, and runs the nodes in the background
// until ctx is done; Wait waits for them to stop.
func Start(ctx context.Context, client kubernetes.Interface, opts Options) (*Fleet, error) {
	start := time.Now()
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Fleet{
		client:  client,
		opts:    opts,
		nodes:   make(map[string]*node, opts.Nodes),
		limiter: flowcontrol.NewTokenBucketRateLimiter(float32(opts.HeartbeatQPS), max(1, int(opts.HeartbeatQPS/10))),
		heartbeats: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[task](200*time.Millisecond, 7*time.Second),
			workqueue.TypedRateLimitingQueueConfig[task]{Name: "hollow-heartbeats"}),
		pods: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "hollow-pods"}),
		podStates: map[string]*podState{},
	}
	for i := range opts.Nodes {
		index := opts.FirstIndex + i
		n := &node{
			name:     fmt.Sprintf("%s%d", opts.NamePrefix, index),
			index:    index,
			ip:       nodeIP(index),
			fallback: fallbackPodCIDR(index),
			pods:     map[*podState]struct{}{},
		}
		f.nodes[n.name] = n
		f.order = append(f.order, n)
	}
	if err := f.register(ctx); err != nil {
		f.heartbeats.ShutDown()
		f.pods.ShutDown()
		return nil, err
	}
	if err := f.startInformers(ctx); err != nil {
		return nil, err
	}
	for _, n := range f.order {
		f.heartbeats.AddAfter(task{node: n, kind: leaseTask}, wait.Jitter(f.opts.LeaseRenewInterval, 0.04))
		f.heartbeats.AddAfter(task{node: n, kind: statusTask}, f.opts.StatusReportInterval)
	}
	for range opts.Workers {
		f.wg.Go(func() { f.runHeartbeats(ctx) })
		f.wg.Go(func() { f.runPods(ctx) })
	}
	f.opts.Log.Info("hollow nodes running", "nodes", opts.Nodes, "took", time.Since(start).Round(time.Millisecond))
	return f, nil
}

// Names are the fleet's node names, in index order.
func (f *Fleet) Names() []string {
	names := make([]string, len(f.order))
	for i, n := range f.order {
		names[i] = n.name
	}
	return names
}

// Stop kills one node, as if its machine went away: it no longer renews
// its Lease or reports status, and no longer acts on its pods.
func (f *Fleet) Stop(name string) error {
	n, ok := f.nodes[name]
	if !ok {
		return fmt.Errorf("no hollow node %q in this fleet", name)
	}
	f.mu.Lock()
	n.stopped = true
	f.mu.Unlock()
	return nil
}

// Wait returns once the fleet has stopped after its context was done.
func (f *Fleet) Wait() { f.wg.Wait() }

func (o Options) withDefaults() (Options, error) {
	if o.NamePrefix == "" {
		o.NamePrefix = "hollow-"
	}
	if o.CPU.IsZero() {
		o.CPU = resource.MustParse("8")
	}
	if o.Memory.IsZero() {
		o.Memory = resource.MustParse("32Gi")
	}
	defaults := []struct {
		value *time.Duration
		def   time.Duration
	}{
		{&o.LeaseDuration, 40 * time.Second},
		{&o.LeaseRenewInterval, 10 * time.Second},
		{&o.StatusReportInterval, 5 * time.Minute},
	}
	for _, d := range defaults {
		if *d.value <= 0 {
			*d.value = d.def
		}
	}
	if o.Pods <= 0 {
		o.Pods = 110
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.HeartbeatQPS <= 0 {
		o.HeartbeatQPS = 1000
	}
	if o.KubeletVersion == "" {
		o.KubeletVersion = "hollow"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Nodes < 1 || o.FirstIndex < 0 || o.FirstIndex+o.Nodes > maxNodes:
		return o, fmt.Errorf("hollow nodes: %d nodes from index %d: indexes must lie in 0..%d (each node's fallback pod CIDR is a /24 of %s)", o.Nodes, o.FirstIndex, maxNodes-1, fallbackPodCIDRs)
	case o.LeaseRenewInterval >= o.LeaseDuration:
		return o, fmt.Errorf("hollow nodes: lease renew interval %s must be shorter than the lease duration %s", o.LeaseRenewInterval, o.LeaseDuration)
	}
	if errs := validation.IsDNS1123Subdomain(fmt.Sprintf("%s%d", o.NamePrefix, o.FirstIndex+o.Nodes-1)); len(errs) > 0 {
		return o, fmt.Errorf("hollow nodes: name prefix %q does not make valid node names: %s", o.NamePrefix, strings.Join(errs, "; "))
	}
	return o, nil
}

// register creates the fleet's Node objects, or adopts existing ones,
// makes sure each shows its full status, and creates or renews their Leases.
func (f *Fleet) register(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(f.opts.Workers)
	now := time.Now()
	for _, n := range f.order {
		g.Go(func() error {
			if err := f.limiter.Wait(ctx); err != nil {
				return err
			}
			node, status, err := nodestatus.Create(ctx, f.client.CoreV1().Nodes(), nodeObject(n.name, n.index, f.opts, now))
			if err != nil {
				return err
			}
			n.uid = node.UID
			if status != nil {
				if err := f.limiter.Wait(ctx); err != nil {
					return err
				}
				if _, err := nodestatus.PatchStatus(ctx, f.client.CoreV1().Nodes(), n.name, *status, true); err != nil {
					return err
				}
			}
			if err := f.limiter.Wait(ctx); err != nil {
				return err
			}
			return f.renewLease(ctx, n)
		})
	}
	return g.Wait()
}

// startInformers starts the fleet's node and pod informers and waits for
// their caches. The pod informer lists only bound pods, and keeps pods on
// other nodes as stubs.
func (f *Fleet) startInformers(ctx context.Context) error {
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(f.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = NodeLabel + "=true" }),
		informers.WithTransform(trimNode))
	podFactory := informers.NewSharedInformerFactoryWithOptions(f.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" }),
		informers.WithTransform(f.trimPod))
	nodeInformer := nodeFactory.Core().V1().Nodes()
	podInformer := podFactory.Core().V1().Pods()
	f.nodeLister, f.podLister = nodeInformer.Lister(), podInformer.Lister()

	if _, err := nodeInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    f.nodeChanged,
		UpdateFunc: func(_, obj any) { f.nodeChanged(obj) },
	}); err != nil {
		return fmt.Errorf("hollow nodes: watching nodes: %w", err)
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    f.podChanged,
		UpdateFunc: func(_, obj any) { f.podChanged(obj) },
		DeleteFunc: f.podChanged,
	}); err != nil {
		return fmt.Errorf("hollow nodes: watching pods: %w", err)
	}
	f.wg.Go(func() {
		<-ctx.Done()
		f.heartbeats.ShutDown()
		f.pods.ShutDown()
		nodeFactory.Shutdown()
		podFactory.Shutdown()
	})
	nodeFactory.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	for _, synced := range []map[reflect.Type]bool{nodeFactory.WaitForCacheSync(ctx.Done()), podFactory.WaitForCacheSync(ctx.Done())} {
		for informer, ok := range synced {
			if !ok {
				return fmt.Errorf("hollow nodes: the %v cache did not sync: %w", informer, ctx.Err())
			}
		}
	}
	return nil
}

// trimPod keeps what the fleet needs of a pod: for a pod on one of its
// nodes, the metadata without managedFields, the status, and of the spec
// only the containers' names and images and what planPod reads (a status
// update never changes the spec, so the rest need not be sent back); a
// stub for other pods.
func (f *Fleet) trimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	if _, ours := f.nodes[pod.Spec.NodeName]; !ours {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion},
			Spec:       corev1.PodSpec{NodeName: pod.Spec.NodeName},
		}, nil
	}
	pod.ManagedFields = nil
	pod.Spec = corev1.PodSpec{
		NodeName:       pod.Spec.NodeName,
		RestartPolicy:  pod.Spec.RestartPolicy,
		InitContainers: trimContainers(pod.Spec.InitContainers),
		Containers:     trimContainers(pod.Spec.Containers),
	}
	return pod, nil
}

func trimContainers(cs []corev1.Container) []corev1.Container {
	trimmed := make([]corev1.Container, len(cs))
	for i, c := range cs {
		trimmed[i] = corev1.Container{Name: c.Name, Image: c.Image, RestartPolicy: c.RestartPolicy}
	}
	return trimmed
}

// trimNode keeps what the fleet reads of a Node: its name, pod CIDRs and
// conditions.
func trimNode(obj any) (any, error) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: node.Name, UID: node.UID, ResourceVersion: node.ResourceVersion},
		Spec:       corev1.NodeSpec{PodCIDR: node.Spec.PodCIDR, PodCIDRs: node.Spec.PodCIDRs},
		Status:     corev1.NodeStatus{Conditions: node.Status.Conditions},
	}, nil
}

// nodeChanged reports a live node's status at once when the API shows it
// not Ready (the node lifecycle controller marked it Unknown).
func (f *Fleet) nodeChanged(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok || nodestatus.IsReady(node) {
		return
	}
	if n, ours := f.nodes[node.Name]; ours && !f.isStopped(n) {
		f.heartbeats.Add(task{node: n, kind: statusTask})
	}
}

func (f *Fleet) podChanged(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if _, ours := f.nodes[pod.Spec.NodeName]; ours {
		f.pods.Add(pod.Namespace + "/" + pod.Name)
	}
}

func (f *Fleet) isStopped(n *node) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return n.stopped
}
