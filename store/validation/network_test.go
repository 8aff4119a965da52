package validation

import (
	"fmt"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func validSlice() *discoveryv1.EndpointSlice {
	return defaulted(&discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc12", Namespace: "shop", ResourceVersion: "4", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.1.7"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}, NodeName: ptr.To("node-1"),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "web-0", Namespace: "shop"}},
			{Addresses: []string{"10.244.2.9"}, Hostname: ptr.To("web-1")},
		},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080))}, {Name: ptr.To("metrics"), Port: ptr.To(int32(9090))}},
	})
}

func TestEndpointSlice(t *testing.T) {
	runCases(t, validSlice, func(s *discoveryv1.EndpointSlice) field.ErrorList { return Validate(s) }, []errCase[*discoveryv1.EndpointSlice]{
		{"address type", func(s *discoveryv1.EndpointSlice) { s.AddressType = "IPv5" }, "addressType", notSupported, ""},
		{"missing address type", func(s *discoveryv1.EndpointSlice) { s.AddressType = "" }, "addressType", required, ""},
		{"too many endpoints", func(s *discoveryv1.EndpointSlice) {
			s.Endpoints = nil
			for i := range 1001 {
				s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.1.%d.%d", i/250, i%250+1)}})
			}
		}, "endpoints", tooMany, "must have at most 1000 items"},
		{"endpoint without address", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = nil }, "endpoints[0].addresses", required, ""},
		{"invalid address", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses[0] = "10.244.1" }, "endpoints[0].addresses[0]", invalid, ""},
		{"IPv6 in an IPv4 slice", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses[0] = "fd00::7" }, "endpoints[0].addresses[0]", invalid, "must be an IPv4 address"},
		{"loopback address", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses[0] = "127.0.0.1" }, "endpoints[0].addresses[0]", invalid, "loopback"},
		{"FQDN", func(s *discoveryv1.EndpointSlice) {
			s.AddressType = discoveryv1.AddressTypeFQDN
			s.Endpoints[0].Addresses[0] = "web"
		}, "endpoints[0].addresses[0]", invalid, ""},
		{"node name", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].NodeName = ptr.To("Node 1") }, "endpoints[0].nodeName", invalid, ""},
		{"hostname", func(s *discoveryv1.EndpointSlice) { s.Endpoints[1].Hostname = ptr.To("web.1") }, "endpoints[1].hostname", invalid, ""},
		{"duplicate port names", func(s *discoveryv1.EndpointSlice) { s.Ports[1].Name = ptr.To("http") }, "ports[1].name", duplicate, ""},
		{"port protocol", func(s *discoveryv1.EndpointSlice) { s.Ports[0].Protocol = nil }, "ports[0].protocol", required, ""},
		{"port number", func(s *discoveryv1.EndpointSlice) { s.Ports[0].Port = ptr.To(int32(0)) }, "ports[0].port", invalid, ""},
	})
	old := validSlice()
	changed := old.DeepCopy()
	changed.AddressType = discoveryv1.AddressTypeIPv6
	changed.Endpoints = nil
	expectError(t, ValidateUpdate(changed, old), "addressType", invalid, "field is immutable")
}

func TestEndpoints(t *testing.T) {
	base := func() *corev1.Endpoints {
		return defaulted(&corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.244.1.7", NodeName: ptr.To("node-1")}},
			Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9090}},
		}}})
	}
	runCases(t, base, func(e *corev1.Endpoints) field.ErrorList { return Validate(e) }, []errCase[*corev1.Endpoints]{
		{"no addresses", func(e *corev1.Endpoints) { e.Subsets[0].Addresses = nil }, "subsets[0]", required, "must specify `addresses` or `notReadyAddresses`"},
		{"address", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].IP = "0.0.0.0" }, "subsets[0].addresses[0].ip", invalid, "may not be unspecified"},
		{"unnamed port", func(e *corev1.Endpoints) { e.Subsets[0].Ports[1].Name = "" }, "subsets[0].ports[1].name", required, ""},
	})
}

func TestLease(t *testing.T) {
	base := func() *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease", ResourceVersion: "1"},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1"), LeaseDurationSeconds: ptr.To(int32(40)), LeaseTransitions: ptr.To(int32(0))}}
	}
	runCases(t, base, func(l *coordinationv1.Lease) field.ErrorList { return Validate(l) }, []errCase[*coordinationv1.Lease]{
		{"zero duration", func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptr.To(int32(0)) }, "spec.leaseDurationSeconds", invalid, "must be greater than 0"},
		{"negative transitions", func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = ptr.To(int32(-1)) }, "spec.leaseTransitions", invalid, ""},
		{"preferred holder without strategy", func(l *coordinationv1.Lease) { l.Spec.PreferredHolder = ptr.To("node-2") }, "spec.preferredHolder", forbidden, ""},
		{"unprefixed custom strategy", func(l *coordinationv1.Lease) {
			l.Spec.Strategy = ptr.To(coordinationv1.CoordinatedLeaseStrategy("Newest"))
		}, "spec.strategy", invalid, ""},
		{"name", func(l *coordinationv1.Lease) { l.Name = "Node 1" }, "metadata.name", invalid, ""},
	})
	old := base()
	renewed := old.DeepCopy()
	renewed.Spec.RenewTime = &metav1.MicroTime{Time: metav1.Now().Time}
	expectValid(t, ValidateUpdate(renewed, old))
	renewed.Spec.LeaseDurationSeconds = ptr.To(int32(-1))
	expectError(t, ValidateUpdate(renewed, old), "spec.leaseDurationSeconds", invalid, "")
}
