package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func TestServiceKindsAreValid(t *testing.T) {
	for name, spec := range map[string]corev1.ServiceSpec{
		"headless without ports":   {ClusterIP: "None", Selector: map[string]string{"app": "db"}},
		"external name":            {Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com."},
		"node port":                {Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080}}},
		"load balancer":            {Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 443}}, LoadBalancerSourceRanges: []string{"10.0.0.0/8"}},
		"client IP affinity":       {SessionAffinity: corev1.ServiceAffinityClientIP, Ports: []corev1.ServicePort{{Port: 80}}},
		"dual stack":               {ClusterIPs: []string{"10.96.0.10", "fd00::10"}, IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyRequireDualStack), IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, Ports: []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}}},
		"same port, two protocols": {Ports: []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}}},
	} {
		t.Run(name, func(t *testing.T) {
			svc := defaulted(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "svc", Namespace: "shop"}, Spec: spec})
			expectValid(t, Validate(svc))
		})
	}
}

func TestServiceCreate(t *testing.T) {
	runCases(t, validService, func(s *corev1.Service) field.ErrorList { return Validate(s) }, []errCase[*corev1.Service]{
		{"uppercase name", func(s *corev1.Service) { s.Name = "Web" }, "metadata.name", invalid, "a DNS-1035 label must consist of lower case alphanumeric characters or '-'"},
		{"name starting with a digit", func(s *corev1.Service) { s.Name = "1web" }, "metadata.name", invalid, "start with an alphabetic character"},
		{"dotted name", func(s *corev1.Service) { s.Name = "web.shop" }, "metadata.name", invalid, ""},
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, "spec.ports", required, ""},
		{"unnamed port among several", func(s *corev1.Service) { s.Spec.Ports[0].Name = "" }, "spec.ports[0].name", required, ""},
		{"duplicate port names", func(s *corev1.Service) { s.Spec.Ports[1].Name = "http" }, "spec.ports[1].name", duplicate, ""},
		{"port name", func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP" }, "spec.ports[0].name", invalid, ""},
		{"port zero", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }, "spec.ports[0].port", invalid, "must be between 1 and 65535, inclusive"},
		{"same port twice", func(s *corev1.Service) { s.Spec.Ports[1].Port = 80 }, "spec.ports[1]", duplicate, ""},
		{"target port", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000) }, "spec.ports[0].targetPort", invalid, ""},
		{"target port name", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http_port") }, "spec.ports[0].targetPort", invalid, ""},
		{"protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }, "spec.ports[0].protocol", notSupported, ""},
		{"node port on cluster IP service", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }, "spec.ports[0].nodePort", forbidden,
			"may not be used when `type` is 'ClusterIP'"},
		{"duplicate node ports", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			s.Spec.Ports[0].NodePort, s.Spec.Ports[1].NodePort = 30080, 30080
		}, "spec.ports[1].nodePort", duplicate, ""},
		{"type", func(s *corev1.Service) { s.Spec.Type = "Ingress" }, "spec.type", notSupported,
			`supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`},
		{"cluster IP", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.300", []string{"10.96.0.300"} },
			"spec.clusterIPs[0]", invalid, "must be a valid IP address"},
		{"clusterIPs out of step", func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.96.0.11"} }, "spec.clusterIPs", invalid, "first value must match `clusterIP`"},
		{"headless node port", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "None", []string{"None"}
		}, "spec.clusterIPs[0]", invalid, "may not be set to 'None' for NodePort services"},
		{"selector", func(s *corev1.Service) { s.Spec.Selector["app"] = "web server" }, "spec.selector", invalid, ""},
		{"session affinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }, "spec.sessionAffinity", notSupported, ""},
		{"affinity timeout", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(int32(0))}}
		}, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", invalid, "must be greater than 0 and less than 86400"},
		{"affinity config without affinity", func(s *corev1.Service) {
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}, "spec.sessionAffinityConfig", forbidden, ""},
		{"external name missing", func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, SessionAffinity: corev1.ServiceAffinityNone}
		}, "spec.externalName", required, ""},
		{"external name with cluster IP", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com"
		},
			"spec.clusterIPs", forbidden, "may not be set for ExternalName services"},
		{"external IP loopback", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} }, "spec.externalIPs[0]", invalid, "loopback"},
		{"external traffic policy on internal service", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal },
			"spec.externalTrafficPolicy", invalid, "may only be set for externally-accessible services"},
		{"internal traffic policy", func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicy("Node"))
		},
			"spec.internalTrafficPolicy", notSupported, ""},
		{"source ranges on cluster IP", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} },
			"spec.loadBalancerSourceRanges", forbidden, ""},
		{"health check port without local policy", func(s *corev1.Service) { s.Spec.HealthCheckNodePort = 31000 }, "spec.healthCheckNodePort", invalid, ""},
		{"ip family", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{"IPv5"} }, "spec.ipFamilies[0]", notSupported, ""},
		{"ip family mismatch", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }, "spec.clusterIPs[0]", invalid,
			"expected an IPv6 value as indicated by `ipFamilies[0]`"},
		{"app protocol", func(s *corev1.Service) { s.Spec.Ports[1].AppProtocol = ptr.To("h t t p") }, "spec.ports[1].appProtocol", invalid, ""},
	})
}

func TestLoadBalancerHealthCheckPort(t *testing.T) {
	svc := defaulted(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: "shop"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Ports: []corev1.ServicePort{{Port: 443}}}})
	expectError(t, Validate(svc), "spec.healthCheckNodePort", required, "")
	expectValid(t, Validator{Manifest: true}.Validate(svc))
	svc.Spec.HealthCheckNodePort = 31234
	expectValid(t, Validate(svc))
}

func TestServiceUpdate(t *testing.T) {
	old := validService()
	runCases(t, func() *corev1.Service { return old.DeepCopy() }, func(s *corev1.Service) field.ErrorList { return ValidateUpdate(s, old) }, []errCase[*corev1.Service]{
		{"cluster IP changed", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.99", []string{"10.96.0.99"} },
			"spec.clusterIPs[0]", invalid, "may not change once set"},
		{"cluster IP removed", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil }, "spec.clusterIPs[0]", invalid, "primary clusterIP can not be unset"},
		{"ip family changed", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }, "spec.ipFamilies[0]", invalid, "may not change once set"},
		{"renamed", func(s *corev1.Service) { s.Name = "web2" }, "metadata.name", invalid, "field is immutable"},
	})
	grown := old.DeepCopy()
	grown.Spec.Ports = append(grown.Spec.Ports, corev1.ServicePort{Name: "grpc", Port: 9000, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9000)})
	expectValid(t, ValidateUpdate(grown, old))
}

func TestServiceStatusUpdate(t *testing.T) {
	old := defaulted(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: "shop", ResourceVersion: "3"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 443, NodePort: 30443}}, ClusterIP: "10.96.0.20"}})
	svc := old.DeepCopy()
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.10", IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}}
	expectValid(t, ValidateStatusUpdate(svc, old))
	svc.Status.LoadBalancer.Ingress[0].IP = "192.0.2"
	expectError(t, ValidateStatusUpdate(svc, old), "status.loadBalancer.ingress[0].ip", invalid, "")
}

func TestLoadBalancerClassIsFixed(t *testing.T) {
	old := defaulted(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "edge", Namespace: "shop", ResourceVersion: "3"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 443, NodePort: 30443}}, ClusterIP: "10.96.0.20",
		LoadBalancerClass: ptr.To("example.com/lb")}})
	expectValid(t, Validate(old))
	svc := old.DeepCopy()
	svc.Spec.LoadBalancerClass = ptr.To("example.com/other")
	expectError(t, ValidateUpdate(svc, old), "spec.loadBalancerClass", invalid, "may not change once set")
	internal := validService()
	internal.Spec.LoadBalancerClass = ptr.To("example.com/lb")
	expectError(t, Validate(internal), "spec.loadBalancerClass", forbidden, "may only be used when `type` is 'LoadBalancer'")
}
