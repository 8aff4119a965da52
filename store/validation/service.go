package validation

import (
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedServiceTypes      = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}
	supportedSessionAffinity   = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	supportedIPFamilies        = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	supportedIPFamilyPolicies  = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}
	supportedExternalPolicies  = []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}
	supportedInternalPolicies  = []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}
	supportedTrafficDistribute = []string{corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone, corev1.ServiceTrafficDistributionPreferSameNode}
)

func (v Validator) validateService(svc *corev1.Service) field.ErrorList {
	errs := v.objectMeta(&svc.ObjectMeta, true, nameIsDNS1035Label)
	spec := &svc.Spec
	headless := isHeadless(spec)
	if len(spec.Ports) == 0 && !headless && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if headless {
			errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), spec.ClusterIPs[0], fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		errs = append(errs, forbidSet(specPath, "may not be set for ExternalName services",
			setField{"clusterIPs", len(spec.ClusterIPs) > 0}, setField{"ipFamilies", len(spec.IPFamilies) > 0},
			setField{"ipFamilyPolicy", spec.IPFamilyPolicy != nil})...)
		// The value is a CNAME, which may end in a dot.
		if cname := strings.TrimSuffix(spec.ExternalName, "."); cname != "" {
			errs = append(errs, dnsSubdomain(cname, specPath.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		}
	}
	errs = append(errs, validateServicePorts(spec, specPath.Child("ports"))...)
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	errs = append(errs, oneOf(spec.SessionAffinity, supportedSessionAffinity, specPath.Child("sessionAffinity"))...)
	switch spec.SessionAffinity {
	case corev1.ServiceAffinityClientIP:
		errs = append(errs, clientIPAffinity(spec.SessionAffinityConfig, specPath.Child("sessionAffinityConfig"))...)
	case corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(specPath.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	}
	errs = append(errs, validateClusterIPs(spec)...)
	for i, ip := range spec.ExternalIPs {
		p := specPath.Child("externalIPs").Index(i)
		if ipErrs := validation.IsValidIP(p, ip); len(ipErrs) != 0 {
			errs = append(errs, ipErrs...)
		} else {
			errs = append(errs, nonSpecialIP(ip, p)...)
		}
	}
	errs = append(errs, oneOf(spec.Type, supportedServiceTypes, specPath.Child("type"))...)
	if len(spec.LoadBalancerSourceRanges) > 0 {
		p := specPath.Child("loadBalancerSourceRanges")
		if spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, cidr := range spec.LoadBalancerSourceRanges {
			errs = append(errs, validation.IsValidCIDR(p.Index(i), strings.TrimSpace(cidr))...)
		}
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		if spec.AllocateLoadBalancerNodePorts == nil {
			errs = append(errs, field.Required(specPath.Child("allocateLoadBalancerNodePorts"), ""))
		}
		if spec.LoadBalancerClass != nil {
			errs = append(errs, qualifiedName(*spec.LoadBalancerClass, specPath.Child("loadBalancerClass"))...)
		}
	} else {
		errs = append(errs, forbidSet(specPath, "may only be used when `type` is 'LoadBalancer'",
			setField{"allocateLoadBalancerNodePorts", spec.AllocateLoadBalancerNodePorts != nil},
			setField{"loadBalancerClass", spec.LoadBalancerClass != nil})...)
	}
	errs = append(errs, v.trafficPolicies(spec)...)
	if spec.TrafficDistribution != nil && !sets.New(supportedTrafficDistribute...).Has(*spec.TrafficDistribution) {
		errs = append(errs, field.NotSupported(specPath.Child("trafficDistribution"), *spec.TrafficDistribution, supportedTrafficDistribute))
	}
	return errs
}

// maxClientIPAffinitySeconds is the longest ClientIP session affinity: a day.
const maxClientIPAffinitySeconds = 86400

func validateServicePorts(spec *corev1.ServiceSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	type protoPort struct {
		protocol corev1.Protocol
		port     int32
	}
	ports, nodePorts := map[protoPort]bool{}, map[protoPort]bool{}
	for i, sp := range spec.Ports {
		p := fldPath.Index(i)
		if len(spec.Ports) > 1 && sp.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else if sp.Name != "" {
			errs = append(errs, dnsLabel(sp.Name, p.Child("name"))...)
			if names.Has(sp.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), sp.Name))
			}
			names.Insert(sp.Name)
		}
		errs = append(errs, messages(sp.Port, validation.IsValidPortNum(int(sp.Port)), p.Child("port"))...)
		errs = append(errs, oneOf(sp.Protocol, supportedProtocols, p.Child("protocol"))...)
		errs = append(errs, portNumOrName(sp.TargetPort, p.Child("targetPort"))...)
		if sp.AppProtocol != nil {
			errs = append(errs, qualifiedName(*sp.AppProtocol, p.Child("appProtocol"))...)
		}
		if sp.NodePort != 0 {
			if spec.Type == corev1.ServiceTypeClusterIP {
				errs = append(errs, field.Forbidden(p.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			} else {
				errs = append(errs, messages(sp.NodePort, validation.IsValidPortNum(int(sp.NodePort)), p.Child("nodePort"))...)
			}
			key := protoPort{sp.Protocol, sp.NodePort}
			if nodePorts[key] {
				errs = append(errs, field.Duplicate(p.Child("nodePort"), sp.NodePort))
			}
			nodePorts[key] = true
		}
		key := protoPort{sp.Protocol, sp.Port}
		if ports[key] {
			errs = append(errs, field.Duplicate(p, fmt.Sprintf("%d/%s", sp.Port, sp.Protocol)))
		}
		ports[key] = true
	}
	return errs
}

func clientIPAffinity(cfg *corev1.SessionAffinityConfig, fldPath *field.Path) field.ErrorList {
	msg := fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)
	switch {
	case cfg == nil:
		return field.ErrorList{field.Required(fldPath, msg)}
	case cfg.ClientIP == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP"), msg)}
	case cfg.ClientIP.TimeoutSeconds == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP", "timeoutSeconds"), msg)}
	}
	if t := *cfg.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
		return field.ErrorList{field.Invalid(fldPath.Child("clientIP", "timeoutSeconds"), t,
			fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds))}
	}
	return nil
}

// trafficPolicies checks externalTrafficPolicy (only for services reachable
// from outside), healthCheckNodePort and internalTrafficPolicy.
func (v Validator) trafficPolicies(spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	external := spec.Type == corev1.ServiceTypeLoadBalancer || spec.Type == corev1.ServiceTypeNodePort ||
		(spec.Type == corev1.ServiceTypeClusterIP && len(spec.ExternalIPs) > 0)
	etp := specPath.Child("externalTrafficPolicy")
	switch {
	case !external && spec.ExternalTrafficPolicy != "":
		errs = append(errs, field.Invalid(etp, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
	case external:
		errs = append(errs, oneOf(spec.ExternalTrafficPolicy, supportedExternalPolicies, etp)...)
	}
	hc := specPath.Child("healthCheckNodePort")
	needsHealthCheck := spec.Type == corev1.ServiceTypeLoadBalancer && spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	switch {
	case !needsHealthCheck && spec.HealthCheckNodePort != 0:
		errs = append(errs, field.Invalid(hc, spec.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	case needsHealthCheck && spec.HealthCheckNodePort == 0 && !v.Manifest:
		// The API server allocates it on create; a manifest need not.
		errs = append(errs, field.Required(hc, ""))
	case needsHealthCheck && spec.HealthCheckNodePort != 0:
		errs = append(errs, messages(spec.HealthCheckNodePort, validation.IsValidPortNum(int(spec.HealthCheckNodePort)), hc)...)
	}
	itp := specPath.Child("internalTrafficPolicy")
	switch {
	case spec.InternalTrafficPolicy == nil && (spec.Type == corev1.ServiceTypeClusterIP ||
		spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer):
		errs = append(errs, field.Required(itp, ""))
	case spec.InternalTrafficPolicy != nil:
		errs = append(errs, oneOf(*spec.InternalTrafficPolicy, supportedInternalPolicies, itp)...)
	}
	return errs
}

// validateClusterIPs checks clusterIP/clusterIPs and the IP family fields.
func validateClusterIPs(spec *corev1.ServiceSpec) field.ErrorList {
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	ipsPath, familiesPath := specPath.Child("clusterIPs"), specPath.Child("ipFamilies")
	if spec.ClusterIP != "" {
		if len(spec.ClusterIPs) == 0 {
			errs = append(errs, field.Required(ipsPath, ""))
		} else if spec.ClusterIPs[0] != spec.ClusterIP {
			errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(spec.ClusterIPs) != 0 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	seen := sets.New[corev1.IPFamily]()
	for i, family := range spec.IPFamilies {
		if !sets.New(supportedIPFamilies...).Has(family) {
			errs = append(errs, field.NotSupported(familiesPath.Index(i), family, supportedIPFamilies))
		}
		if seen.Has(family) {
			errs = append(errs, field.Duplicate(familiesPath.Index(i), family))
		}
		seen.Insert(family)
	}
	if spec.IPFamilyPolicy != nil {
		errs = append(errs, oneOf(*spec.IPFamilyPolicy, supportedIPFamilyPolicies, specPath.Child("ipFamilyPolicy"))...)
	}
	invalidIPs := false
	for i, ip := range spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(spec.ClusterIPs) > 1 {
				invalidIPs = true
				errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		ipErrs := validation.IsValidIP(ipsPath.Index(i), ip)
		invalidIPs = invalidIPs || len(ipErrs) > 0
		errs = append(errs, ipErrs...)
	}
	if len(spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	if invalidIPs {
		return errs
	}
	if len(spec.ClusterIPs) == 2 && isIPv6(spec.ClusterIPs[0]) == isIPv6(spec.ClusterIPs[1]) {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may specify no more than one IP for each IP family"))
	}
	if isHeadless(spec) {
		return errs
	}
	for i, ip := range spec.ClusterIPs {
		if i >= len(spec.IPFamilies) {
			break
		}
		switch {
		case spec.IPFamilies[i] == corev1.IPv4Protocol && isIPv6(ip):
			errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
		case spec.IPFamilies[i] == corev1.IPv6Protocol && !isIPv6(ip):
			errs = append(errs, field.Invalid(ipsPath.Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
		}
	}
	return errs
}

func isHeadless(spec *corev1.ServiceSpec) bool {
	return len(spec.ClusterIPs) == 1 && spec.ClusterIPs[0] == corev1.ClusterIPNone
}

func isIPv6(s string) bool {
	ip := net.ParseIP(s)
	return ip != nil && ip.To4() == nil
}

// nonSpecialIP rejects addresses that never reach a workload: unspecified,
// loopback and link-local ones.
func nonSpecialIP(s string, fldPath *field.Path) field.ErrorList {
	ip := net.ParseIP(s)
	switch {
	case ip == nil:
		return field.ErrorList{field.Invalid(fldPath, s, "must be a valid IP address")}
	case ip.IsUnspecified():
		return field.ErrorList{field.Invalid(fldPath, s, fmt.Sprintf("may not be unspecified (%v)", s))}
	case ip.IsLoopback():
		return field.ErrorList{field.Invalid(fldPath, s, "may not be in the loopback range (127.0.0.0/8, ::1/128)")}
	case ip.IsLinkLocalUnicast():
		return field.ErrorList{field.Invalid(fldPath, s, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")}
	case ip.IsLinkLocalMulticast():
		return field.ErrorList{field.Invalid(fldPath, s, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")}
	}
	return nil
}

func (v Validator) validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	errs := objectMetaUpdate(&svc.ObjectMeta, &old.ObjectMeta)
	external := svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName
	if !external && !(isHeadless(&svc.Spec) && isHeadless(&old.Spec)) {
		errs = append(errs, clusterIPsUpdate(&svc.Spec, &old.Spec)...)
	}
	if !external && isHeadless(&svc.Spec) == isHeadless(&old.Spec) && !isHeadless(&svc.Spec) {
		errs = append(errs, ipFamiliesUpdate(&svc.Spec, &old.Spec)...)
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && old.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		!equalStringPtr(svc.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass) {
		errs = append(errs, field.Invalid(specPath.Child("loadBalancerClass"), svc.Spec.LoadBalancerClass, "may not change once set"))
	}
	needsHC := func(s *corev1.ServiceSpec) bool {
		return s.Type == corev1.ServiceTypeLoadBalancer && s.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	}
	if needsHC(&svc.Spec) && needsHC(&old.Spec) && svc.Spec.HealthCheckNodePort != old.Spec.HealthCheckNodePort {
		errs = append(errs, field.Forbidden(specPath.Child("healthCheckNodePort"), fieldImmutableErrorMsg))
	}
	return append(errs, v.validateService(svc)...)
}

// clusterIPsUpdate lets a service gain or drop its secondary cluster IP but
// never change the ones it has.
func clusterIPsUpdate(spec, old *corev1.ServiceSpec) field.ErrorList {
	p := specPath.Child("clusterIPs")
	var errs field.ErrorList
	switch {
	case len(old.ClusterIPs) == len(spec.ClusterIPs):
		for i, ip := range old.ClusterIPs {
			if ip != spec.ClusterIPs[i] {
				errs = append(errs, field.Invalid(p.Index(i), spec.ClusterIPs, "may not change once set"))
			}
		}
	case len(old.ClusterIPs) > len(spec.ClusterIPs):
		if len(spec.ClusterIPs) == 0 {
			errs = append(errs, field.Invalid(p.Index(0), spec.ClusterIPs, "primary clusterIP can not be unset"))
		} else if spec.ClusterIPs[0] != old.ClusterIPs[0] {
			errs = append(errs, field.Invalid(p.Index(0), spec.ClusterIPs, "may not change once set"))
		}
		if len(spec.ClusterIPs) == 1 && (spec.IPFamilyPolicy == nil || *spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
			errs = append(errs, field.Invalid(specPath.Child("ipFamilyPolicy"), spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary clusterIP"))
		}
	case len(old.ClusterIPs) > 0 && spec.ClusterIPs[0] != old.ClusterIPs[0]:
		errs = append(errs, field.Invalid(p.Index(0), spec.ClusterIPs, "may not change once set"))
	}
	return errs
}

func ipFamiliesUpdate(spec, old *corev1.ServiceSpec) field.ErrorList {
	p := specPath.Child("ipFamilies").Index(0)
	var errs field.ErrorList
	switch {
	case len(old.IPFamilies) == len(spec.IPFamilies):
		for i, family := range old.IPFamilies {
			if family != spec.IPFamilies[i] {
				errs = append(errs, field.Invalid(p, spec.IPFamilies, "may not change once set"))
			}
		}
	case len(old.IPFamilies) > len(spec.IPFamilies):
		if len(spec.IPFamilies) == 0 {
			errs = append(errs, field.Invalid(p, spec.IPFamilies, "primary ipFamily can not be unset"))
		} else if spec.IPFamilies[0] != old.IPFamilies[0] {
			errs = append(errs, field.Invalid(p, spec.IPFamilies, "may not change once set"))
		}
		if len(spec.IPFamilies) == 1 && (spec.IPFamilyPolicy == nil || *spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
			errs = append(errs, field.Invalid(specPath.Child("ipFamilyPolicy"), spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary ipFamily"))
		}
	case len(old.IPFamilies) > 0 && spec.IPFamilies[0] != old.IPFamilies[0]:
		errs = append(errs, field.Invalid(p, spec.IPFamilies, "may not change once set"))
	}
	return errs
}

func equalStringPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// validateServiceStatusUpdate checks the load balancer ingress addresses a
// controller reports.
func validateServiceStatusUpdate(svc, old *corev1.Service) field.ErrorList {
	errs := objectMetaUpdate(&svc.ObjectMeta, &old.ObjectMeta)
	p := statusPath.Child("loadBalancer", "ingress")
	for i, ingress := range svc.Status.LoadBalancer.Ingress {
		ip := p.Index(i)
		if ingress.IP != "" {
			errs = append(errs, validation.IsValidIP(ip.Child("ip"), ingress.IP)...)
		}
		if ingress.IPMode != nil {
			if ingress.IP == "" {
				errs = append(errs, field.Forbidden(ip.Child("ipMode"), "may not be specified when `ip` is not set"))
			}
			errs = append(errs, oneOf(*ingress.IPMode, []corev1.LoadBalancerIPMode{corev1.LoadBalancerIPModeProxy, corev1.LoadBalancerIPModeVIP}, ip.Child("ipMode"))...)
		} else if ingress.IP != "" && svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Required(ip.Child("ipMode"), "must be specified when `ip` is set"))
		}
		if ingress.Hostname != "" {
			errs = append(errs, dnsSubdomain(ingress.Hostname, ip.Child("hostname"))...)
			if net.ParseIP(ingress.Hostname) != nil {
				errs = append(errs, field.Invalid(ip.Child("hostname"), ingress.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}
