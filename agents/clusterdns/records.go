package clusterdns

import (
	"net"
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// View is what the resolver needs to know about the cluster: the informer
// caches in production, plain maps in tests.
type View interface {
	// Service returns the Service namespace/name, or nil.
	Service(namespace, name string) *corev1.Service
	// Endpoints returns the endpoints of a Service that may receive traffic.
	Endpoints(namespace, service string) []Endpoint
}

// Endpoint is one ready address behind a Service.
type Endpoint struct {
	IP       string
	Hostname string
}

// Result is the resolver's decision for one question.
type Result struct {
	// Answer holds the records for the question.
	Answer []dns.RR
	// Extra holds additional records (the targets of SRV answers).
	Extra []dns.RR
	// Rcode is dns.RcodeSuccess or dns.RcodeNameError.
	Rcode int
	// Forward is true when the name is outside the cluster domain and the
	// question belongs to the upstream resolvers.
	Forward bool
}

// Resolve answers q from the cluster's Services, their endpoints and pod IP
// names, as kube-dns and CoreDNS's kubernetes plugin do:
//
//	<svc>.<ns>.svc.<domain>                  A: the ClusterIP, or every ready endpoint of a headless Service
//	<hostname>.<svc>.<ns>.svc.<domain>       A: that endpoint of a headless Service
//	_<port>._<proto>.<svc>.<ns>.svc.<domain> SRV: the named port, target <svc>.<ns>.svc.<domain>
//	<a-b-c-d>.<ns>.pod.<domain>              A: a.b.c.d
//
// A name in the cluster domain that does not exist is NXDOMAIN; an existing
// name asked for another type is an empty success (NODATA), so resolvers do
// not wait on a second try.
func Resolve(q dns.Question, domain string, v View, ttl uint32) Result {
	name := strings.ToLower(q.Name)
	zone := dns.Fqdn(strings.ToLower(domain))
	if !dns.IsSubDomain(zone, name) {
		return Result{Forward: true}
	}
	labels := dns.SplitDomainName(strings.TrimSuffix(name, zone))
	n := len(labels)
	switch {
	case n >= 3 && labels[n-1] == "svc":
		return resolveService(q, labels[:n-1], zone, v, ttl)
	case n == 3 && labels[n-1] == "pod":
		return resolvePod(q, labels[0], ttl)
	}
	return nxdomain()
}

func resolveService(q dns.Question, labels []string, zone string, v View, ttl uint32) Result {
	n := len(labels)
	ns, name := labels[n-1], labels[n-2]
	svc := v.Service(ns, name)
	if svc == nil {
		return nxdomain()
	}
	target := name + "." + ns + ".svc." + zone
	switch n {
	case 2:
		if q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY {
			return Result{}
		}
		return Result{Answer: serviceA(q.Name, svc, v, ttl)}
	case 3:
		for _, ep := range v.Endpoints(ns, name) {
			if ep.Hostname == labels[0] {
				if q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY {
					return Result{}
				}
				return Result{Answer: []dns.RR{a(q.Name, ep.IP, ttl)}}
			}
		}
	case 4:
		port, proto := strings.TrimPrefix(labels[0], "_"), strings.TrimPrefix(labels[1], "_")
		if !strings.HasPrefix(labels[0], "_") || !strings.HasPrefix(labels[1], "_") {
			return nxdomain()
		}
		for _, p := range svc.Spec.Ports {
			if p.Name == port && strings.EqualFold(string(p.Protocol), proto) {
				if q.Qtype != dns.TypeSRV && q.Qtype != dns.TypeANY {
					return Result{}
				}
				srv := &dns.SRV{Hdr: header(q.Name, dns.TypeSRV, ttl), Priority: 0, Weight: 100, Port: uint16(p.Port), Target: target}
				return Result{Answer: []dns.RR{srv}, Extra: serviceA(target, svc, v, ttl)}
			}
		}
	}
	return nxdomain()
}

// serviceA is the A records of a Service: its ClusterIP, or for a headless
// Service the addresses of its ready endpoints.
func serviceA(name string, svc *corev1.Service, v View, ttl uint32) []dns.RR {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return []dns.RR{&dns.CNAME{Hdr: header(name, dns.TypeCNAME, ttl), Target: dns.Fqdn(svc.Spec.ExternalName)}}
	}
	if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		return []dns.RR{a(name, svc.Spec.ClusterIP, ttl)}
	}
	var ips []string
	for _, ep := range v.Endpoints(svc.Namespace, svc.Name) {
		ips = append(ips, ep.IP)
	}
	slices.Sort(ips)
	var rrs []dns.RR
	for _, ip := range slices.Compact(ips) {
		rrs = append(rrs, a(name, ip, ttl))
	}
	return rrs
}

// resolvePod answers a-b-c-d.<ns>.pod.<domain> with a.b.c.d, as kube-dns does
// (without checking that such a pod exists).
func resolvePod(q dns.Question, label string, ttl uint32) Result {
	ip := net.ParseIP(strings.ReplaceAll(label, "-", ".")).To4()
	if ip == nil {
		return nxdomain()
	}
	if q.Qtype != dns.TypeA && q.Qtype != dns.TypeANY {
		return Result{}
	}
	return Result{Answer: []dns.RR{a(q.Name, ip.String(), ttl)}}
}

func nxdomain() Result { return Result{Rcode: dns.RcodeNameError} }

func a(name, ip string, ttl uint32) dns.RR {
	return &dns.A{Hdr: header(name, dns.TypeA, ttl), A: net.ParseIP(ip).To4()}
}

func header(name string, rrtype uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: ttl}
}
