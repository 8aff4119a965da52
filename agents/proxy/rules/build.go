package rules

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Node is what the rules need to know about the node the proxy runs on.
type Node struct {
	// Name selects the local endpoints of externalTrafficPolicy: Local.
	Name string
	// IPs are the node's IPv4 addresses NodePorts answer on (127.0.0.1 is
	// always added).
	IPs []netip.Addr
	// ClusterCIDR, when valid, is the pod network: traffic to a ClusterIP
	// from outside it is masqueraded (as kube-proxy's --cluster-cidr).
	ClusterCIDR netip.Prefix
}

// Names of the base chains and sets.
const (
	ChainServices      = "services"
	ChainEndpointCheck = "service-endpoints-check"
	ChainMarkMasq      = "mark-for-masquerade"
	ChainMasquerading  = "masquerading"
	ChainReject        = "reject-chain"

	SetServiceIPs         = "service-ips"
	SetServiceNodePorts   = "service-nodeports"
	SetNoEndpointServices = "no-endpoint-services"
	SetNoEndpointNodePort = "no-endpoint-nodeports"
	SetNodePortIPs        = "nodeport-ips"
	SetHairpin            = "hairpin"
)

// MasqueradeBit is the packet mark bit that asks the masquerading chain to
// masquerade a packet (kube-proxy's 0x4000).
const MasqueradeBit = 0x4000

// DefaultAffinityTimeout is sessionAffinityConfig.clientIP.timeoutSeconds'
// default (3 hours).
const DefaultAffinityTimeout = 10800 * time.Second

var localhost = netip.MustParsePrefix("127.0.0.0/8")

// Base is the skeleton of the table: the hooked chains, the dispatch chains
// and the shared maps Services add their elements to.
func Base(node Node) Model {
	m := NewModel()
	hooked := func(name, typ, hook string, prio int, rules ...Rule) {
		m.Chains[name] = Chain{Name: name, Hook: &Hook{Type: typ, Hook: hook, Priority: prio}, Rules: rules}
	}
	chain := func(name string, rules ...Rule) { m.Chains[name] = Chain{Name: name, Rules: rules} }
	checkNew := NewRule(MatchNewConn{}, Verdict{Kind: Jump, Chain: ChainEndpointCheck})
	hooked("nat-prerouting", "nat", "prerouting", -100, NewRule(Verdict{Kind: Jump, Chain: ChainServices}))
	hooked("nat-output", "nat", "output", -100, NewRule(Verdict{Kind: Jump, Chain: ChainServices}))
	hooked("nat-postrouting", "nat", "postrouting", 100, NewRule(Verdict{Kind: Jump, Chain: ChainMasquerading}))
	hooked("filter-input", "filter", "input", -10, checkNew)
	hooked("filter-forward", "filter", "forward", -10, checkNew)
	hooked("filter-output", "filter", "output", -10, checkNew)
	var masq []Rule
	if node.ClusterCIDR.IsValid() {
		// ClusterIP traffic from outside the pod network is masqueraded
		// (the map's keys are the ClusterIPs; its verdicts are not used).
		masq = append(masq, NewRule(MatchPrefix{Field: SrcAddr, Prefix: node.ClusterCIDR, Not: true},
			MatchSet{Key: KeyDstAddrProtoPort, Set: SetServiceIPs}, Verdict{Kind: Jump, Chain: ChainMarkMasq}))
	}
	chain(ChainServices, append(masq,
		NewRule(Vmap{Key: KeyDstAddrProtoPort, Map: SetServiceIPs}),
		NewRule(MatchSet{Key: KeyDstAddr, Set: SetNodePortIPs}, Vmap{Key: KeyProtoPort, Map: SetServiceNodePorts}))...)
	chain(ChainEndpointCheck,
		NewRule(Vmap{Key: KeyDstAddrProtoPort, Map: SetNoEndpointServices}),
		NewRule(MatchSet{Key: KeyDstAddr, Set: SetNodePortIPs}, Vmap{Key: KeyProtoPort, Map: SetNoEndpointNodePort}))
	chain(ChainMarkMasq, NewRule(OrMark{Bits: MasqueradeBit}))
	chain(ChainMasquerading,
		NewRule(MatchSet{Key: KeySrcDstAddr, Set: SetHairpin}, Verdict{Kind: Masquerade}),
		NewRule(MatchMark{Bits: MasqueradeBit}, Verdict{Kind: Return}),
		NewRule(ClearMark{Bits: MasqueradeBit}),
		NewRule(Verdict{Kind: Masquerade}))
	chain(ChainReject, NewRule(Verdict{Kind: Reject}))
	for _, s := range []Set{
		{Name: SetServiceIPs, Kind: ServiceMap}, {Name: SetServiceNodePorts, Kind: PortMap},
		{Name: SetNoEndpointServices, Kind: ServiceMap}, {Name: SetNoEndpointNodePort, Kind: PortMap},
		{Name: SetNodePortIPs, Kind: AddrSet}, {Name: SetHairpin, Kind: AddrPairSet},
	} {
		s.Shared = true
		s.Elements = map[string]Element{}
		m.Sets[s.Name] = s
	}
	ips := append([]netip.Addr{netip.MustParseAddr("127.0.0.1")}, node.IPs...)
	for _, ip := range ips {
		if ip.Is4() {
			k := AddrKey(ip)
			m.Sets[SetNodePortIPs].Elements[k] = Element{Key: k}
		}
	}
	return m
}

// Service is the part of the table one Service contributes, given its
// EndpointSlices (those labelled with its name; others are ignored): per
// port a service chain, an external chain for a NodePort, per-endpoint
// chains and affinity sets for sessionAffinity ClientIP, and elements of the
// shared maps. Only IPv4 is handled: other ClusterIPs and slices are
// ignored. A headless Service (clusterIP None) and ExternalName contribute
// nothing.
func Service(svc *v1.Service, slicesOf []*discoveryv1.EndpointSlice, node Node) Model {
	m := NewModel()
	if svc.Spec.Type == v1.ServiceTypeExternalName {
		return m
	}
	clusterIP, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !clusterIP.Is4() {
		// Headless, or not IPv4: the pick maps are keyed by ClusterIP.
		return m
	}
	affinity := time.Duration(0)
	if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
		affinity = DefaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			affinity = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
		}
	}
	local := svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal
	for _, sp := range svc.Spec.Ports {
		proto, ok := protoNumber(sp.Protocol)
		if !ok || sp.Port <= 0 {
			continue
		}
		portName := sp.Name
		if portName == "" {
			portName = strconv.Itoa(int(sp.Port))
		}
		key := fmt.Sprintf("%s/%s/%s/%s", svc.Namespace, svc.Name, lower(sp.Protocol), portName)
		eps, localEps := endpoints(sp, slicesOf, node.Name)
		svcChain := chainName("service", key)
		b := portBuilder{m: m, key: key, affinity: affinity, clusterKey: ServiceKey(clusterIP, proto, uint16(sp.Port))}
		if sp.NodePort > 0 {
			b.nodePortKey = PortKey(proto, uint16(sp.NodePort))
		}
		k := ServiceKey(clusterIP, proto, uint16(sp.Port))
		if len(eps) == 0 {
			b.element(SetNoEndpointServices, Element{Key: k, Chain: ChainReject})
		} else {
			b.element(SetServiceIPs, Element{Key: k, Chain: svcChain})
		}
		if len(eps) > 0 {
			m.Chains[svcChain] = Chain{Name: svcChain, Rules: b.pick(eps, clusterPick)}
		}
		if sp.NodePort <= 0 || svc.Spec.Type == v1.ServiceTypeClusterIP {
			continue
		}
		k = PortKey(proto, uint16(sp.NodePort))
		if len(eps) == 0 {
			b.element(SetNoEndpointNodePort, Element{Key: k, Chain: ChainReject})
			continue
		}
		ext := chainName("external", key)
		b.element(SetServiceNodePorts, Element{Key: k, Chain: ext})
		var rules []Rule
		switch {
		case !local:
			rules = append([]Rule{NewRule(Verdict{Kind: Jump, Chain: ChainMarkMasq})}, b.pick(eps, nodePortPick)...)
		case len(localEps) == 0:
			rules = []Rule{NewRule(Verdict{Kind: Drop})}
		default:
			// Local: the client's address is kept, except from the node
			// itself through 127.0.0.1, which the pod could not answer.
			rules = append([]Rule{NewRule(MatchPrefix{Field: SrcAddr, Prefix: localhost}, Verdict{Kind: Jump, Chain: ChainMarkMasq})}, b.pick(localEps, localPick)...)
		}
		m.Chains[ext] = Chain{Name: ext, Rules: rules}
	}
	return m
}

// portBuilder adds one service port's chains and elements to m.
type portBuilder struct {
	m        Model
	key      string
	affinity time.Duration
	// clusterKey and nodePortKey prefix the service's elements in the
	// endpoint maps.
	clusterKey, nodePortKey string
}

func (b portBuilder) element(set string, e Element) {
	s, ok := b.m.Sets[set]
	if !ok {
		s = Set{Name: set, Shared: true, Kind: sharedKinds[set], Elements: map[string]Element{}}
		b.m.Sets[set] = s
	}
	s.Elements[e.Key] = e
}

var sharedKinds = map[string]SetKind{
	SetServiceIPs: ServiceMap, SetServiceNodePorts: PortMap, SetNoEndpointServices: ServiceMap,
	SetNoEndpointNodePort: PortMap, SetNodePortIPs: AddrSet, SetHairpin: AddrPairSet,
}

// pickKind says which endpoint maps a pick uses.
type pickKind int

const (
	// clusterPick: traffic to the ClusterIP, keyed by ip daddr . l4proto . dport.
	clusterPick pickKind = iota
	// nodePortPick: traffic to a NodePort, keyed by l4proto . dport.
	nodePortPick
	// localPick: a NodePort's local endpoints (externalTrafficPolicy Local).
	localPick
)

// pick returns the rules that DNAT to one of eps, uniformly at random: a
// goto to the pick chain of len(eps) endpoints, with the endpoints added to
// its map (see PickFromMap). With ClientIP affinity, a rule per endpoint
// first sends a known client back to its endpoint's chain, then Random
// rules pick an endpoint chain, which records the client in its affinity
// set.
func (b portBuilder) pick(eps []netip.AddrPort, kind pickKind) []Rule {
	for _, ep := range eps {
		k := AddrPairKey(ep.Addr(), ep.Addr())
		b.element(SetHairpin, Element{Key: k})
	}
	if b.affinity == 0 {
		if len(eps) == 1 {
			return []Rule{NewRule(DNAT{To: eps[0]})}
		}
		prefix, mapKind, key, keyBytes := "cluster", ClusterEndpointMap, KeyDstAddrProtoPort, b.clusterKey
		switch kind {
		case nodePortPick:
			prefix, mapKind, key, keyBytes = "nodeport", NodePortEndpointMap, KeyProtoPort, b.nodePortKey
		case localPick:
			prefix, mapKind, key, keyBytes = "nodeport-local", NodePortEndpointMap, KeyProtoPort, b.nodePortKey
		}
		set := fmt.Sprintf("%s-endpoints-%d", prefix, len(eps))
		chain := fmt.Sprintf("pick-%s-%d", prefix, len(eps))
		s, ok := b.m.Sets[set]
		if !ok {
			s = Set{Name: set, Kind: mapKind, Elements: map[string]Element{}}
			b.m.Sets[set] = s
		}
		for i, ep := range eps {
			k := keyBytes + indexKey(i)
			s.Elements[k] = Element{Key: k, Data: AddrPortData(ep)}
		}
		b.m.Chains[chain] = Chain{Name: chain, Rules: []Rule{NewRule(PickFromMap{Key: key, N: len(eps), Map: set})}}
		return []Rule{NewRule(Verdict{Kind: Goto, Chain: chain})}
	}
	var sticky, random []Rule
	for i, ep := range eps {
		id := b.key + "__" + ep.String()
		chain := chainName("endpoint", id)
		aff := chainName("affinity", fmt.Sprintf("%s/%d", id, int(b.affinity.Seconds())))
		b.m.Sets[aff] = Set{Name: aff, Kind: AffinitySet, Timeout: b.affinity}
		b.m.Chains[chain] = Chain{Name: chain, Rules: []Rule{
			NewRule(UpdateSet{Key: KeySrcAddr, Set: aff}),
			NewRule(DNAT{To: ep}),
		}}
		sticky = append(sticky, NewRule(MatchSet{Key: KeySrcAddr, Set: aff}, Verdict{Kind: Goto, Chain: chain}))
		if left := len(eps) - i; left > 1 {
			random = append(random, NewRule(Random{N: left}, Verdict{Kind: Goto, Chain: chain}))
		} else {
			random = append(random, NewRule(Verdict{Kind: Goto, Chain: chain}))
		}
	}
	return append(sticky, random...)
}

// indexKey is the last part of an endpoint map key: the endpoint's number
// in host byte order, as numgen writes it.
func indexKey(i int) string {
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(i))
	return string(b[:])
}

// AddrPortData is the value of an endpoint map element: ip . port.
func AddrPortData(ap netip.AddrPort) string {
	var b [8]byte
	a := ap.Addr().As4()
	copy(b[:4], a[:])
	binary.BigEndian.PutUint16(b[4:6], ap.Port())
	return string(b[:])
}

// endpoints returns the addresses that serve port sp: the ready ones, or
// when none is ready, the serving terminating ones (as kube-proxy does); and
// of those, the ones on node. Sorted, without duplicates.
func endpoints(sp v1.ServicePort, slicesOf []*discoveryv1.EndpointSlice, node string) (all, local []netip.AddrPort) {
	var ready, readyLocal, terminating, terminatingLocal []netip.AddrPort
	for _, s := range slicesOf {
		if s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		port, ok := slicePort(s, sp)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			if len(ep.Addresses) == 0 {
				continue
			}
			addr, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil || !addr.Is4() {
				continue
			}
			ap := netip.AddrPortFrom(addr, port)
			isLocal := ep.NodeName != nil && *ep.NodeName == node
			c := ep.Conditions
			isReady := c.Ready == nil || *c.Ready
			isTerminating := c.Terminating != nil && *c.Terminating
			isServing := isReady
			if c.Serving != nil {
				isServing = *c.Serving
			}
			switch {
			case isReady && !isTerminating:
				ready = append(ready, ap)
				if isLocal {
					readyLocal = append(readyLocal, ap)
				}
			case isServing && isTerminating:
				terminating = append(terminating, ap)
				if isLocal {
					terminatingLocal = append(terminatingLocal, ap)
				}
			}
		}
	}
	if len(ready) == 0 {
		ready = terminating
	}
	if len(readyLocal) == 0 {
		readyLocal = terminatingLocal
	}
	return sortedUnique(ready), sortedUnique(readyLocal)
}

// slicePort finds the slice's port for the service port (same name and
// protocol).
func slicePort(s *discoveryv1.EndpointSlice, sp v1.ServicePort) (uint16, bool) {
	for _, p := range s.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		proto := v1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == sp.Name && proto == sp.Protocol && p.Port != nil && *p.Port > 0 && *p.Port < 65536 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

func sortedUnique(eps []netip.AddrPort) []netip.AddrPort {
	slices.SortFunc(eps, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return slices.Compact(eps)
}

func protoNumber(p v1.Protocol) (byte, bool) {
	switch p {
	case v1.ProtocolTCP, "":
		return 6, true
	case v1.ProtocolUDP:
		return 17, true
	case v1.ProtocolSCTP:
		return 132, true
	}
	return 0, false
}

func lower(p v1.Protocol) string {
	switch p {
	case v1.ProtocolUDP:
		return "udp"
	case v1.ProtocolSCTP:
		return "sctp"
	}
	return "tcp"
}

// chainName is prefix-HASH-id: the hash keeps names distinct, the id keeps
// them readable in `nft list table`.
func chainName(prefix, id string) string {
	sum := sha256.Sum256([]byte(prefix + "/" + id))
	name := prefix + "-" + base32.StdEncoding.EncodeToString(sum[:5]) + "-" + id
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

// ServiceKey is the key of a ServiceMap element: ip . l4proto . port, each
// part padded to 4 bytes as the kernel stores concatenations.
func ServiceKey(ip netip.Addr, proto byte, port uint16) string {
	var b [12]byte
	a := ip.As4()
	copy(b[0:4], a[:])
	b[4] = proto
	binary.BigEndian.PutUint16(b[8:10], port)
	return string(b[:])
}

// PortKey is the key of a PortMap element: l4proto . port.
func PortKey(proto byte, port uint16) string {
	var b [8]byte
	b[0] = proto
	binary.BigEndian.PutUint16(b[4:6], port)
	return string(b[:])
}

// AddrKey is the key of an AddrSet element.
func AddrKey(ip netip.Addr) string {
	a := ip.As4()
	return string(a[:])
}

// AddrPairKey is the key of an AddrPairSet element: ip . ip.
func AddrPairKey(a, b netip.Addr) string {
	x, y := a.As4(), b.As4()
	return string(x[:]) + string(y[:])
}

// IsShared reports whether name is one of the base model's shared sets.
func IsShared(name string) bool {
	_, ok := sharedKinds[name]
	return ok
}
