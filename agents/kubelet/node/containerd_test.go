package node

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/runtime"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// TestJoinWithARealRuntime is the flow of a joining machine on a managed
// containerd: the node registers not Ready (the runtime has no pod network
// yet), waits for its pod CIDR, writes the CNI configuration, and turns
// Ready; its nodeInfo and capacity come from the runtime and the machine.
func TestJoinWithARealRuntime(t *testing.T) {
	s := servertest.Start(t)
	dataDir := t.TempDir()
	c, err := runtime.Start(context.Background(), runtime.Config{DataDir: dataDir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	conn, err := runtime.DialCRI(c.Address())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	cri := runtimeapi.NewRuntimeServiceClient(conn)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := Register(ctx, Config{
		Name:           "joiner",
		Client:         s.ClientAs(server.NodeUser("joiner"), server.NodesGroup),
		DataDir:        dataDir,
		KubeletVersion: server.KubernetesVersion,
		RuntimeVersion: RuntimeVersion(cri),
		RuntimeHealthy: RuntimeHealthy(cri),
		Log:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	node, err := s.Admin.CoreV1().Nodes().Get(ctx, "joiner", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := node.Status.NodeInfo.ContainerRuntimeVersion; !strings.HasPrefix(v, "containerd://1.") {
		t.Errorf("containerRuntimeVersion %q, want containerd://1.x", v)
	}
	if node.Status.Capacity.Memory().IsZero() || node.Status.Capacity.StorageEphemeral().IsZero() || node.Status.NodeInfo.BootID == "" {
		t.Errorf("status without the machine's sizes or identity: %+v", node.Status)
	}
	if ready := readyCondition(node); ready.Status != corev1.ConditionFalse || !strings.Contains(ready.Message, "network not ready") {
		t.Errorf("Ready before the pod network exists: %+v, want False saying the network is not ready", ready)
	}

	done := make(chan struct{})
	runCtx, stop := context.WithCancel(ctx)
	go func() { n.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	// The node lifecycle controller's IPAM would do this.
	patch := []byte(`{"spec":{"podCIDR":"10.244.77.0/24","podCIDRs":["10.244.77.0/24"]}}`)
	if _, err := s.Admin.CoreV1().Nodes().Patch(ctx, "joiner", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	cidr, err := n.WaitForPodCIDR(ctx)
	if err != nil {
		t.Fatal(err)
	}
	layout := c.Layout()
	if err := runtime.WriteCNIConfig(layout.CNIConfDir, runtime.Network{Bridge: "b3join0", PodCIDR: cidr, IPAMDir: layout.IPAMDir}); err != nil {
		t.Fatal(err)
	}
	n.UpdateStatusNow()
	start := time.Now()
	eventually(t, 20*time.Second, "the node to turn Ready", func() bool {
		node, err := s.Admin.CoreV1().Nodes().Get(ctx, "joiner", metav1.GetOptions{})
		return err == nil && readyCondition(node).Status == corev1.ConditionTrue
	})
	t.Logf("Ready %v after the CNI configuration was written", time.Since(start).Round(time.Millisecond))
}

func readyCondition(node *corev1.Node) corev1.NodeCondition {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{}
}
