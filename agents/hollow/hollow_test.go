package hollow

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/agents/nodestatus"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// fastLeases renew every 300 ms, so that tests see several renewals.
var fastLeases = Options{LeaseDuration: 2 * time.Second, LeaseRenewInterval: 300 * time.Millisecond}

// startFleet runs a fleet as a node identity (subject to the system:node
// role, as a user of the hollow nodes group) until the test ends.
func startFleet(t *testing.T, s *servertest.Server, opts Options) *Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f, err := Start(ctx, s.ClientAs(server.HollowUser, server.HollowNodesGroup), opts)
	if err != nil {
		cancel()
		t.Fatalf("starting hollow nodes: %v", err)
	}
	t.Cleanup(func() { cancel(); f.Wait() })
	return f
}

// eventually polls cond every 20 ms until it holds, failing after limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() (bool, error)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func renewTime(t *testing.T, c kubernetes.Interface, node string) time.Time {
	t.Helper()
	lease, err := c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("lease of %s: %v", node, err)
	}
	return lease.Spec.RenewTime.Time
}

func TestNodesRegisterReadyAndRenewTheirLeases(t *testing.T) {
	s := servertest.Start(t)
	opts := fastLeases
	opts.Nodes, opts.CPU, opts.Pods, opts.Labels = 3, resource.MustParse("4"), 50, map[string]string{"topology.kubernetes.io/zone": "z1"}
	f := startFleet(t, s, opts)
	ctx := context.Background()

	for i, name := range f.Names() {
		node, err := s.Admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !nodestatus.IsReady(node) || len(node.Status.Conditions) != 4 {
			t.Errorf("%s: conditions %+v, want Ready and three pressures", name, node.Status.Conditions)
		}
		alloc := node.Status.Allocatable
		if alloc.Cpu().String() != "4" || alloc.Memory().String() != "32Gi" || alloc.Pods().Value() != 50 {
			t.Errorf("%s: allocatable %v", name, alloc)
		}
		if node.Labels[corev1.LabelHostname] != name || node.Labels["topology.kubernetes.io/zone"] != "z1" || node.Labels[NodeLabel] != "true" {
			t.Errorf("%s: labels %v", name, node.Labels)
		}
		if want := fmt.Sprintf("172.16.0.%d", i+1); node.Status.Addresses[0].Address != want {
			t.Errorf("%s: addresses %v, want InternalIP %s", name, node.Status.Addresses, want)
		}
		lease, err := s.Admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *lease.Spec.HolderIdentity != name || *lease.Spec.LeaseDurationSeconds != 2 || lease.OwnerReferences[0].UID != node.UID {
			t.Errorf("%s: lease %+v owned by %v", name, lease.Spec, lease.OwnerReferences)
		}
	}
	first := renewTime(t, s.Admin, f.Names()[0])
	eventually(t, 2*time.Second, "the lease is renewed", func() (bool, error) {
		return renewTime(t, s.Admin, f.Names()[0]).After(first), nil
	})
}

func TestAStoppedNodeNoLongerRenewsItsLease(t *testing.T) {
	s := servertest.Start(t)
	opts := fastLeases
	opts.Nodes = 2
	f := startFleet(t, s, opts)
	dead, alive := f.Names()[0], f.Names()[1]
	if err := f.Stop(dead); err != nil {
		t.Fatal(err)
	}
	if err := f.Stop("nope"); err == nil {
		t.Error("stopping an unknown node was not an error")
	}
	time.Sleep(opts.LeaseRenewInterval) // a renewal in flight may land
	deadAt, aliveAt := renewTime(t, s.Admin, dead), renewTime(t, s.Admin, alive)
	time.Sleep(4 * opts.LeaseRenewInterval)
	if got := renewTime(t, s.Admin, dead); !got.Equal(deadAt) {
		t.Errorf("the stopped node renewed its lease (%v → %v)", deadAt, got)
	}
	if got := renewTime(t, s.Admin, alive); !got.After(aliveAt) {
		t.Errorf("the live node did not renew its lease")
	}
}

func TestANodeMarkedNotReadyReportsReadyAgain(t *testing.T) {
	s := servertest.Start(t)
	f := startFleet(t, s, Options{Nodes: 1})
	name := f.Names()[0]
	ctx := context.Background()
	unknown := `{"status":{"conditions":[{"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown"}]}}`
	if _, err := s.Admin.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, []byte(unknown), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, 5*time.Second, "Ready again", func() (bool, error) {
		node, err := s.Admin.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		return err == nil && nodestatus.IsReady(node), err
	})
	t.Logf("Ready again after %s", took.Round(time.Millisecond))
}

// newPod creates a pod in ns and binds it to node, as a scheduler would.
func newPod(t *testing.T, s *servertest.Server, ns, name, node string, restart corev1.RestartPolicy, annotations map[string]string) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Spec: corev1.PodSpec{
			RestartPolicy: restart,
			Containers:    []corev1.Container{{Name: "app", Image: "nginx"}},
		},
	}
	if _, err := s.Admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
	if err := s.Admin.CoreV1().Pods(ns).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitPod polls the pod until cond holds and returns it.
func waitPod(t *testing.T, s *servertest.Server, ns, name string, limit time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	eventually(t, limit, name+": "+what, func() (bool, error) {
		var err error
		pod, err = s.Admin.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil && cond(pod), err
	})
	return pod
}

func running(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && conditionStatus(&pod.Status, corev1.PodReady) == corev1.ConditionTrue
}

func TestPodsOnHollowNodes(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("apps")
	f := startFleet(t, s, Options{Nodes: 2})
	ctx := context.Background()

	// The node IPAM controller gives the second node a pod CIDR.
	withCIDR := f.Names()[1]
	cidrPatch := `{"spec":{"podCIDR":"10.244.5.0/24","podCIDRs":["10.244.5.0/24"]}}`
	if _, err := s.Admin.CoreV1().Nodes().Patch(ctx, withCIDR, types.StrategicMergePatchType, []byte(cidrPatch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the fleet sees the pod CIDR", func() (bool, error) {
		node, err := f.nodeLister.Get(withCIDR)
		return err == nil && node.Spec.PodCIDR != "", nil
	})

	t.Run("a bound pod runs with an IP from its node's pod CIDR", func(t *testing.T) {
		for _, tc := range []struct{ pod, node, cidr, hostIP string }{
			{"web-0", f.Names()[0], "100.64.0.0/24", "172.16.0.1"},
			{"web-1", withCIDR, "10.244.5.0/24", "172.16.0.2"},
		} {
			newPod(t, s, "apps", tc.pod, tc.node, corev1.RestartPolicyAlways, nil)
			pod := waitPod(t, s, "apps", tc.pod, 5*time.Second, "Running and Ready", running)
			ip, err := netip.ParseAddr(pod.Status.PodIP)
			if err != nil || !netip.MustParsePrefix(tc.cidr).Contains(ip) {
				t.Errorf("%s: pod IP %q, want one in %s", tc.pod, pod.Status.PodIP, tc.cidr)
			}
			if pod.Status.HostIP != tc.hostIP || pod.Status.StartTime == nil || pod.Status.QOSClass != corev1.PodQOSBestEffort {
				t.Errorf("%s: host IP %s, start time %v, QoS class %q", tc.pod, pod.Status.HostIP, pod.Status.StartTime, pod.Status.QOSClass)
			}
			if c := pod.Status.ContainerStatuses; len(c) != 1 || c[0].State.Running == nil || !c[0].Ready {
				t.Errorf("%s: container statuses %+v", tc.pod, c)
			}
			if len(pod.ManagedFields) == 0 || pod.Spec.DNSPolicy == "" || pod.Spec.Containers[0].TerminationMessagePath == "" {
				t.Errorf("%s: managed fields or spec lost by the status update: %+v", tc.pod, pod.Spec)
			}
		}
	})

	t.Run("job pods end as their annotations say", func(t *testing.T) {
		for _, tc := range []struct {
			pod         string
			annotations map[string]string
			phase       corev1.PodPhase
			exitCode    int32
		}{
			{"job-ok", map[string]string{RunForAnnotation: "1s"}, corev1.PodSucceeded, 0},
			{"job-fail", map[string]string{RunForAnnotation: "1s", FailAnnotation: "true"}, corev1.PodFailed, 1},
		} {
			newPod(t, s, "apps", tc.pod, f.Names()[0], corev1.RestartPolicyNever, tc.annotations)
		}
		for _, tc := range []struct {
			pod      string
			phase    corev1.PodPhase
			exitCode int32
		}{{"job-ok", corev1.PodSucceeded, 0}, {"job-fail", corev1.PodFailed, 1}} {
			pod := waitPod(t, s, "apps", tc.pod, 5*time.Second, string(tc.phase), func(p *corev1.Pod) bool { return p.Status.Phase == tc.phase })
			term := pod.Status.ContainerStatuses[0].State.Terminated
			if term == nil || term.ExitCode != tc.exitCode {
				t.Fatalf("%s: container state %+v, want exit code %d", tc.pod, pod.Status.ContainerStatuses[0].State, tc.exitCode)
			}
			if ran := term.FinishedAt.Sub(term.StartedAt.Time); ran < time.Second-time.Millisecond {
				// Times are stored to the second; a run of 1 s shows as 1 or 2 s.
				t.Errorf("%s: ran for %s, want 1s", tc.pod, ran)
			}
		}
	})

	t.Run("graceful deletion is completed", func(t *testing.T) {
		newPod(t, s, "apps", "doomed", f.Names()[0], corev1.RestartPolicyAlways, nil)
		waitPod(t, s, "apps", "doomed", 5*time.Second, "Running", running)
		if err := s.Admin.CoreV1().Pods("apps").Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		took := eventually(t, 5*time.Second, "the pod is gone", func() (bool, error) {
			_, err := s.Admin.CoreV1().Pods("apps").Get(ctx, "doomed", metav1.GetOptions{})
			return err != nil, nil
		})
		t.Logf("deleted %s after the request (grace period 30s)", took.Round(time.Millisecond))
	})
}

func TestAStartupDelayShowsContainerCreatingFirst(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("apps")
	f := startFleet(t, s, Options{Nodes: 1, StartupDelay: 1500 * time.Millisecond})
	start := time.Now()
	newPod(t, s, "apps", "slow", f.Names()[0], corev1.RestartPolicyAlways, nil)
	waitPod(t, s, "apps", "slow", time.Second, "ContainerCreating", func(p *corev1.Pod) bool {
		c := p.Status.ContainerStatuses
		return p.Status.Phase == corev1.PodPending && len(c) == 1 && c[0].State.Waiting != nil && c[0].State.Waiting.Reason == "ContainerCreating"
	})
	waitPod(t, s, "apps", "slow", 5*time.Second, "Running", running)
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Fatalf("running after %s, before the startup delay", took)
	}
}

func TestAThousandNodesRegister(t *testing.T) {
	s := servertest.Start(t)
	start := time.Now()
	f := startFleet(t, s, Options{Nodes: 1000})
	registered := time.Since(start)
	eventually(t, 30*time.Second, "every lease exists", func() (bool, error) {
		leases, err := s.Admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).List(context.Background(), metav1.ListOptions{})
		return err == nil && len(leases.Items) == len(f.Names()), err
	})
	nodes, err := s.Admin.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1000 {
		t.Fatalf("%d nodes (%v), want 1000", len(nodes.Items), err)
	}
	t.Logf("1000 nodes registered in %s, with their leases in %s", registered.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
