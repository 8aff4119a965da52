package clusterdns

import (
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mapView is a View over plain maps.
type mapView struct {
	services  map[string]*corev1.Service
	endpoints map[string][]Endpoint
}

func (v mapView) Service(ns, name string) *corev1.Service { return v.services[ns+"/"+name] }
func (v mapView) Endpoints(ns, svc string) []Endpoint     { return v.endpoints[ns+"/"+svc] }

func service(ns, name, clusterIP string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: clusterIP, Ports: ports}}
}

func TestResolve(t *testing.T) {
	web := service("default", "hello", "10.96.0.20", corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80})
	db := service("data", "db", corev1.ClusterIPNone)
	ext := service("default", "search", "")
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "www.example.com"
	v := mapView{
		services: map[string]*corev1.Service{"default/hello": web, "data/db": db, "default/search": ext},
		endpoints: map[string][]Endpoint{
			"data/db": {{IP: "10.244.1.7", Hostname: "db-1"}, {IP: "10.244.0.5", Hostname: "db-0"}},
		},
	}
	cases := []struct {
		name  string
		qtype uint16
		want  string // answers joined by ";" as "type value"
		rcode int
		fwd   bool
	}{
		{"hello.default.svc.cluster.local.", dns.TypeA, "A 10.96.0.20", dns.RcodeSuccess, false},
		{"HELLO.Default.svc.cluster.local.", dns.TypeA, "A 10.96.0.20", dns.RcodeSuccess, false},
		{"hello.default.svc.cluster.local.", dns.TypeAAAA, "", dns.RcodeSuccess, false},
		{"missing.default.svc.cluster.local.", dns.TypeA, "", dns.RcodeNameError, false},
		{"hello.other.svc.cluster.local.", dns.TypeA, "", dns.RcodeNameError, false},
		{"db.data.svc.cluster.local.", dns.TypeA, "A 10.244.0.5;A 10.244.1.7", dns.RcodeSuccess, false},
		{"db-1.db.data.svc.cluster.local.", dns.TypeA, "A 10.244.1.7", dns.RcodeSuccess, false},
		{"db-9.db.data.svc.cluster.local.", dns.TypeA, "", dns.RcodeNameError, false},
		{"_http._tcp.hello.default.svc.cluster.local.", dns.TypeSRV, "SRV 80 hello.default.svc.cluster.local.", dns.RcodeSuccess, false},
		{"_http._udp.hello.default.svc.cluster.local.", dns.TypeSRV, "", dns.RcodeNameError, false},
		{"search.default.svc.cluster.local.", dns.TypeA, "CNAME www.example.com.", dns.RcodeSuccess, false},
		{"10-244-3-4.default.pod.cluster.local.", dns.TypeA, "A 10.244.3.4", dns.RcodeSuccess, false},
		{"not-an-ip.default.pod.cluster.local.", dns.TypeA, "", dns.RcodeNameError, false},
		{"cluster.local.", dns.TypeA, "", dns.RcodeNameError, false},
		{"default.svc.cluster.local.", dns.TypeA, "", dns.RcodeNameError, false},
		{"example.com.", dns.TypeA, "", dns.RcodeSuccess, true},
		{"hello.default.svc.cluster.local.example.com.", dns.TypeA, "", dns.RcodeSuccess, true},
	}
	for _, c := range cases {
		t.Run(c.name+"/"+dns.TypeToString[c.qtype], func(t *testing.T) {
			r := Resolve(dns.Question{Name: c.name, Qtype: c.qtype, Qclass: dns.ClassINET}, "cluster.local", v, 5)
			if r.Forward != c.fwd || r.Rcode != c.rcode {
				t.Fatalf("forward %v rcode %s, want forward %v rcode %s", r.Forward, dns.RcodeToString[r.Rcode], c.fwd, dns.RcodeToString[c.rcode])
			}
			if got := describe(r.Answer); got != c.want {
				t.Fatalf("answer %q, want %q", got, c.want)
			}
		})
	}
}

func TestResolveSRVAddsTheTargetAddress(t *testing.T) {
	v := mapView{services: map[string]*corev1.Service{"default/hello": service("default", "hello", "10.96.0.20",
		corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80})}}
	r := Resolve(dns.Question{Name: "_http._tcp.hello.default.svc.cluster.local.", Qtype: dns.TypeSRV}, "cluster.local", v, 5)
	if got := describe(r.Extra); got != "A 10.96.0.20" || r.Extra[0].Header().Name != "hello.default.svc.cluster.local." {
		t.Fatalf("extra %q (%v)", got, r.Extra)
	}
}

func describe(rrs []dns.RR) string {
	var parts []string
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.A:
			parts = append(parts, "A "+rr.A.String())
		case *dns.SRV:
			parts = append(parts, "SRV "+strconv.Itoa(int(rr.Port))+" "+rr.Target)
		case *dns.CNAME:
			parts = append(parts, "CNAME "+rr.Target)
		default:
			parts = append(parts, rr.String())
		}
	}
	return strings.Join(parts, ";")
}
