package rules

import (
	"net/netip"
	"slices"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// UDPPort is one UDP service port's ClusterIP and the endpoint addresses
// the rules send it to.
type UDPPort struct {
	ClusterIP netip.Addr
	Port      uint16
	Endpoints []netip.Addr
}

// UDPPorts lists a Service's UDP ports with their endpoints, as Service
// programs them.
func UDPPorts(svc *v1.Service, slicesOf []*discoveryv1.EndpointSlice) []UDPPort {
	ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
	if err != nil || !ip.Is4() || svc.Spec.Type == v1.ServiceTypeExternalName {
		return nil
	}
	var out []UDPPort
	for _, sp := range svc.Spec.Ports {
		if sp.Protocol != v1.ProtocolUDP || sp.Port <= 0 {
			continue
		}
		eps, _ := endpoints(sp, slicesOf, "")
		p := UDPPort{ClusterIP: ip, Port: uint16(sp.Port)}
		for _, ep := range eps {
			p.Endpoints = append(p.Endpoints, ep.Addr())
		}
		out = append(out, p)
	}
	return out
}

// ConntrackFlush names UDP conntrack entries to delete: those to ClusterIP
// whose reply comes from Endpoint, or when Endpoint is not valid, all
// those to ClusterIP.
type ConntrackFlush struct {
	ClusterIP netip.Addr
	Endpoint  netip.Addr
}

// StaleUDP returns the UDP conntrack entries a change of a Service's ports
// from old to new leaves wrong, as kube-proxy clears them: UDP has no
// connection end, so an entry would keep sending a client's packets to an
// endpoint that is gone, or (made while the service had no endpoint) past
// the DNAT to the ClusterIP itself.
func StaleUDP(old, new []UDPPort) []ConntrackFlush {
	var out []ConntrackFlush
	for _, o := range old {
		i := slices.IndexFunc(new, func(n UDPPort) bool { return n.ClusterIP == o.ClusterIP && n.Port == o.Port })
		var now []netip.Addr
		if i >= 0 {
			now = new[i].Endpoints
		}
		for _, ep := range o.Endpoints {
			if !slices.Contains(now, ep) {
				out = append(out, ConntrackFlush{ClusterIP: o.ClusterIP, Endpoint: ep})
			}
		}
	}
	for _, n := range new {
		i := slices.IndexFunc(old, func(o UDPPort) bool { return o.ClusterIP == n.ClusterIP && o.Port == n.Port })
		if len(n.Endpoints) > 0 && (i < 0 || len(old[i].Endpoints) == 0) {
			out = append(out, ConntrackFlush{ClusterIP: n.ClusterIP})
		}
	}
	return slices.Compact(out)
}
