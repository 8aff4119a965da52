package rules

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func chain(name string, rules ...Rule) Chain { return Chain{Name: name, Rules: rules} }

func model(chains []Chain, sets ...Set) Model {
	m := NewModel()
	for _, c := range chains {
		m.Chains[c.Name] = c
	}
	for _, s := range sets {
		m.Sets[s.Name] = s
	}
	return m
}

func elems(es ...Element) map[string]Element {
	m := map[string]Element{}
	for _, e := range es {
		m[e.Key] = e
	}
	return m
}

func TestDiff(t *testing.T) {
	drop, ret := NewRule(Verdict{Kind: Drop}), NewRule(Verdict{Kind: Return})
	shared := func(es ...Element) Set { return Set{Name: "m", Kind: ServiceMap, Shared: true, Elements: elems(es...)} }
	tests := []struct {
		name               string
		observed, desired  Model
		add, replace, del  []string
		addSets, delSets   []string
		addElems, delElems []Element
	}{
		{name: "equal models plan nothing",
			observed: model([]Chain{chain("a", drop)}, shared(Element{Key: "k", Chain: "a"})),
			desired:  model([]Chain{chain("a", drop)}, shared(Element{Key: "k", Chain: "a"}))},
		{name: "new chain and element",
			observed: model(nil, shared()),
			desired:  model([]Chain{chain("a", drop)}, shared(Element{Key: "k", Chain: "a"})),
			add:      []string{"a"}, addElems: []Element{{Key: "k", Chain: "a"}}},
		{name: "changed rules replace only that chain",
			observed: model([]Chain{chain("a", drop), chain("b", drop)}),
			desired:  model([]Chain{chain("a", drop), chain("b", ret)}),
			replace:  []string{"b"}},
		{name: "reordered rules replace the chain",
			observed: model([]Chain{chain("a", drop, ret)}),
			desired:  model([]Chain{chain("a", ret, drop)}),
			replace:  []string{"a"}},
		{name: "gone chain and its element are deleted",
			observed: model([]Chain{chain("a", drop)}, shared(Element{Key: "k", Chain: "a"})),
			desired:  model(nil, shared()),
			del:      []string{"a"}, delElems: []Element{{Key: "k", Chain: "a"}}},
		{name: "element with a new target is deleted and added",
			observed: model(nil, shared(Element{Key: "k", Chain: "a"})),
			desired:  model(nil, shared(Element{Key: "k", Chain: "reject-chain"})),
			delElems: []Element{{Key: "k", Chain: "a"}}, addElems: []Element{{Key: "k", Chain: "reject-chain"}}},
		{name: "a part that stops contributing to a shared set removes its elements, not the set",
			observed: model(nil, shared(Element{Key: "k", Chain: "a"})),
			desired:  model(nil),
			delElems: []Element{{Key: "k", Chain: "a"}}},
		{name: "affinity set with a new timeout is recreated, its elements untouched",
			observed: model(nil, Set{Name: "aff", Kind: AffinitySet, Timeout: 10, Elements: elems(Element{Key: "x"})}),
			desired:  model(nil, Set{Name: "aff", Kind: AffinitySet, Timeout: 20}),
			addSets:  []string{"aff"}, delSets: []string{"aff"}},
		{name: "hook change recreates the chain",
			observed: model([]Chain{{Name: "h", Hook: &Hook{Type: "nat", Hook: "output", Priority: -100}}}),
			desired:  model([]Chain{{Name: "h", Hook: &Hook{Type: "nat", Hook: "output", Priority: -99}}}),
			add:      []string{"h"}, del: []string{"h"}},
	}
	names := func(cs []Chain) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	setNames := func(ss []Set) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Diff(tt.observed, tt.desired)
			check := func(what string, got, want any) {
				t.Helper()
				if g, w := strings.TrimSpace(strings.ReplaceAll(fmtAny(got), "[]", "")), strings.TrimSpace(strings.ReplaceAll(fmtAny(want), "[]", "")); g != w {
					t.Errorf("%s = %s, want %s", what, g, w)
				}
			}
			check("AddChains", names(p.AddChains), tt.add)
			check("ReplaceChains", names(p.ReplaceChains), tt.replace)
			check("DeleteChains", p.DeleteChains, tt.del)
			check("AddSets", setNames(p.AddSets), tt.addSets)
			check("DeleteSets", p.DeleteSets, tt.delSets)
			var addE, delE []Element
			for _, es := range p.AddElements {
				addE = append(addE, es...)
			}
			for _, es := range p.DeleteElements {
				delE = append(delE, es...)
			}
			check("AddElements", addE, tt.addElems)
			check("DeleteElements", delE, tt.delElems)
			if empty := tt.add == nil && tt.replace == nil && tt.del == nil && tt.addSets == nil && tt.delSets == nil && tt.addElems == nil && tt.delElems == nil; empty != p.Empty() {
				t.Errorf("Empty() = %v, want %v", p.Empty(), empty)
			}
		})
	}
}

func fmtAny(v any) string {
	switch v := v.(type) {
	case []string:
		return "[" + strings.Join(v, " ") + "]"
	case []Element:
		var parts []string
		for _, e := range v {
			parts = append(parts, e.Key+"->"+e.Chain)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return "?"
}

func svc(mutate func(*v1.Service)) *v1.Service {
	s := &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10",
			Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80}}}}
	if mutate != nil {
		mutate(s)
	}
	return s
}

type ep struct {
	ip                          string
	node                        string
	ready, serving, terminating bool
}

func slice(eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(v1.ProtocolTCP), Port: ptr.To[int32](8080)}}}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{e.ip}, NodeName: ptr.To(e.node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(e.ready), Serving: ptr.To(e.serving), Terminating: ptr.To(e.terminating)}})
	}
	return s
}

// dnatTargets lists the endpoints the rules of chain DNAT to, following a
// goto to a pick chain into its endpoint map.
func dnatTargets(m Model, chain string) []string {
	var out []string
	for _, r := range m.Chains[chain].Rules {
		for _, s := range r.Stmts {
			switch d := s.(type) {
			case DNAT:
				out = append(out, d.To.String())
			case Verdict:
				if pick, ok := m.Chains[d.Chain]; ok && d.Kind == Goto && strings.HasPrefix(d.Chain, "pick-") {
					p := pick.Rules[0].Stmts[0].(PickFromMap)
					var found []string
					for _, e := range m.Sets[p.Map].Elements {
						b := []byte(e.Data)
						found = append(found, netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(b[4])<<8|uint16(b[5])).String())
					}
					slices.Sort(found)
					out = append(out, found...)
				}
			}
		}
	}
	return out
}

func chainWithPrefix(m Model, prefix string) string {
	for name := range m.Chains {
		if strings.HasPrefix(name, prefix) {
			return name
		}
	}
	return ""
}

func TestServiceEndpoints(t *testing.T) {
	node := Node{Name: "n1", IPs: []netip.Addr{netip.MustParseAddr("192.168.1.10")}}
	clusterKey := ServiceKey(netip.MustParseAddr("10.96.0.10"), 6, 80)
	tests := []struct {
		name      string
		slices    []*discoveryv1.EndpointSlice
		want      []string
		rejectsIP bool
	}{
		{name: "ready endpoints only",
			slices: []*discoveryv1.EndpointSlice{slice(ep{ip: "10.244.0.3", ready: true, serving: true}, ep{ip: "10.244.0.2", serving: false})},
			want:   []string{"10.244.0.3:8080"}},
		{name: "ready wins over terminating serving",
			slices: []*discoveryv1.EndpointSlice{slice(ep{ip: "10.244.0.3", ready: true, serving: true}, ep{ip: "10.244.0.4", serving: true, terminating: true})},
			want:   []string{"10.244.0.3:8080"}},
		{name: "terminating serving when no endpoint is ready",
			slices: []*discoveryv1.EndpointSlice{slice(ep{ip: "10.244.0.4", serving: true, terminating: true}, ep{ip: "10.244.0.5", terminating: true})},
			want:   []string{"10.244.0.4:8080"}},
		{name: "endpoints of two slices, sorted, duplicates once",
			slices: []*discoveryv1.EndpointSlice{slice(ep{ip: "10.244.0.9", ready: true}), slice(ep{ip: "10.244.0.1", ready: true}, ep{ip: "10.244.0.9", ready: true})},
			want:   []string{"10.244.0.1:8080", "10.244.0.9:8080"}},
		{name: "no endpoints rejects", rejectsIP: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Service(svc(nil), tt.slices, node)
			if tt.rejectsIP {
				if got := m.Sets[SetNoEndpointServices].Elements[clusterKey].Chain; got != ChainReject {
					t.Fatalf("no-endpoint element goes to %q, want %q", got, ChainReject)
				}
				if len(m.Chains) != 0 {
					t.Fatalf("chains %v for a service without endpoints", sortedKeys(m.Chains))
				}
				return
			}
			svcChain := m.Sets[SetServiceIPs].Elements[clusterKey].Chain
			if got := dnatTargets(m, svcChain); !slices.Equal(got, tt.want) {
				t.Fatalf("DNAT targets %v, want %v", got, tt.want)
			}
			if len(m.Sets[SetHairpin].Elements) != len(tt.want) {
				t.Fatalf("hairpin elements %d, want %d", len(m.Sets[SetHairpin].Elements), len(tt.want))
			}
		})
	}
}

func TestServiceNodePortPolicies(t *testing.T) {
	node := Node{Name: "n1", IPs: []netip.Addr{netip.MustParseAddr("192.168.1.10")}}
	two := []*discoveryv1.EndpointSlice{slice(ep{ip: "10.244.0.2", node: "n1", ready: true}, ep{ip: "10.244.1.2", node: "n2", ready: true})}
	nodePort := func(policy v1.ServiceExternalTrafficPolicy) func(*v1.Service) {
		return func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.ExternalTrafficPolicy = policy
		}
	}
	portKey := PortKey(6, 30080)

	m := Service(svc(nodePort(v1.ServiceExternalTrafficPolicyCluster)), two, node)
	ext := m.Sets[SetServiceNodePorts].Elements[portKey].Chain
	rules := m.Chains[ext].Rules
	if len(rules) != 2 || rules[0].String() != "jump mark-for-masquerade" || rules[1].String() != "goto pick-nodeport-2" {
		t.Fatalf("Cluster policy external chain %v: want masquerade mark then goto the NodePort pick chain", rules)
	}
	if got := dnatTargets(m, ext); !slices.Equal(got, []string{"10.244.0.2:8080", "10.244.1.2:8080"}) {
		t.Fatalf("Cluster policy DNATs to %v, want both endpoints", got)
	}

	m = Service(svc(nodePort(v1.ServiceExternalTrafficPolicyLocal)), two, node)
	ext = m.Sets[SetServiceNodePorts].Elements[portKey].Chain
	if got := dnatTargets(m, ext); !slices.Equal(got, []string{"10.244.0.2:8080"}) {
		t.Fatalf("Local policy DNATs to %v, want only the local endpoint", got)
	}
	if got := m.Chains[ext].Rules[0].String(); got != "ip saddr 127.0.0.0/8 jump mark-for-masquerade" {
		t.Fatalf("Local policy masquerades %q, want only localhost", got)
	}

	m = Service(svc(nodePort(v1.ServiceExternalTrafficPolicyLocal)), two, Node{Name: "n3"})
	ext = m.Sets[SetServiceNodePorts].Elements[portKey].Chain
	if got := m.Chains[ext].Rules; len(got) != 1 || got[0].String() != "drop" {
		t.Fatalf("Local policy without local endpoints: %v, want drop", got)
	}

	m = Service(svc(nodePort(v1.ServiceExternalTrafficPolicyCluster)), nil, node)
	if got := m.Sets[SetNoEndpointNodePort].Elements[portKey].Chain; got != ChainReject {
		t.Fatalf("NodePort without endpoints goes to %q, want reject", got)
	}
}

func TestServiceAffinity(t *testing.T) {
	m := Service(svc(func(s *v1.Service) {
		s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
		s.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
	}), []*discoveryv1.EndpointSlice{slice(ep{ip: "10.244.0.2", ready: true}, ep{ip: "10.244.0.3", ready: true})}, Node{})
	svcChain := chainWithPrefix(m, "service-")
	rules := m.Chains[svcChain].Rules
	if len(rules) != 4 || !strings.HasPrefix(rules[0].String(), "ip saddr @affinity-") || !strings.HasPrefix(rules[2].String(), "numgen random mod 2 == 0 goto endpoint-") ||
		!strings.HasPrefix(rules[3].String(), "goto endpoint-") {
		t.Fatalf("affinity service chain %v: want a lookup per endpoint, then a random pick", rules)
	}
	var affinity int
	for _, s := range m.Sets {
		if s.Kind == AffinitySet {
			affinity++
			if s.Timeout.Seconds() != 60 {
				t.Errorf("affinity set %s timeout %v, want 60s", s.Name, s.Timeout)
			}
		}
	}
	if affinity != 2 {
		t.Fatalf("%d affinity sets, want one per endpoint", affinity)
	}
}

func TestMergeThenDiffTouchesOneService(t *testing.T) {
	node := Node{Name: "n1"}
	build := func(ready string) Model {
		m := Base(node)
		for i, name := range []string{"a", "b", "c"} {
			s := svc(func(s *v1.Service) { s.Name = name; s.Spec.ClusterIP = "10.96.0." + string(rune('1'+i)) })
			ip := "10.244.0.2"
			if name == "b" {
				ip = ready
			}
			m.Merge(Service(s, []*discoveryv1.EndpointSlice{slice(ep{ip: ip, ready: true}, ep{ip: "10.244.0.99", ready: true})}, node))
		}
		return m
	}
	p := Diff(build("10.244.0.2"), build("10.244.0.7"))
	if len(p.AddChains)+len(p.ReplaceChains)+len(p.DeleteChains)+len(p.AddSets)+len(p.DeleteSets) != 0 {
		t.Fatalf("plan %+v changes chains or sets; a new endpoint address only changes elements", p)
	}
	// b's endpoint element is replaced and its hairpin element added, while
	// a and c still share 10.244.0.2 so that one stays.
	if len(p.AddElements[SetHairpin]) != 1 || len(p.DeleteElements[SetHairpin]) != 0 ||
		len(p.AddElements["cluster-endpoints-2"]) != 1 || len(p.DeleteElements["cluster-endpoints-2"]) != 1 {
		t.Fatalf("adds %v deletes %v, want b's endpoint element replaced and one hairpin element added", p.AddElements, p.DeleteElements)
	}
}

func TestAssemblyPlansMatchFullDiffs(t *testing.T) {
	node := Node{Name: "n1"}
	part := func(name, ip string, eps ...string) Model {
		var es []ep
		for _, e := range eps {
			es = append(es, ep{ip: e, ready: true})
		}
		s := svc(func(s *v1.Service) { s.Name = name; s.Spec.ClusterIP = ip })
		return Service(s, []*discoveryv1.EndpointSlice{slice(es...)}, node)
	}
	a := NewAssembly()
	programmed := NewModel()
	steps := []struct {
		name     string
		old, new Model
	}{
		{"base", NewModel(), Base(node)},
		{"a with two endpoints", NewModel(), part("a", "10.96.0.1", "10.244.0.2", "10.244.0.3")},
		{"b shares the pick chain and an endpoint", NewModel(), part("b", "10.96.0.2", "10.244.0.3", "10.244.0.4")},
		{"a moves an endpoint", part("a", "10.96.0.1", "10.244.0.2", "10.244.0.3"), part("a", "10.96.0.1", "10.244.0.2", "10.244.0.9")},
		{"b grows to three", part("b", "10.96.0.2", "10.244.0.3", "10.244.0.4"), part("b", "10.96.0.2", "10.244.0.3", "10.244.0.4", "10.244.0.5")},
		{"a goes", part("a", "10.96.0.1", "10.244.0.2", "10.244.0.9"), NewModel()},
		{"b loses its endpoints", part("b", "10.96.0.2", "10.244.0.3", "10.244.0.4", "10.244.0.5"), part("b", "10.96.0.2")},
	}
	for _, st := range steps {
		before := a.Model().Clone()
		plan := a.Replace(st.old, st.new)
		// The assembled model equals the merge of the remaining parts, and
		// applying the plan to the previous model gives it.
		if full := Diff(before, a.Model()); !samePlan(plan, full) {
			t.Fatalf("%s: plan %+v, want %+v", st.name, plan, full)
		}
		programmed = a.Model().Clone()
	}
	if _, ok := programmed.Chains["pick-cluster-2"]; ok {
		t.Errorf("pick-cluster-2 outlived the last service with two endpoints")
	}
	if _, ok := programmed.Sets["cluster-endpoints-2"]; ok {
		t.Errorf("cluster-endpoints-2 outlived the last service with two endpoints")
	}
	if got := len(programmed.Sets[SetHairpin].Elements); got != 0 {
		t.Errorf("%d hairpin elements left, want none", got)
	}
}

// samePlan compares plans by what they do.
func samePlan(a, b Plan) bool {
	names := func(cs []Chain) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	elems := func(m map[string][]Element) string {
		var out []string
		for set, es := range m {
			for _, e := range es {
				out = append(out, set+"/"+e.Key+"/"+e.Chain+"/"+e.Data)
			}
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	sets := func(ss []Set) string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	sorted := func(s []string) string { s = slices.Clone(s); slices.Sort(s); return strings.Join(s, ",") }
	return names(a.AddChains) == names(b.AddChains) && names(a.ReplaceChains) == names(b.ReplaceChains) &&
		sorted(a.DeleteChains) == sorted(b.DeleteChains) && sets(a.AddSets) == sets(b.AddSets) &&
		sorted(a.DeleteSets) == sorted(b.DeleteSets) && elems(a.AddElements) == elems(b.AddElements) &&
		elems(a.DeleteElements) == elems(b.DeleteElements)
}

func TestStaleUDP(t *testing.T) {
	ip := netip.MustParseAddr("10.96.0.10")
	a, b := netip.MustParseAddr("10.244.0.2"), netip.MustParseAddr("10.244.0.3")
	port := func(eps ...netip.Addr) []UDPPort { return []UDPPort{{ClusterIP: ip, Port: 53, Endpoints: eps}} }
	tests := []struct {
		name     string
		old, new []UDPPort
		want     []ConntrackFlush
	}{
		{name: "unchanged endpoints flush nothing", old: port(a, b), new: port(a, b)},
		{name: "a removed endpoint's entries go", old: port(a, b), new: port(b), want: []ConntrackFlush{{ClusterIP: ip, Endpoint: a}}},
		{name: "a deleted service's entries go", old: port(a), new: nil, want: []ConntrackFlush{{ClusterIP: ip, Endpoint: a}}},
		{name: "first endpoint: entries made without DNAT go", old: port(), new: port(a), want: []ConntrackFlush{{ClusterIP: ip}}},
		{name: "new service: entries to its ClusterIP go", old: nil, new: port(a), want: []ConntrackFlush{{ClusterIP: ip}}},
		{name: "an added endpoint flushes nothing", old: port(a), new: port(a, b)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StaleUDP(tt.old, tt.new); !slices.Equal(got, tt.want) {
				t.Fatalf("StaleUDP = %v, want %v", got, tt.want)
			}
		})
	}
}
