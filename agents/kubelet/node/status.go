package node

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/agents/nodestatus"
)

// Thresholds say when a node reports pressure, as kubelet's hard
// eviction thresholds do. Zero fields take the defaults in brackets.
type Thresholds struct {
	// MemoryAvailable: MemoryPressure below this many free bytes [100Mi,
	// kubelet's memory.available].
	MemoryAvailable int64
	// DiskAvailable: DiskPressure below this fraction of the data
	// directory's disk free [0.10, kubelet's nodefs.available].
	DiskAvailable float64
	// PIDAvailable: PIDPressure below this fraction of pid_max free [0.05;
	// kubelet sets no default].
	PIDAvailable float64
}

func (t Thresholds) withDefaults() Thresholds {
	if t.MemoryAvailable <= 0 {
		t.MemoryAvailable = 100 << 20
	}
	if t.DiskAvailable <= 0 {
		t.DiskAvailable = 0.10
	}
	if t.PIDAvailable <= 0 {
		t.PIDAvailable = 0.05
	}
	return t
}

// Assess is the health a node reports for machine m: pressure on what is
// below its threshold, and not Ready, saying why, when the container
// runtime is unhealthy (runtimeErr not nil).
func Assess(m Machine, t Thresholds, runtimeErr error) nodestatus.Health {
	t = t.withDefaults()
	h := nodestatus.Health{
		MemoryPressure: m.MemoryAvailable < t.MemoryAvailable,
		DiskPressure:   m.DiskTotal > 0 && float64(m.DiskAvailable) < t.DiskAvailable*float64(m.DiskTotal),
		PIDPressure:    m.PIDMax > 0 && float64(m.PIDMax-m.PIDs) < t.PIDAvailable*float64(m.PIDMax),
	}
	if runtimeErr != nil {
		h.NotReadyReason = "KubeletNotReady"
		h.NotReadyMessage = runtimeErr.Error()
	}
	return h
}

// DefaultReserved is what a node keeps for the system and itself when
// Config.Reserved is nil: capacity minus this is allocatable.
func DefaultReserved() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("100m"),
		corev1.ResourceMemory:           resource.MustParse("256Mi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"),
	}
}

// Capacity is the node's capacity on machine m: its CPUs, memory and
// data disk, and maxPods pods.
func Capacity(m Machine, maxPods int) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(m.CPUs), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(m.MemoryTotal, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(m.DiskTotal, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(maxPods), resource.DecimalSI),
	}
}

// Allocatable is capacity minus reserved, never below zero.
func Allocatable(capacity, reserved corev1.ResourceList) corev1.ResourceList {
	out := capacity.DeepCopy()
	for name, r := range reserved {
		q, ok := out[name]
		if !ok {
			continue
		}
		q.Sub(r)
		if q.Sign() < 0 {
			q = *resource.NewQuantity(0, q.Format)
		}
		out[name] = q
	}
	return out
}

// facts are what a node states about itself besides the machine.
type facts struct {
	addresses      []corev1.NodeAddress
	port           int32
	maxPods        int
	reserved       corev1.ResourceList
	runtimeVersion string
	kubeletVersion string
}

// desiredStatus is the status a node reports for machine m and health h
// at now; conditions keep their transition times from current.
func desiredStatus(m Machine, f facts, h nodestatus.Health, current []corev1.NodeCondition, now time.Time) corev1.NodeStatus {
	capacity := Capacity(m, f.maxPods)
	return corev1.NodeStatus{
		Capacity:        capacity,
		Allocatable:     Allocatable(capacity, f.reserved),
		Conditions:      nodestatus.Conditions(h, current, now),
		Addresses:       f.addresses,
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: f.port}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               m.Info.MachineID,
			SystemUUID:              m.Info.SystemUUID,
			BootID:                  m.Info.BootID,
			KernelVersion:           m.Info.KernelVersion,
			OSImage:                 m.Info.OSImage,
			OperatingSystem:         m.Info.OperatingSystem,
			Architecture:            m.Info.Architecture,
			ContainerRuntimeVersion: f.runtimeVersion,
			KubeletVersion:          f.kubeletVersion,
		},
	}
}

// statusChanged says whether the API's status current differs from
// desired in anything the node reports, heartbeat times aside: only then
// (or when a report is due anyway) does the node send its status.
func statusChanged(current, desired corev1.NodeStatus) bool {
	if !apiequality.Semantic.DeepEqual(current.Capacity, desired.Capacity) ||
		!apiequality.Semantic.DeepEqual(current.Allocatable, desired.Allocatable) ||
		!apiequality.Semantic.DeepEqual(current.NodeInfo, desired.NodeInfo) ||
		current.DaemonEndpoints != desired.DaemonEndpoints ||
		!slices.Equal(current.Addresses, desired.Addresses) {
		return true
	}
	return !slices.Equal(conditionKeys(current.Conditions), conditionKeys(desired.Conditions))
}

// conditionKeys are the conditions without heartbeat times, transition
// times at the API's precision (seconds), sorted by type.
func conditionKeys(cs []corev1.NodeCondition) []string {
	keys := make([]string, 0, len(cs))
	for _, c := range cs {
		keys = append(keys, fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%d", c.Type, c.Status, c.Reason, c.Message, c.LastTransitionTime.Unix()))
	}
	slices.Sort(keys)
	return keys
}

// nodeObject is the Node registered for name with labels and status st.
func nodeObject(name string, labels map[string]string, st corev1.NodeStatus) *corev1.Node {
	all := map[string]string{}
	for k, v := range labels {
		all[k] = v
	}
	for k, v := range defaultLabels(name) {
		all[k] = v
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: all}, Status: st}
}

// defaultLabels are the well-known labels every node carries.
func defaultLabels(name string) map[string]string {
	return map[string]string{
		corev1.LabelHostname:   name,
		corev1.LabelOSStable:   runtime.GOOS,
		corev1.LabelArchStable: runtime.GOARCH,
	}
}

// missingLabels are the labels of want that have absent or other values
// in have, or nil.
func missingLabels(have, want map[string]string) map[string]string {
	var missing map[string]string
	for k, v := range want {
		if have[k] != v {
			if missing == nil {
				missing = map[string]string{}
			}
			missing[k] = v
		}
	}
	return missing
}

// addresses are the node's InternalIPs, then its Hostname.
func addresses(ips []string, hostname string) []corev1.NodeAddress {
	out := make([]corev1.NodeAddress, 0, len(ips)+1)
	for _, ip := range ips {
		out = append(out, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	if hostname = strings.TrimSpace(hostname); hostname != "" {
		out = append(out, corev1.NodeAddress{Type: corev1.NodeHostName, Address: hostname})
	}
	return out
}
