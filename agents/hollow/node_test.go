package hollow

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-io/berth/agents/nodestatus"
)

func TestNodeStatusPatches(t *testing.T) {
	st := nodeObject("hollow-3", 3, Options{Pods: 110, KubeletVersion: "v9"}, t0).Status
	var heartbeat, full map[string]map[string]json.RawMessage
	if err := json.Unmarshal(nodestatus.StatusPatch(st, false), &heartbeat); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(nodestatus.StatusPatch(st, true), &full); err != nil {
		t.Fatal(err)
	}
	if len(heartbeat) != 1 || len(heartbeat["status"]) != 1 || heartbeat["status"]["conditions"] == nil {
		t.Errorf("heartbeat patch %s, want status.conditions only", nodestatus.StatusPatch(st, false))
	}
	for _, field := range []string{"conditions", "capacity", "allocatable", "addresses", "nodeInfo", "daemonEndpoints"} {
		if full["status"][field] == nil {
			t.Errorf("full patch lacks status.%s", field)
		}
	}
}

func TestPodCIDRPrefersTheNodeSpec(t *testing.T) {
	fallback := netip.MustParsePrefix("100.64.0.0/24")
	for _, tc := range []struct {
		spec corev1.NodeSpec
		want string
	}{
		{corev1.NodeSpec{}, "100.64.0.0/24"},
		{corev1.NodeSpec{PodCIDR: "10.244.7.0/24"}, "10.244.7.0/24"},
		{corev1.NodeSpec{PodCIDR: "10.244.7.0/24", PodCIDRs: []string{"10.244.8.0/24", "fd00::/64"}}, "10.244.8.0/24"},
		{corev1.NodeSpec{PodCIDR: "garbage"}, "100.64.0.0/24"},
	} {
		if got := podCIDR(&corev1.Node{Spec: tc.spec}, fallback); got.String() != tc.want {
			t.Errorf("podCIDR(%+v) = %s, want %s", tc.spec, got, tc.want)
		}
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"defaults", Options{Nodes: 1}, true},
		{"no nodes", Options{}, false},
		{"too many nodes", Options{Nodes: 10, FirstIndex: maxNodes - 5}, false},
		{"bad prefix", Options{Nodes: 1, NamePrefix: "Hollow_"}, false},
		{"renewal not shorter than the lease", Options{Nodes: 1, LeaseDuration: 5 * time.Second, LeaseRenewInterval: 5 * time.Second}, false},
	} {
		_, err := tc.opts.withDefaults()
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
