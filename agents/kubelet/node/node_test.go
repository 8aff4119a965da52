package node

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-io/berth/agents/nodestatus"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// fakeMachine plays the machine and the runtime; tests change them.
type fakeMachine struct {
	mu         sync.Mutex
	machine    Machine
	runtimeErr error
}

func (f *fakeMachine) measure() (Machine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.machine, nil
}

func (f *fakeMachine) healthy(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.runtimeErr
}

func (f *fakeMachine) set(change func(*fakeMachine)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func version(context.Context) (string, error) { return "containerd://1.6.20", nil }

// testConfig is node name's config as its own identity on s, on a fake machine.
func testConfig(s *servertest.Server, name string, fake *fakeMachine) Config {
	return Config{
		Name:           name,
		Client:         s.ClientAs(server.NodeUser(name), server.NodesGroup),
		NodeIPs:        []string{"192.0.2.7"},
		Port:           10443,
		KubeletVersion: server.KubernetesVersion,
		RuntimeVersion: version,
		RuntimeHealthy: fake.healthy,
		Measure:        fake.measure,
		Log:            slog.New(slog.DiscardHandler),
	}
}

func TestRegisterReportsTheMachine(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	fake := &fakeMachine{machine: healthy}
	cfg := testConfig(s, "m1", fake)
	cfg.Labels = map[string]string{"zone": "a"}
	n, err := Register(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Admin.CoreV1().Nodes().Get(ctx, "m1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := got.Status
	checks := []struct {
		what      string
		got, want string
	}{
		{"cpu capacity", st.Capacity.Cpu().String(), "4"},
		{"memory capacity", st.Capacity.Memory().String(), "16Gi"},
		{"ephemeral-storage capacity", st.Capacity.StorageEphemeral().String(), "100Gi"},
		{"pods capacity", st.Capacity.Pods().String(), "110"},
		{"cpu allocatable", st.Allocatable.Cpu().String(), "3900m"},
		{"memory allocatable", st.Allocatable.Memory().String(), "16128Mi"},
		{"runtime version", st.NodeInfo.ContainerRuntimeVersion, "containerd://1.6.20"},
		{"kubelet version", st.NodeInfo.KubeletVersion, server.KubernetesVersion},
		{"os image", st.NodeInfo.OSImage, "Debian GNU/Linux 12 (bookworm)"},
		{"kernel", st.NodeInfo.KernelVersion, "6.1.0"},
		{"hostname label", got.Labels[corev1.LabelHostname], "m1"},
		{"extra label", got.Labels["zone"], "a"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if st.DaemonEndpoints.KubeletEndpoint.Port != 10443 {
		t.Errorf("kubelet endpoint port %d, want 10443", st.DaemonEndpoints.KubeletEndpoint.Port)
	}
	if len(st.Addresses) != 2 || st.Addresses[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "192.0.2.7"}) || st.Addresses[1].Type != corev1.NodeHostName {
		t.Errorf("addresses %v, want the InternalIP then the Hostname", st.Addresses)
	}
	if !nodestatus.IsReady(got) {
		t.Errorf("conditions %+v, want Ready", st.Conditions)
	}
	if a := n.Allocatable(); a.Cpu().String() != "3900m" {
		t.Errorf("Allocatable() cpu %s, want 3900m", a.Cpu())
	}
	lease, err := s.Admin.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "m1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the lease after registration: %v", err)
	}
	if len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].UID != got.UID || lease.OwnerReferences[0].UID != n.UID() {
		t.Errorf("lease owners %v, want the Node %s", lease.OwnerReferences, got.UID)
	}
}

func TestRegisterAdoptsANodeMissingItsLabels(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	if _, err := s.Admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "m1", Labels: map[string]string{"keep": "me"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := Register(ctx, testConfig(s, "m1", &fakeMachine{machine: healthy})); err != nil {
		t.Fatal(err)
	}
	got, err := s.Admin.CoreV1().Nodes().Get(ctx, "m1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["keep"] != "me" || got.Labels[corev1.LabelHostname] != "m1" || !nodestatus.IsReady(got) || got.Status.Capacity.Cpu().String() != "4" {
		t.Errorf("adopted node: labels %v, status %+v; want old and well-known labels, Ready with capacity", got.Labels, got.Status)
	}
}

func TestRegisterRetriesUntilTheAPIAllowsIt(t *testing.T) {
	s := servertest.Start(t)
	fake := &fakeMachine{machine: healthy}
	cfg := testConfig(s, "m1", fake)
	cfg.Client = s.ClientAs(server.NodeUser("other"), server.NodesGroup) // may not register m1
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Register(ctx, cfg)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("registering with another node's identity: %v, want it to retry until the context ends", err)
	}
	if time.Since(start) < 400*time.Millisecond {
		t.Fatalf("gave up after %v, before the context ended", time.Since(start))
	}
}

func TestStatusIsSentWhenItChanges(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	fake := &fakeMachine{machine: healthy}
	n, err := Register(ctx, testConfig(s, "m1", fake))
	if err != nil {
		t.Fatal(err)
	}
	rv := func() string {
		t.Helper()
		got, err := s.Admin.CoreV1().Nodes().Get(ctx, "m1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got.ResourceVersion
	}
	ready := func() corev1.NodeCondition {
		t.Helper()
		got, err := s.Admin.CoreV1().Nodes().Get(ctx, "m1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c
			}
		}
		t.Fatal("no Ready condition")
		return corev1.NodeCondition{}
	}
	now := time.Now()
	before := rv()
	if ok, err := n.UpdateStatus(ctx, now.Add(10*time.Second)); err != nil || !ok {
		t.Fatalf("UpdateStatus = %v, %v; want ready", ok, err)
	}
	if rv() != before {
		t.Error("an unchanged status was sent before the report frequency")
	}

	fake.set(func(f *fakeMachine) { f.runtimeErr = errors.New("container runtime is down: connection refused") })
	if ok, err := n.UpdateStatus(ctx, now.Add(20*time.Second)); err != nil || ok {
		t.Fatalf("UpdateStatus with the runtime down = %v, %v; want not ready", ok, err)
	}
	if c := ready(); c.Status != corev1.ConditionFalse || c.Reason != "KubeletNotReady" || c.Message != "container runtime is down: connection refused" {
		t.Errorf("Ready with the runtime down: %+v", c)
	}

	fake.set(func(f *fakeMachine) { f.runtimeErr = nil })
	if _, err := n.UpdateStatus(ctx, now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c := ready(); c.Status != corev1.ConditionTrue {
		t.Errorf("Ready after the runtime came back: %+v", c)
	}

	// The node lifecycle controller marks the node Unknown: the node answers at once.
	patch := []byte(`{"status":{"conditions":[{"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown","message":"Kubelet stopped posting node status."}]}}`)
	if _, err := s.Admin.CoreV1().Nodes().Patch(ctx, "m1", types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.UpdateStatus(ctx, now.Add(40*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c := ready(); c.Status != corev1.ConditionTrue {
		t.Errorf("Ready after the controller marked the node Unknown: %+v", c)
	}

	before = rv()
	if _, err := n.UpdateStatus(ctx, now.Add(6*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if rv() == before {
		t.Error("an unchanged status was not sent once the report frequency passed")
	}
}

func TestRunRenewsTheLeaseAndReportsPressure(t *testing.T) {
	s := servertest.Start(t)
	fake := &fakeMachine{machine: healthy}
	cfg := testConfig(s, "m1", fake)
	cfg.LeaseDuration, cfg.LeaseRenewInterval = 2*time.Second, 100*time.Millisecond
	cfg.StatusUpdateFrequency = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	n, err := Register(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	leases := s.Admin.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	first, err := leases.Get(context.Background(), "m1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the lease to be renewed twice", func() bool {
		l, err := leases.Get(context.Background(), "m1", metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.Sub(first.Spec.RenewTime.Time) >= 150*time.Millisecond
	})

	fake.set(func(f *fakeMachine) { f.machine.MemoryAvailable = 10 << 20 })
	eventually(t, 5*time.Second, "MemoryPressure", func() bool {
		node, err := s.Admin.CoreV1().Nodes().Get(context.Background(), "m1", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeMemoryPressure {
				return c.Status == corev1.ConditionTrue && c.Reason == "KubeletHasInsufficientMemory"
			}
		}
		return false
	})
}

func TestWaitForPodCIDR(t *testing.T) {
	s := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Register(ctx, testConfig(s, "m1", &fakeMachine{machine: healthy}))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		cidr, err := n.WaitForPodCIDR(ctx)
		if err != nil {
			cidr = "error: " + err.Error()
		}
		got <- cidr
	}()
	patch := []byte(`{"spec":{"podCIDR":"10.244.3.0/24","podCIDRs":["10.244.3.0/24"]}}`)
	if _, err := s.Admin.CoreV1().Nodes().Patch(ctx, "m1", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if cidr := <-got; cidr != "10.244.3.0/24" {
		t.Fatalf("WaitForPodCIDR = %q, want 10.244.3.0/24", cidr)
	}
	// Once set, it answers at once.
	if cidr, err := n.WaitForPodCIDR(ctx); err != nil || cidr != "10.244.3.0/24" {
		t.Fatalf("WaitForPodCIDR again = %q, %v", cidr, err)
	}
}

// eventually polls cond every 20 ms until it holds, failing after limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
