package nft

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/berth-io/berth/agents/nettest"
	"github.com/berth-io/berth/agents/proxy/rules"
)

func desired() rules.Model {
	node := rules.Node{Name: "n1", IPs: []netip.Addr{netip.MustParseAddr("192.168.7.1")}, ClusterCIDR: netip.MustParsePrefix("10.244.0.0/16")}
	m := rules.Base(node)
	slice := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(v1.ProtocolTCP), Port: ptr.To[int32](8080)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.0.2"}, NodeName: ptr.To("n1")},
			{Addresses: []string{"10.244.0.3"}, NodeName: ptr.To("n2")},
		}}
	for _, s := range []*v1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "plain"}, Spec: v1.ServiceSpec{Type: v1.ServiceTypeNodePort, ClusterIP: "10.96.0.10",
			Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30080}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sticky"}, Spec: v1.ServiceSpec{Type: v1.ServiceTypeNodePort, ClusterIP: "10.96.0.11",
			SessionAffinity: v1.ServiceAffinityClientIP, ExternalTrafficPolicy: v1.ServiceExternalTrafficPolicyLocal,
			Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80, NodePort: 30081}}}},
	} {
		m.Merge(rules.Service(s, []*discoveryv1.EndpointSlice{slice}, node))
	}
	m.Merge(rules.Service(&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "empty"}, Spec: v1.ServiceSpec{Type: v1.ServiceTypeNodePort, ClusterIP: "10.96.0.12",
		Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolUDP, Port: 53, NodePort: 30082}}}}, nil, node))
	return m
}

func TestApplyThenObserveRoundTrips(t *testing.T) {
	ns := nettest.New(t, "nfttest")
	tbl, err := Open("berth-proxy-test", ns.Fd())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	want := desired()
	if err := tbl.Apply(rules.Diff(rules.NewModel(), want)); err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Observe()
	if err != nil {
		t.Fatal(err)
	}
	if p := rules.Diff(got, want); !p.Empty() {
		t.Fatalf("programmed table differs from the model: %+v", p)
	}
	out, err := exec.Command("ip", "netns", "exec", ns.Name, "nft", "list", "table", "ip", "berth-proxy-test").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list: %v\n%s", err, out)
	}
	for _, s := range []string{"numgen random mod 2 0 goto endpoint-", "chain pick-cluster-2", "update @affinity-", "ip daddr . meta l4proto . th dport vmap @service-ips", "masquerade fully-random"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("nft list lacks %q:\n%s", s, out)
		}
	}

	// Changed behind its back: a rule deleted, an element removed.
	for _, cmd := range [][]string{
		{"flush", "chain", "ip", "berth-proxy-test", "masquerading"},
		{"flush", "map", "ip", "berth-proxy-test", "service-ips"},
	} {
		if out, err := exec.Command("ip", append([]string{"netns", "exec", ns.Name, "nft"}, cmd...)...).CombinedOutput(); err != nil {
			t.Fatalf("nft %v: %v\n%s", cmd, err, out)
		}
	}
	got, err = tbl.Observe()
	if err != nil {
		t.Fatal(err)
	}
	p := rules.Diff(got, want)
	if len(p.ReplaceChains) != 1 || p.ReplaceChains[0].Name != rules.ChainMasquerading || len(p.AddElements[rules.SetServiceIPs]) != 2 {
		t.Fatalf("repair plan %+v: want the masquerading chain refilled and two service-ips elements added", p)
	}
	if err := tbl.Apply(p); err != nil {
		t.Fatal(err)
	}
	if got, err = tbl.Observe(); err != nil || !rules.Diff(got, want).Empty() {
		t.Fatalf("after repair: %v, plan %+v", err, rules.Diff(got, want))
	}

	// Everything of the services gone: only the base is left.
	base := rules.Base(rules.Node{Name: "n1", IPs: []netip.Addr{netip.MustParseAddr("192.168.7.1")}})
	if err := tbl.Apply(rules.Diff(want, base)); err != nil {
		t.Fatal(err)
	}
	if got, err = tbl.Observe(); err != nil || !rules.Diff(got, base).Empty() {
		t.Fatalf("after removing the services: %v, plan %+v", err, rules.Diff(got, base))
	}
	if err := tbl.Delete(); err != nil {
		t.Fatal(err)
	}
	if ok, err := tbl.Exists(); err != nil || ok {
		t.Fatalf("table exists after Delete: %v %v", ok, err)
	}
}
