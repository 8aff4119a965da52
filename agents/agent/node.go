package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/nodestatus"
)

// startNode registers the Node, keeps its Lease and Ready status fresh
// in the background, and returns it once it has a pod CIDR.
func startNode(ctx context.Context, client kubernetes.Interface, cfg Config, v *runtimeapi.VersionResponse) (*corev1.Node, error) {
	want := nodeObject(cfg, v)
	nodes := client.CoreV1().Nodes()
	node, err := nodestatus.Register(ctx, nodes, want)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	lease := nodestatus.NewLease(client.CoordinationV1(), cfg.NodeName, node.UID, cfg.LeaseDuration)
	if err := lease.Renew(ctx, time.Now()); err != nil {
		cfg.Log.Warn("node lease", "err", err)
	}
	go func() {
		t := time.NewTicker(cfg.StatusInterval)
		defer t.Stop()
		conditions := node.Status.Conditions
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := lease.Renew(ctx, time.Now()); err != nil && ctx.Err() == nil {
				cfg.Log.Warn("node lease", "err", err)
			}
			st := corev1.NodeStatus{Conditions: nodestatus.Conditions(nodestatus.Health{}, conditions, time.Now())}
			if n, err := nodestatus.PatchStatus(ctx, nodes, cfg.NodeName, st, false); err == nil {
				conditions = n.Status.Conditions
			} else if ctx.Err() == nil {
				cfg.Log.Warn("node status", "err", err)
			}
		}
	}()
	for node.Spec.PodCIDR == "" {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		node, err = nodes.Get(ctx, cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("agent: waiting for the pod CIDR of node %s: %w", cfg.NodeName, err)
		}
	}
	return node, nil
}

func nodeObject(cfg Config, v *runtimeapi.VersionResponse) *corev1.Node {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:  *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourcePods: *resource.NewQuantity(110, resource.DecimalSI),
	}
	if m := memTotal(); m > 0 {
		capacity[corev1.ResourceMemory] = *resource.NewQuantity(m, resource.BinarySI)
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(cfg.DataDir, &fs) == nil {
		capacity[corev1.ResourceEphemeralStorage] = *resource.NewQuantity(int64(fs.Blocks)*fs.Bsize, resource.BinarySI)
	}
	host, _ := os.Hostname()
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: cfg.NodeName, Labels: map[string]string{
			corev1.LabelHostname: cfg.NodeName, corev1.LabelOSStable: goruntime.GOOS, corev1.LabelArchStable: goruntime.GOARCH,
		}},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: nodestatus.Conditions(nodestatus.Health{}, nil, time.Now()),
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: cfg.NodeIP}, {Type: corev1.NodeHostName, Address: host}},
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem: goruntime.GOOS, Architecture: goruntime.GOARCH,
				ContainerRuntimeVersion: v.RuntimeName + "://" + v.RuntimeVersion, KubeletVersion: "v1.37.2-berth",
			},
		},
	}
}

// memTotal is the machine's memory in bytes from /proc/meminfo.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
