package hollow

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/client-go/util/flowcontrol"
)

// StartupSettings configure MeasureStartup. Zero values take the defaults
// in brackets.
type StartupSettings struct {
	// Nodes is how many hollow nodes run the pods [100].
	Nodes int
	// Pods is how many pods are created [3000].
	Pods int
	// Clients is how many pods are created at once [10].
	Clients int
	// Rate limits pod creations per second [100]; negative: no limit.
	Rate float64
	// Fleet configures the hollow nodes; its Nodes is set from Nodes, and
	// its NamePrefix defaults to "startup-".
	Fleet Options
	// Scheduled leaves binding to a running scheduler instead of binding
	// each pod round robin: the whole request flow is then measured.
	Scheduled bool
}

// StartupReport is what MeasureStartup measured.
type StartupReport struct {
	Nodes, Pods int
	// Rate is the creation rate asked for (pods/s; negative: no limit).
	Rate float64
	// Throughput is pods Running per second, from the first creation to
	// the last pod seen Running.
	Throughput float64
	// Latency is the time from a pod's creation request to its Running
	// status seen on a watch.
	Latency Percentiles
}

// Percentiles summarise a set of durations.
type Percentiles struct {
	P50, P90, P99, Max time.Duration
}

// MeasureStartup measures pod startup latency the way Kubernetes' SLO
// defines it: from the create request to the pod seen Running through a
// watch. It runs a hollow fleet with no startup delay, creates pods at
// Rate in a fresh namespace, and binds each to a node round robin itself
// (POST pods/binding, right after the create) so that no scheduler is
// needed; the binding's cost is part of the latency. Pods, namespace,
// nodes and Leases are deleted afterwards. progress, if not nil, receives
// one line per phase.
func MeasureStartup(ctx context.Context, client kubernetes.Interface, s StartupSettings, progress func(format string, args ...any)) (*StartupReport, error) {
	s = s.withDefaults()
	if progress == nil {
		progress = func(string, ...any) {}
	}
	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-startup-"}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("startup benchmark: creating its namespace: %w", err)
	}
	fleetCtx, stopFleet := context.WithCancel(ctx)
	var fleet *Fleet
	defer func() {
		stopFleet()
		if fleet != nil {
			fleet.Wait()
		}
		cleanUpStartup(client, ns.Name, fleet)
	}()
	// Pods need the namespace's default ServiceAccount, which the
	// ServiceAccount controller may not be there to make.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if _, err := client.CoreV1().ServiceAccounts(ns.Name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("startup benchmark: default ServiceAccount of %s: %w", ns.Name, err)
	}
	start := time.Now()
	if fleet, err = Start(fleetCtx, client, s.Fleet); err != nil {
		return nil, err
	}
	progress("%d hollow nodes registered in %s", s.Nodes, time.Since(start).Round(time.Millisecond))

	list, err := client.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("startup benchmark: listing pods: %w", err)
	}
	watcher, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return client.CoreV1().Pods(ns.Name).Watch(ctx, o)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("startup benchmark: watching pods: %w", err)
	}
	defer watcher.Stop()

	created := make([]time.Time, s.Pods)
	createErrs := make(chan error, 1)
	go func() { createErrs <- createAndBind(ctx, client, ns.Name, fleet.Names(), s, created) }()

	binder := "binding each to a node round robin"
	if s.Scheduled {
		binder = "the scheduler binds them"
	}
	progress("creating %d pods (rate %v/s, %d clients), %s", s.Pods, s.Rate, s.Clients, binder)
	first := time.Now()
	running := map[string]time.Time{}
	for len(running) < s.Pods {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("startup benchmark: %d of %d pods running when stopped: %w", len(running), s.Pods, ctx.Err())
		case err := <-createErrs:
			if err != nil {
				return nil, err
			}
		case e, ok := <-watcher.ResultChan():
			if !ok {
				return nil, fmt.Errorf("startup benchmark: the pod watch ended with %d of %d pods running", len(running), s.Pods)
			}
			if pod, isPod := e.Object.(*corev1.Pod); isPod && pod.Status.Phase == corev1.PodRunning {
				if _, seen := running[pod.Name]; !seen {
					running[pod.Name] = time.Now()
				}
			}
		}
	}
	last := time.Now()
	latencies := make([]time.Duration, 0, s.Pods)
	for i, t := range created {
		latencies = append(latencies, running[podName(i)].Sub(t))
	}
	progress("%d pods running in %s", s.Pods, last.Sub(first).Round(time.Millisecond))
	return &StartupReport{
		Nodes:      s.Nodes,
		Pods:       s.Pods,
		Rate:       s.Rate,
		Throughput: float64(s.Pods) / last.Sub(first).Seconds(),
		Latency:    percentiles(latencies),
	}, nil
}

func (s StartupSettings) withDefaults() StartupSettings {
	if s.Nodes <= 0 {
		s.Nodes = 100
	}
	if s.Pods <= 0 {
		s.Pods = 3000
	}
	if s.Clients <= 0 {
		s.Clients = 10
	}
	if s.Rate == 0 {
		s.Rate = 100
	}
	if s.Fleet.NamePrefix == "" {
		s.Fleet.NamePrefix = "startup-"
	}
	s.Fleet.Nodes = s.Nodes
	return s
}

func podName(i int) string { return fmt.Sprintf("pod-%d", i) }

// createAndBind creates the pods with s.Clients clients at s.Rate,
// noting when each create was sent, and binds pod i to nodes[i%len(nodes)].
func createAndBind(ctx context.Context, client kubernetes.Interface, ns string, nodes []string, s StartupSettings, created []time.Time) error {
	var limiter flowcontrol.RateLimiter
	if s.Rate > 0 {
		limiter = flowcontrol.NewTokenBucketRateLimiter(float32(s.Rate), 1)
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range s.Pods {
			if limiter != nil && limiter.Wait(ctx) != nil {
				return
			}
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	pods := client.CoreV1().Pods(ns)
	for range s.Clients {
		wg.Go(func() {
			for i := range next {
				created[i] = time.Now()
				pod := &corev1.Pod{
					ObjectMeta: metav1.ObjectMeta{Name: podName(i)},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
				}
				_, err := pods.Create(ctx, pod, metav1.CreateOptions{})
				if err == nil && !s.Scheduled {
					binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name}, Target: corev1.ObjectReference{Kind: "Node", Name: nodes[i%len(nodes)]}}
					err = pods.Bind(ctx, binding, metav1.CreateOptions{})
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("startup benchmark: pod %s: %w", pod.Name, err)
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// cleanUpStartup deletes what the benchmark made, as far as it can.
func cleanUpStartup(client kubernetes.Interface, ns string, fleet *Fleet) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0))}
	_ = client.CoreV1().Pods(ns).DeleteCollection(ctx, now, metav1.ListOptions{})
	_ = client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if fleet == nil {
		return
	}
	for _, name := range fleet.Names() {
		_ = client.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
		_ = client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, name, metav1.DeleteOptions{})
	}
}

// percentiles of d (sorted in place), nearest rank.
func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(p float64) time.Duration {
		rank := int(math.Ceil(p * float64(len(d))))
		return d[min(max(rank, 1), len(d))-1]
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}
