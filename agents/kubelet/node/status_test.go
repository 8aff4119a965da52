package node

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/agents/nodestatus"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// healthy is a 4-CPU machine with room to spare.
var healthy = Machine{
	CPUs: 4, MemoryTotal: 16 << 30, MemoryAvailable: 8 << 30,
	DiskTotal: 100 << 30, DiskAvailable: 50 << 30, PIDMax: 4194304, PIDs: 300,
	Info: MachineInfo{Hostname: "m1", KernelVersion: "6.1.0", OSImage: "Debian GNU/Linux 12 (bookworm)", OperatingSystem: "linux", Architecture: "amd64"},
}

func TestAssessMeasurements(t *testing.T) {
	with := func(change func(*Machine)) Machine { m := healthy; change(&m); return m }
	for _, tc := range []struct {
		name       string
		machine    Machine
		runtimeErr error
		want       nodestatus.Health
	}{
		{"healthy", healthy, nil, nodestatus.Health{}},
		{"memory below 100Mi", with(func(m *Machine) { m.MemoryAvailable = 99 << 20 }), nil, nodestatus.Health{MemoryPressure: true}},
		{"memory at 100Mi", with(func(m *Machine) { m.MemoryAvailable = 100 << 20 }), nil, nodestatus.Health{}},
		{"disk below 10%", with(func(m *Machine) { m.DiskAvailable = 9 << 30 }), nil, nodestatus.Health{DiskPressure: true}},
		{"disk at 10%", with(func(m *Machine) { m.DiskAvailable = 10 << 30 }), nil, nodestatus.Health{}},
		{"pids nearly exhausted", with(func(m *Machine) { m.PIDMax, m.PIDs = 32768, 31500 }), nil, nodestatus.Health{PIDPressure: true}},
		{"unknown disk is no pressure", with(func(m *Machine) { m.DiskTotal, m.DiskAvailable = 0, 0 }), nil, nodestatus.Health{}},
		{"runtime down", healthy, errors.New("container runtime is down: connection refused"),
			nodestatus.Health{NotReadyReason: "KubeletNotReady", NotReadyMessage: "container runtime is down: connection refused"}},
		{"pressure and runtime down together", with(func(m *Machine) { m.MemoryAvailable = 0 }), errors.New("down"),
			nodestatus.Health{MemoryPressure: true, NotReadyReason: "KubeletNotReady", NotReadyMessage: "down"}},
	} {
		if got := Assess(tc.machine, Thresholds{}, tc.runtimeErr); got != tc.want {
			t.Errorf("%s: Assess = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if got := Assess(healthy, Thresholds{MemoryAvailable: 9 << 30}, nil); !got.MemoryPressure {
		t.Error("a configured memory threshold above what is free does not report pressure")
	}
}

func TestAllocatableIsCapacityMinusReserved(t *testing.T) {
	capacity := Capacity(healthy, 110)
	got := Allocatable(capacity, corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("100m"),
		corev1.ResourceMemory: resource.MustParse("32Gi"), // more than there is
		"example.com/gpu":     resource.MustParse("1"),    // not in capacity
	})
	want := map[corev1.ResourceName]string{corev1.ResourceCPU: "3900m", corev1.ResourceMemory: "0", corev1.ResourcePods: "110", corev1.ResourceEphemeralStorage: "100Gi"}
	for name, w := range want {
		if q := got[name]; q.Cmp(resource.MustParse(w)) != 0 {
			t.Errorf("allocatable %s = %s, want %s", name, q.String(), w)
		}
	}
	if _, ok := got["example.com/gpu"]; ok {
		t.Error("a reserve of a resource the node lacks appeared in allocatable")
	}
	if q := capacity[corev1.ResourceCPU]; q.String() != "4" {
		t.Errorf("Allocatable changed its capacity argument: cpu %s", q.String())
	}
}

func TestStatusChangesIgnoreHeartbeats(t *testing.T) {
	f := facts{addresses: addresses([]string{"10.0.0.5"}, "m1"), port: 10250, maxPods: 110, reserved: DefaultReserved(), runtimeVersion: "containerd://1.6.20", kubeletVersion: "v1.37.2"}
	first := desiredStatus(healthy, f, nodestatus.Health{}, nil, t0)
	// As the API returns it: transition times at second precision.
	stored := first.DeepCopy()
	for i := range stored.Conditions {
		stored.Conditions[i].LastTransitionTime = metav1.NewTime(t0.Truncate(time.Second))
	}
	for _, tc := range []struct {
		name    string
		next    corev1.NodeStatus
		changed bool
	}{
		{"only the heartbeat moved", desiredStatus(healthy, f, nodestatus.Health{}, stored.Conditions, t0.Add(10*time.Second)), false},
		{"free memory moved but stays above the threshold", desiredStatus(func() Machine { m := healthy; m.MemoryAvailable -= 1 << 30; return m }(), f, nodestatus.Health{}, stored.Conditions, t0.Add(10*time.Second)), false},
		{"memory pressure", desiredStatus(healthy, f, nodestatus.Health{MemoryPressure: true}, stored.Conditions, t0.Add(10*time.Second)), true},
		{"runtime down", desiredStatus(healthy, f, nodestatus.Health{NotReadyReason: "KubeletNotReady"}, stored.Conditions, t0.Add(10*time.Second)), true},
		{"new runtime version", desiredStatus(healthy, facts{addresses: f.addresses, port: 10250, maxPods: 110, reserved: f.reserved, runtimeVersion: "containerd://2.0.0", kubeletVersion: "v1.37.2"}, nodestatus.Health{}, stored.Conditions, t0), true},
		{"new address", desiredStatus(healthy, facts{addresses: addresses([]string{"10.0.0.6"}, "m1"), port: 10250, maxPods: 110, reserved: f.reserved, runtimeVersion: f.runtimeVersion, kubeletVersion: "v1.37.2"}, nodestatus.Health{}, stored.Conditions, t0), true},
	} {
		if got := statusChanged(*stored, tc.next); got != tc.changed {
			t.Errorf("%s: changed = %v, want %v", tc.name, got, tc.changed)
		}
	}
	unknown := stored.DeepCopy()
	unknown.Conditions[3].Status, unknown.Conditions[3].Reason = corev1.ConditionUnknown, "NodeStatusUnknown"
	if !statusChanged(*unknown, desiredStatus(healthy, f, nodestatus.Health{}, unknown.Conditions, t0.Add(time.Minute))) {
		t.Error("the API shows Ready Unknown (the controller marked the node) and the node's status does not count as changed")
	}
}

func TestNodeObjectCarriesTheWellKnownLabels(t *testing.T) {
	n := nodeObject("m1", map[string]string{"team": "a", corev1.LabelHostname: "spoofed"}, corev1.NodeStatus{})
	if n.Labels[corev1.LabelHostname] != "m1" || n.Labels["team"] != "a" || n.Labels[corev1.LabelOSStable] == "" || n.Labels[corev1.LabelArchStable] == "" {
		t.Errorf("labels %v", n.Labels)
	}
	if got := missingLabels(map[string]string{"team": "a", corev1.LabelHostname: "old"}, n.Labels); len(got) != 3 || got["team"] != "" {
		t.Errorf("missingLabels = %v, want hostname, os and arch", got)
	}
	if got := missingLabels(n.Labels, n.Labels); got != nil {
		t.Errorf("missingLabels of equal sets = %v, want nil", got)
	}
}

func TestAddresses(t *testing.T) {
	got := addresses([]string{"10.0.0.5", "fd00::5"}, "m1")
	want := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}, {Type: corev1.NodeInternalIP, Address: "fd00::5"}, {Type: corev1.NodeHostName, Address: "m1"}}
	if len(got) != len(want) {
		t.Fatalf("addresses = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("address %d = %v, want %v", i, got[i], want[i])
		}
	}
	if got := addresses(nil, " "); len(got) != 0 {
		t.Errorf("no IPs and a blank host name give %v", got)
	}
}
