// Package bench measures the scheduler as kube-scheduler's scheduler_perf
// "SchedulingBasic" case does: it registers many Node objects directly
// through the API (allocatable resources and a Ready condition, no
// kubelet), runs the scheduler, creates pods as fast as its clients can,
// and watches them get bound. It reports pods scheduled per second and the
// latency from each pod's creation to its binding as seen through a watch.
// Benchmarks report figures; they never fail on one.
package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/berth-io/berth/reconciler/scheduler"
	storebench "github.com/berth-io/berth/store/bench"
)

// benchLabel marks the nodes the benchmark registers.
const benchLabel = "bench.berth.io/scheduler"

// Settings choose what Run measures.
type Settings struct {
	// Nodes are registered before the pods are created; Pods are then
	// created by Clients concurrent clients.
	Nodes, Pods, Clients int
	// Zones spread the nodes over topology.kubernetes.io/zone values.
	Zones int
	// Each node's allocatable resources, and each pod's requests.
	NodeCPU, NodeMemory, NodePods string
	PodCPU, PodMemory             string
	// Backlog, when positive, adds a second phase: the scheduler is
	// stopped, Backlog more pods are created, and the time the restarted
	// scheduler takes to bind them all is measured (its own rate, without
	// pod creations competing for the API server).
	Backlog int
	// Namespace holds the pods (created if missing).
	Namespace string
	// Scheduler tunes the scheduler under test.
	Scheduler scheduler.Options
	// Cleanup deletes the pods, the namespace and the nodes at the end
	// (for a server that outlives the run).
	Cleanup bool
}

// DefaultSettings are kube-scheduler's scheduler_perf case "5000 nodes,
// 10000 pods": 4-cpu, 32Gi nodes for 110 pods; pods asking 100m and 500Mi.
func DefaultSettings() Settings {
	return Settings{
		Nodes: 5000, Pods: 10000, Clients: 64, Zones: 10,
		NodeCPU: "4", NodeMemory: "32Gi", NodePods: "110",
		PodCPU: "100m", PodMemory: "500Mi",
		Namespace: "bench-scheduler",
	}
}

// Report is what Run measured.
type Report struct {
	Nodes int `json:"nodes"`
	Pods  int `json:"pods"`
	// NodeSeconds is how long registering the nodes took; CreateSeconds
	// how long creating the pods took.
	NodeSeconds   float64 `json:"nodeSeconds"`
	CreateSeconds float64 `json:"createSeconds"`
	// Seconds runs from the first pod creation to the last binding seen;
	// PodsPerSecond is Pods / Seconds.
	Seconds       float64 `json:"seconds"`
	PodsPerSecond float64 `json:"podsPerSecond"`
	// Latency runs from just before each pod's create request to the
	// watch event that shows it bound.
	Latency storebench.Summary `json:"latency"`
	// CPUSeconds is this process's CPU time while the pods were placed
	// (the scheduler, the load and, when it runs in-process, the API
	// server); CPUs is runtime.NumCPU().
	CPUSeconds float64 `json:"cpuSeconds"`
	CPUs       int     `json:"cpus"`
	// Backlog is the second phase, when asked for.
	Backlog *Drain `json:"backlog,omitempty"`
}

// Drain is how fast a restarted scheduler bound pods that were all
// waiting: Seconds from its first binding to its last.
type Drain struct {
	Pods          int     `json:"pods"`
	Seconds       float64 `json:"seconds"`
	PodsPerSecond float64 `json:"podsPerSecond"`
	CPUSeconds    float64 `json:"cpuSeconds"`
}

// Run registers the nodes through admin, runs the scheduler with
// schedulerConfig (its identity) until all pods are bound or ctx is done,
// and reports. progress receives a line now and then.
func Run(ctx context.Context, admin, schedulerConfig *rest.Config, s Settings, progress func(format string, args ...any)) (*Report, error) {
	clients, err := storebench.NewClients(storebench.ClientConfig(admin), max(s.Clients, 1))
	if err != nil {
		return nil, err
	}
	defer clients.Close()
	client := clients.Sets[0]
	if err := storebench.EnsureNamespace(ctx, client, s.Namespace); err != nil {
		return nil, err
	}
	r := &Report{Nodes: s.Nodes, Pods: s.Pods, CPUs: runtime.NumCPU()}
	stopScheduler := sync.OnceFunc(startScheduler(ctx, schedulerConfig, s, progress))
	defer stopScheduler()

	progress("registering %d nodes", s.Nodes)
	start := time.Now()
	if err := forEach(ctx, clients.Sets, s.Nodes, func(c kubernetes.Interface, i int) error {
		return registerNode(ctx, c, s, i)
	}); err != nil {
		return nil, err
	}
	r.NodeSeconds = time.Since(start).Seconds()
	progress("registered %d nodes in %.1fs; waiting for the scheduler to see them", s.Nodes, r.NodeSeconds)
	if err := warmUp(ctx, client, s); err != nil {
		return nil, err
	}
	if s.Cleanup {
		defer cleanup(client, s, progress)
	}

	w, err := watchBindings(ctx, client, s.Namespace, "pod-", s.Pods)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	cpuBefore, _ := storebench.ProcessCPU(os.Getpid())
	sent := make([]time.Time, s.Pods)
	progress("creating %d pods with %d clients", s.Pods, len(clients.Sets))
	first := time.Now()
	if err := forEach(ctx, clients.Sets, s.Pods, func(c kubernetes.Interface, i int) error {
		sent[i] = time.Now()
		_, err := c.CoreV1().Pods(s.Namespace).Create(ctx, benchPod(s, "pod-", i), metav1.CreateOptions{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("creating pods: %w", err)
	}
	r.CreateSeconds = time.Since(first).Seconds()
	progress("created %d pods in %.1fs (%.0f/s)", s.Pods, r.CreateSeconds, float64(s.Pods)/r.CreateSeconds)
	bound, err := w.wait(ctx, progress)
	cpuAfter, _ := storebench.ProcessCPU(os.Getpid())
	if err != nil {
		return nil, err
	}
	latencies := make([]time.Duration, s.Pods)
	last := first
	for i, at := range bound {
		latencies[i] = max(at.Sub(sent[i]), 0)
		if at.After(last) {
			last = at
		}
	}
	r.Seconds = last.Sub(first).Seconds()
	r.PodsPerSecond = float64(s.Pods) / r.Seconds
	r.Latency = storebench.Summarize(latencies)
	r.CPUSeconds = (cpuAfter - cpuBefore).Seconds()
	if s.Backlog > 0 {
		stopScheduler()
		if r.Backlog, err = drain(ctx, clients.Sets, schedulerConfig, s, progress); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// startScheduler runs the scheduler under test until the returned
// function is called (which waits for it to stop).
func startScheduler(ctx context.Context, config *rest.Config, s Settings, progress func(string, ...any)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := scheduler.Serve(ctx, config, scheduler.ComponentOptions{Options: s.Scheduler}); err != nil {
			progress("the scheduler stopped: %v", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// drain creates s.Backlog pods while no scheduler runs, then starts one
// and measures how fast it binds them all.
func drain(ctx context.Context, clients []kubernetes.Interface, config *rest.Config, s Settings, progress func(string, ...any)) (*Drain, error) {
	progress("scheduler stopped; creating a backlog of %d pods", s.Backlog)
	if err := forEach(ctx, clients, s.Backlog, func(c kubernetes.Interface, i int) error {
		_, err := c.CoreV1().Pods(s.Namespace).Create(ctx, benchPod(s, "backlog-", i), metav1.CreateOptions{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("creating the backlog: %w", err)
	}
	w, err := watchBindings(ctx, clients[0], s.Namespace, "backlog-", s.Backlog)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	cpuBefore, _ := storebench.ProcessCPU(os.Getpid())
	progress("starting the scheduler on the backlog")
	stop := startScheduler(ctx, config, s, progress)
	defer stop()
	bound, err := w.wait(ctx, progress)
	cpuAfter, _ := storebench.ProcessCPU(os.Getpid())
	if err != nil {
		return nil, err
	}
	first, last := bound[0], bound[0]
	for _, at := range bound {
		if at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	d := &Drain{Pods: s.Backlog, Seconds: last.Sub(first).Seconds(), CPUSeconds: (cpuAfter - cpuBefore).Seconds()}
	d.PodsPerSecond = float64(s.Backlog-1) / d.Seconds
	return d, nil
}

// forEach calls fn for 0..n-1 spread over the clients, stopping at the
// first error.
func forEach(ctx context.Context, clients []kubernetes.Interface, n int, fn func(kubernetes.Interface, int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for _, c := range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(c, i); err != nil {
					errs <- err
					next.Store(int64(n))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

func nodeName(i int) string { return fmt.Sprintf("bench-node-%05d", i) }

func podName(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }

// registerNode creates node i and sets its status as a kubelet would:
// allocatable resources and a Ready condition.
func registerNode(ctx context.Context, c kubernetes.Interface, s Settings, i int) error {
	name := nodeName(i)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		corev1.LabelHostname:     name,
		corev1.LabelTopologyZone: fmt.Sprintf("zone-%d", i%max(s.Zones, 1)),
		benchLabel:               "true",
	}}}
	created, err := c.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("registering node %s: %w", name, err)
	}
	resources := corev1.ResourceList{}
	for name, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: s.NodeCPU, corev1.ResourceMemory: s.NodeMemory, corev1.ResourcePods: s.NodePods} {
		v, err := resource.ParseQuantity(q)
		if err != nil {
			return fmt.Errorf("node %s: %q: %w", name, q, err)
		}
		resources[name] = v
	}
	now := metav1.Now()
	created.Status = corev1.NodeStatus{
		Capacity: resources, Allocatable: resources,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}},
	}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("status of node %s: %w", name, err)
	}
	return nil
}

// benchPod is pod prefix+i: one container with the configured requests.
func benchPod(s Settings, prefix string, i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName(prefix, i), Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "pause", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(s.PodCPU),
				corev1.ResourceMemory: resource.MustParse(s.PodMemory),
			}},
		}}},
	}
}

// warmUp places a pod that only the last registered node accepts and
// waits for its binding: the scheduler's watch delivers nodes in order, so
// it has then seen them all. The pod is deleted again.
func warmUp(ctx context.Context, c kubernetes.Interface, s Settings) error {
	last := nodeName(s.Nodes - 1)
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "warm-up"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{corev1.LabelHostname: last},
			Containers:   []corev1.Container{{Name: "pause", Image: "registry.k8s.io/pause:3.10"}},
		},
	}
	if _, err := c.CoreV1().Pods(s.Namespace).Create(ctx, probe, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("warm-up pod: %w", err)
	}
	defer c.CoreV1().Pods(s.Namespace).Delete(context.WithoutCancel(ctx), probe.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		p, err := c.CoreV1().Pods(s.Namespace).Get(ctx, probe.Name, metav1.GetOptions{})
		if err == nil && p.Spec.NodeName == last {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the scheduler to place the warm-up pod on %s: %w", last, ctx.Err())
		case <-ticker.C:
		}
	}
}

// bindings records when the watch first shows each pod named prefix+i bound.
type bindings struct {
	client    kubernetes.Interface
	namespace string
	prefix    string
	mu        sync.Mutex
	at        map[string]time.Time
	want      int
	done      chan struct{}
	cancel    context.CancelFunc
	err       error
}

func watchBindings(ctx context.Context, c kubernetes.Interface, namespace, prefix string, want int) (*bindings, error) {
	list, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	wctx, cancel := context.WithCancel(ctx)
	b := &bindings{client: c, namespace: namespace, prefix: prefix, at: make(map[string]time.Time, want), want: want, done: make(chan struct{}), cancel: cancel}
	go b.follow(wctx, list.ResourceVersion)
	return b, nil
}

// follow watches from rv, re-opening the watch where it stopped.
func (b *bindings) follow(ctx context.Context, rv string) {
	defer close(b.done)
	for ctx.Err() == nil {
		w, err := b.client.CoreV1().Pods(b.namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			b.err = fmt.Errorf("watching pods: %w", err)
			return
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				b.err = fmt.Errorf("watching pods: %v", ev.Object)
				w.Stop()
				return
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv = pod.ResourceVersion
			if pod.Spec.NodeName != "" && strings.HasPrefix(pod.Name, b.prefix) && b.record(pod.Name) {
				w.Stop()
				return
			}
		}
	}
}

// record notes a binding and says whether every pod is now bound.
func (b *bindings) record(name string) bool {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, seen := b.at[name]; !seen {
		b.at[name] = now
	}
	return len(b.at) >= b.want
}

func (b *bindings) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.at)
}

// wait returns the binding times by pod index once all pods are bound.
func (b *bindings) wait(ctx context.Context, progress func(string, ...any)) ([]time.Time, error) {
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-b.done:
			if b.err != nil {
				return nil, b.err
			}
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%d of %d pods bound: %w", b.count(), b.want, ctx.Err())
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			out := make([]time.Time, b.want)
			for i := range out {
				out[i] = b.at[podName(b.prefix, i)]
			}
			return out, nil
		case <-ticker.C:
			progress("%d of %d pods bound", b.count(), b.want)
		}
	}
}

func (b *bindings) stop() {
	b.cancel()
	<-b.done
}

// cleanup deletes the benchmark's pods, namespace and nodes.
func cleanup(c kubernetes.Interface, s Settings, progress func(string, ...any)) {
	ctx := context.Background()
	progress("deleting the benchmark's namespace and nodes")
	zero := int64(0)
	_ = c.CoreV1().Pods(s.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	_ = c.CoreV1().Namespaces().Delete(ctx, s.Namespace, metav1.DeleteOptions{})
	_ = c.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: benchLabel})
}
