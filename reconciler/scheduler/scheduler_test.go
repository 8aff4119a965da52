package scheduler_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/reconciler/leader"
	"github.com/berth-io/berth/reconciler/scheduler"
	"github.com/berth-io/berth/reconciler/scheduler/queue"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

const ns = "default"

func startServer(t *testing.T) *servertest.Server {
	t.Helper()
	s := servertest.Start(t)
	s.Namespace(ns)
	s.Namespace(scheduler.LeaseNamespace)
	return s
}

// fastQueue retries failed pods quickly, to keep the tests short.
var fastQueue = queue.Options{InitialBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}

// schedulerCopy is one running copy of the scheduler and the bindings it sent.
type schedulerCopy struct {
	cancel   context.CancelFunc
	done     chan struct{}
	bindings atomic.Int64
}

// startScheduler runs a scheduler as system:kube-scheduler until stopped
// or the test ends.
func startScheduler(t *testing.T, s *servertest.Server, opts scheduler.ComponentOptions) *schedulerCopy {
	t.Helper()
	c := &schedulerCopy{done: make(chan struct{})}
	cfg := s.ConfigAs(server.SchedulerUser)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/binding") {
				c.bindings.Add(1)
			}
			return rt.RoundTrip(r)
		})
	})
	if opts.Queue.InitialBackoff == 0 {
		opts.Queue = fastQueue
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		if err := scheduler.Serve(ctx, cfg, opts); err != nil {
			t.Errorf("scheduler: %v", err)
		}
	}()
	t.Cleanup(c.stop)
	return c
}

func (c *schedulerCopy) stop() {
	c.cancel()
	<-c.done
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// createNode registers a Ready node with cpu, 8Gi of memory and room for
// 110 pods, as a kubelet would (there is none).
func createNode(t *testing.T, client kubernetes.Interface, name, cpu string, mod ...func(*corev1.Node)) {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}}}
	for _, m := range mod {
		m(n)
	}
	created, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating node %s: %v", name, err)
	}
	list := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	created.Status = corev1.NodeStatus{
		Capacity: list, Allocatable: list,
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("node %s status: %v", name, err)
	}
}

func createPod(t *testing.T, client kubernetes.Interface, name string, mod ...func(*corev1.Pod)) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
	}
	for _, m := range mod {
		m(p)
	}
	if _, err := client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
}

func cpu(q string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
	}
}

// waitFor polls the pod until cond holds and returns it.
func waitFor(t *testing.T, client kubernetes.Interface, name, what string, within time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, within, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return cond(p), nil
	})
	if err != nil {
		t.Fatalf("pod %s: not %s within %v; last seen: node %q, conditions %+v", name, what, within, last.Spec.NodeName, last.Status.Conditions)
	}
	return last
}

func waitBound(t *testing.T, client kubernetes.Interface, name string) string {
	t.Helper()
	return waitFor(t, client, name, "bound", 15*time.Second, func(p *corev1.Pod) bool { return p.Spec.NodeName != "" }).Spec.NodeName
}

func scheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func TestPodsAreBoundToTheNodesTheyFit(t *testing.T) {
	s := startServer(t)
	admin := s.Admin
	taint := corev1.Taint{Key: "dedicated", Value: "batch", Effect: corev1.TaintEffectNoSchedule}
	createNode(t, admin, "small", "1")
	createNode(t, admin, "big", "8")
	createNode(t, admin, "ssd", "2", func(n *corev1.Node) { n.Labels["disk"] = "ssd" })
	createNode(t, admin, "batch", "32", func(n *corev1.Node) { n.Spec.Taints = []corev1.Taint{taint} })
	startScheduler(t, s, scheduler.ComponentOptions{})

	createPod(t, admin, "needs-six-cpus", cpu("6"))
	createPod(t, admin, "wants-ssd", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} })
	createPod(t, admin, "batch-job", cpu("16"), func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "batch", Effect: corev1.TaintEffectNoSchedule}}
	})
	for _, want := range []struct{ pod, node string }{{"needs-six-cpus", "big"}, {"wants-ssd", "ssd"}, {"batch-job", "batch"}} {
		if got := waitBound(t, admin, want.pod); got != want.node {
			t.Errorf("pod %s went to %s, want %s", want.pod, got, want.node)
		}
	}

	// Required anti-affinity on the hostname spreads three replicas over
	// the three untainted nodes.
	antiAffinity := &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
		TopologyKey: corev1.LabelHostname, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
	}}}}
	nodes := map[string]string{}
	for i := range 3 {
		name := fmt.Sprintf("web-%d", i)
		createPod(t, admin, name, func(p *corev1.Pod) { p.Labels["app"] = "web"; p.Spec.Affinity = antiAffinity })
		node := waitBound(t, admin, name)
		if other, taken := nodes[node]; taken || node == "batch" {
			t.Fatalf("%s went to %s (already running %s): anti-affinity and the taint must keep replicas apart", name, node, other)
		}
		nodes[node] = name
	}
	createPod(t, admin, "web-3", func(p *corev1.Pod) { p.Labels["app"] = "web"; p.Spec.Affinity = antiAffinity })
	waitFor(t, admin, "web-3", "unschedulable", 10*time.Second, func(p *corev1.Pod) bool {
		c := scheduledCondition(p)
		return c != nil && c.Status == corev1.ConditionFalse &&
			c.Message == "0/4 nodes are available: 1 node(s) had untolerated taint(s), 3 node(s) didn't match pod anti-affinity rules."
	})

	// A pod for another scheduler, and a pod with scheduling gates, are
	// left alone; the latter is placed once its gates are removed.
	createPod(t, admin, "not-mine", func(p *corev1.Pod) { p.Spec.SchedulerName = "other-scheduler" })
	createPod(t, admin, "gated", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/quota"}} })
	time.Sleep(500 * time.Millisecond)
	for _, name := range []string{"not-mine", "gated"} {
		if p, err := admin.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); err != nil || p.Spec.NodeName != "" {
			t.Fatalf("pod %s was bound (%v, %v)", name, p.Spec.NodeName, err)
		}
	}
	ungate := []byte(`{"spec":{"schedulingGates":null}}`)
	if _, err := admin.CoreV1().Pods(ns).Patch(context.Background(), "gated", types.MergePatchType, ungate, metav1.PatchOptions{}); err != nil {
		t.Fatalf("removing the scheduling gates: %v", err)
	}
	waitBound(t, admin, "gated")

	bound := waitFor(t, admin, "needs-six-cpus", "marked scheduled", 5*time.Second, func(p *corev1.Pod) bool {
		c := scheduledCondition(p)
		return c != nil && c.Status == corev1.ConditionTrue
	})
	waitForEvent(t, admin, bound.Name, "Scheduled", "Successfully assigned default/needs-six-cpus to big")
}

// waitForEvent waits for an event with reason and message on a pod.
func waitForEvent(t *testing.T, client kubernetes.Interface, pod, reason, message string) {
	t.Helper()
	var seen []string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
		if err != nil {
			return false, nil
		}
		seen = seen[:0]
		for _, e := range events.Items {
			seen = append(seen, e.Reason+": "+e.Message)
			if e.Reason == reason && e.Message == message && e.Source.Component == corev1.DefaultSchedulerName {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no %s event %q on pod %s from %s; events: %q", reason, message, pod, corev1.DefaultSchedulerName, seen)
	}
}

func TestAnUnschedulablePodSaysWhyAndIsPlacedWhenANodeFits(t *testing.T) {
	s := startServer(t)
	admin := s.Admin
	createNode(t, admin, "small-1", "1")
	createNode(t, admin, "small-2", "1")
	createNode(t, admin, "tainted", "16", func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "maintenance", Effect: corev1.TaintEffectNoSchedule}}
	})
	startScheduler(t, s, scheduler.ComponentOptions{})

	createPod(t, admin, "big", cpu("2"))
	const message = "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu."
	p := waitFor(t, admin, "big", "marked unschedulable", 10*time.Second, func(p *corev1.Pod) bool {
		c := scheduledCondition(p)
		return c != nil && c.Status == corev1.ConditionFalse
	})
	if c := scheduledCondition(p); c.Reason != corev1.PodReasonUnschedulable || c.Message != message || p.Spec.NodeName != "" {
		t.Fatalf("condition %+v on node %q, want reason Unschedulable and message %q", c, p.Spec.NodeName, message)
	}
	waitForEvent(t, admin, "big", "FailedScheduling", message)

	createNode(t, admin, "roomy", "4")
	if node := waitBound(t, admin, "big"); node != "roomy" {
		t.Fatalf("bound to %s once a fitting node appeared, want roomy", node)
	}
}

func TestTheAssumeCacheKeepsNodesFromBeingOvercommitted(t *testing.T) {
	s := startServer(t)
	admin := s.Admin
	createNode(t, admin, "one", "1")
	createNode(t, admin, "two", "1")
	// Pods created before the scheduler starts are placed back to back,
	// each before the watch can show the previous binding.
	for i := range 3 {
		createPod(t, admin, fmt.Sprintf("p%d", i), cpu("1"))
	}
	startScheduler(t, s, scheduler.ComponentOptions{})
	var bound []string
	var pending *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		pods, err := admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		bound, pending = nil, nil
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Spec.NodeName != "" {
				bound = append(bound, p.Spec.NodeName)
			} else if c := scheduledCondition(p); c != nil && c.Status == corev1.ConditionFalse {
				pending = p
			}
		}
		return len(bound) == 2 && pending != nil, nil
	})
	if err != nil {
		t.Fatalf("want two pods bound and one unschedulable, got bound to %v, pending %v", bound, pending != nil)
	}
	if bound[0] == bound[1] {
		t.Fatalf("both pods went to %s: the second must see the first before its binding is confirmed", bound[0])
	}
	if msg := scheduledCondition(pending).Message; msg != "0/2 nodes are available: 2 Insufficient cpu." {
		t.Fatalf("message %q", msg)
	}
	time.Sleep(time.Second)
	if p, _ := admin.CoreV1().Pods(ns).Get(context.Background(), pending.Name, metav1.GetOptions{}); p.Spec.NodeName != "" {
		t.Fatalf("%s was bound to %s: the nodes are full", p.Name, p.Spec.NodeName)
	}
}

func TestOnlyTheLeaderBindsAndAStandbyTakesOver(t *testing.T) {
	s := startServer(t)
	admin := s.Admin
	createNode(t, admin, "n1", "8")
	createNode(t, admin, "n2", "8")
	election := leader.Options{LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}
	a := startScheduler(t, s, scheduler.ComponentOptions{LeaderElect: true, LeaderElection: election, Identity: "copy-a"})
	waitForHolder(t, admin, "copy-a")
	b := startScheduler(t, s, scheduler.ComponentOptions{LeaderElect: true, LeaderElection: election, Identity: "copy-b"})

	for i := range 5 {
		createPod(t, admin, fmt.Sprintf("first-%d", i))
	}
	for i := range 5 {
		waitBound(t, admin, fmt.Sprintf("first-%d", i))
	}
	if a.bindings.Load() != 5 || b.bindings.Load() != 0 {
		t.Fatalf("bindings: leader %d, standby %d; want 5 and 0", a.bindings.Load(), b.bindings.Load())
	}

	stopped := time.Now()
	a.stop()
	waitForHolder(t, admin, "copy-b")
	if took := time.Since(stopped); took > election.LeaseDuration {
		t.Fatalf("the standby took %v to take over, more than the lease duration %v", took, election.LeaseDuration)
	}
	for i := range 5 {
		createPod(t, admin, fmt.Sprintf("second-%d", i))
	}
	for i := range 5 {
		waitBound(t, admin, fmt.Sprintf("second-%d", i))
	}
	if a.bindings.Load() != 5 || b.bindings.Load() != 5 {
		t.Fatalf("bindings after the takeover: old leader %d, new leader %d; want 5 and 5", a.bindings.Load(), b.bindings.Load())
	}
}

// waitForHolder waits until the scheduler's Lease names identity.
func waitForHolder(t *testing.T, client kubernetes.Interface, identity string) {
	t.Helper()
	var lease *coordinationv1.Lease
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		l, err := client.CoordinationV1().Leases(scheduler.LeaseNamespace).Get(ctx, scheduler.LeaseName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		lease = l
		return l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == identity, nil
	})
	if err != nil {
		t.Fatalf("lease %s/%s not held by %s: %+v", scheduler.LeaseNamespace, scheduler.LeaseName, identity, lease)
	}
}
