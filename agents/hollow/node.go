package hollow

import (
	"net/netip"
	"runtime"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/agents/nodestatus"
)

// NodeLabel marks the nodes hollow registers ("true").
const NodeLabel = "hollow.berth.io/node"

// nodeObject is the Node a hollow node registers, with its full status as
// kubelet reports it on registration.
func nodeObject(name string, index int, o Options, now time.Time) *corev1.Node {
	labels := map[string]string{}
	for k, v := range o.Labels {
		labels[k] = v
	}
	labels[corev1.LabelHostname] = name
	labels[corev1.LabelOSStable] = "linux"
	labels[corev1.LabelArchStable] = runtime.GOARCH
	labels[NodeLabel] = "true"
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:              o.CPU,
		corev1.ResourceMemory:           o.Memory,
		corev1.ResourcePods:             *resource.NewQuantity(int64(o.Pods), resource.DecimalSI),
		corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
	}
	id := strconv.Itoa(index)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Conditions:  nodestatus.Conditions(nodestatus.Health{}, nil, now),
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: nodeIP(index).String()},
				{Type: corev1.NodeHostName, Address: name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo: corev1.NodeSystemInfo{
				MachineID:               "hollow-" + id,
				SystemUUID:              "hollow-" + id,
				BootID:                  "hollow-" + id,
				KernelVersion:           "hollow",
				OSImage:                 "berth hollow node",
				ContainerRuntimeVersion: "hollow://1",
				KubeletVersion:          o.KubeletVersion,
				OperatingSystem:         "linux",
				Architecture:            runtime.GOARCH,
			},
		},
	}
}

// podCIDR is the node's pod CIDR: its first spec.podCIDRs entry, or
// fallback when it has none or it does not parse.
func podCIDR(node *corev1.Node, fallback netip.Prefix) netip.Prefix {
	cidr := node.Spec.PodCIDR
	if len(node.Spec.PodCIDRs) > 0 {
		cidr = node.Spec.PodCIDRs[0]
	}
	if p, err := netip.ParsePrefix(cidr); err == nil {
		return p.Masked()
	}
	return fallback
}
