package hollow

import (
	"encoding/json"
	"net/netip"
	"runtime"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
			Conditions:  nodeConditions(nil, now),
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

// nodeConditions are the conditions of a healthy node at now: Ready and
// no pressure. A condition keeps its transition time from current while
// its status holds.
func nodeConditions(current []corev1.NodeCondition, now time.Time) []corev1.NodeCondition {
	t := metav1.NewTime(now)
	conditions := []corev1.NodeCondition{
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	}
	for i := range conditions {
		c := &conditions[i]
		c.LastHeartbeatTime, c.LastTransitionTime = t, t
		for _, old := range current {
			if old.Type == c.Type && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	return conditions
}

// nodeStatusPatch is a strategic merge patch of nodes/status: all of st
// when full, else only its conditions (merged by type). Registration sends
// the whole status (a server may have dropped the one sent with the Node,
// or the Node existed); heartbeats only the conditions.
func nodeStatusPatch(st corev1.NodeStatus, full bool) []byte {
	var status any = st
	if !full {
		status = map[string]any{"conditions": st.Conditions}
	}
	patch, _ := json.Marshal(map[string]any{"status": status}) // cannot fail: plain API types
	return patch
}

// isReady says whether a node's Ready condition is True.
func isReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
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

// leaseObject is a node's heartbeat Lease in kube-node-lease, owned by the
// Node so that it goes when the Node does.
func leaseObject(name string, uid types.UID, duration time.Duration, now time.Time) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: corev1.NamespaceNodeLease,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: name, UID: uid,
			}},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptrTo(name),
			LeaseDurationSeconds: ptrTo(int32(duration / time.Second)),
			RenewTime:            &metav1.MicroTime{Time: now},
		},
	}
}
