package nodelifecycle_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/berth-io/berth/reconciler/controllers/nodelifecycle"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// run starts a controller as the controller manager and returns a function
// that stops it and waits until it has.
func run(t *testing.T, s *servertest.Server, opts nodelifecycle.Options) (stop func()) {
	t.Helper()
	client := s.ClientAs(server.ControllerManagerUser)
	factory := informers.NewSharedInformerFactory(client, 0)
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "node-controller"})
	c, err := nodelifecycle.New(client, factory, recorder, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			factory.Shutdown()
			broadcaster.Shutdown()
		})
	}
	t.Cleanup(stop)
	return stop
}

func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func createNode(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	if _, err := c.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func podCIDRs(t *testing.T, c kubernetes.Interface, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	eventually(t, "pod CIDRs", func(ctx context.Context) (bool, error) {
		for _, n := range names {
			node, err := c.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
			if err != nil || node.Spec.PodCIDR == "" {
				return false, err
			}
			if len(node.Spec.PodCIDRs) != 1 || node.Spec.PodCIDRs[0] != node.Spec.PodCIDR {
				t.Fatalf("node %s: podCIDR %s but podCIDRs %v", n, node.Spec.PodCIDR, node.Spec.PodCIDRs)
			}
			out[n] = node.Spec.PodCIDR
		}
		return true, nil
	})
	return out
}

func TestNodesGetDistinctPodCIDRsThatARestartKeeps(t *testing.T) {
	s := servertest.Start(t)
	cluster := netip.MustParsePrefix("10.244.0.0/16")
	for _, n := range []string{"a", "b", "c"} {
		createNode(t, s.Admin, n)
	}
	stop := run(t, s, nodelifecycle.Options{})
	first := podCIDRs(t, s.Admin, "a", "b", "c")
	stop()

	createNode(t, s.Admin, "d")
	run(t, s, nodelifecycle.Options{})
	all := podCIDRs(t, s.Admin, "a", "b", "c", "d")
	seen := map[string]string{}
	for n, cidr := range all {
		p, err := netip.ParsePrefix(cidr)
		if err != nil || p.Bits() != 24 || !cluster.Contains(p.Addr()) {
			t.Errorf("node %s got %s, want a /24 of %s", n, cidr, cluster)
		}
		if other, dup := seen[cidr]; dup {
			t.Errorf("nodes %s and %s share pod CIDR %s", n, other, cidr)
		}
		seen[cidr] = n
		if was, ok := first[n]; ok && was != cidr {
			t.Errorf("node %s changed pod CIDR from %s to %s", n, was, cidr)
		}
	}
}

// kubelet plays the parts of a kubelet the controller watches: a node
// with a Ready status and a Lease it can renew.
type kubelet struct {
	t      *testing.T
	client kubernetes.Interface
	node   string
}

func newKubelet(t *testing.T, c kubernetes.Interface, node string) *kubelet {
	createNode(t, c, node)
	k := &kubelet{t: t, client: c, node: node}
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &node, LeaseDurationSeconds: ptr(int32(40)), RenewTime: &now},
	}
	if _, err := c.CoordinationV1().Leases(corev1.NamespaceNodeLease).Create(context.Background(), lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.postReady()
	return k
}

func (k *kubelet) renew() {
	ctx := context.Background()
	lease, err := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, k.node, metav1.GetOptions{})
	if err != nil {
		k.t.Error(err)
		return
	}
	now := metav1.NewMicroTime(time.Now())
	lease.Spec.RenewTime = &now
	if _, err := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		k.t.Error(err)
	}
}

// postReady writes the node's Ready condition True with a fresh heartbeat,
// as a kubelet does when it finds the API server's status differs.
func (k *kubelet) postReady() {
	k.t.Helper()
	ctx := context.Background()
	node, err := k.client.CoreV1().Nodes().Get(ctx, k.node, metav1.GetOptions{})
	if err != nil {
		k.t.Fatal(err)
	}
	now := metav1.Now()
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
	if _, err := k.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		k.t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

// runningPod creates a Ready pod bound to node with the given toleration
// of the unreachable taint.
func runningPod(t *testing.T, c kubernetes.Interface, name, node string, tolerationSeconds *int64) {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: ptr(int64(0)),
			Containers:                    []corev1.Container{{Name: "c", Image: "pause"}},
			Tolerations: []corev1.Toleration{{
				Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
				Effect: corev1.TaintEffectNoExecute, TolerationSeconds: tolerationSeconds,
			}},
		},
	}
	created, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.PodRunning
	created.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if _, err := c.CoreV1().Pods("default").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func hasTaint(node *corev1.Node, key string, effect corev1.TaintEffect) bool {
	for _, t := range node.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

func readyCondition(node *corev1.Node) corev1.NodeCondition {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func TestQuietNodeIsTaintedItsPodsEvictedAndItRecovers(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("default")
	s.Namespace(corev1.NamespaceNodeLease)
	ctx := context.Background()

	quiet := newKubelet(t, s.Admin, "quiet")
	healthy := newKubelet(t, s.Admin, "healthy")
	heartbeat, stopHeartbeat := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() { defer close(beating); wait.Until(healthy.renew, 300*time.Millisecond, heartbeat.Done()) }()
	defer func() { stopHeartbeat(); <-beating }()

	runningPod(t, s.Admin, "short", "quiet", ptr(int64(1)))
	runningPod(t, s.Admin, "stays", "quiet", nil)
	runningPod(t, s.Admin, "elsewhere", "healthy", ptr(int64(1)))

	run(t, s, nodelifecycle.Options{GracePeriod: 2 * time.Second})

	eventually(t, "the quiet node to be Unknown and tainted", func(ctx context.Context) (bool, error) {
		node, err := s.Admin.CoreV1().Nodes().Get(ctx, "quiet", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ready := readyCondition(node)
		return ready.Status == corev1.ConditionUnknown && ready.Reason == "NodeStatusUnknown" &&
			ready.Message == "Kubelet stopped posting node status." &&
			hasTaint(node, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) &&
			hasTaint(node, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule), nil
	})
	eventually(t, "the pod with a 1 s toleration to be evicted", func(ctx context.Context) (bool, error) {
		_, err := s.Admin.CoreV1().Pods("default").Get(ctx, "short", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	eventually(t, "the pod that tolerates for ever to be marked not ready", func(ctx context.Context) (bool, error) {
		pod, err := s.Admin.CoreV1().Pods("default").Get(ctx, "stays", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == corev1.ConditionFalse, nil
			}
		}
		return false, nil
	})
	eventually(t, "NodeNotReady and TaintManagerEviction events", func(ctx context.Context) (bool, error) {
		events, err := s.Admin.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		var nodeEvent, eviction bool
		for _, e := range events.Items {
			nodeEvent = nodeEvent || (e.Reason == "NodeNotReady" && e.InvolvedObject.Kind == "Node" && e.InvolvedObject.Name == "quiet")
			eviction = eviction || (e.Reason == "TaintManagerEviction" && e.InvolvedObject.Name == "short" && e.Message == "Marking for deletion Pod default/short")
		}
		return nodeEvent && eviction, nil
	})

	quiet.renew()
	quiet.postReady()
	eventually(t, "the recovered node's taints to go", func(ctx context.Context) (bool, error) {
		node, err := s.Admin.CoreV1().Nodes().Get(ctx, "quiet", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(node.Spec.Taints) == 0, nil
	})

	node, err := s.Admin.CoreV1().Nodes().Get(ctx, "healthy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(node.Spec.Taints) != 0 || readyCondition(node).Status != corev1.ConditionTrue {
		t.Errorf("the node that kept renewing its lease was touched: taints %v, ready %v", node.Spec.Taints, readyCondition(node))
	}
	if _, err := s.Admin.CoreV1().Pods("default").Get(ctx, "elsewhere", metav1.GetOptions{}); err != nil {
		t.Errorf("the pod on the healthy node: %v", err)
	}
	if _, err := s.Admin.CoreV1().Pods("default").Get(ctx, "stays", metav1.GetOptions{}); err != nil {
		t.Errorf("the pod that tolerates the taint for ever: %v", err)
	}
}
