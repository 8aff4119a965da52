package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of an EndpointSlice.
const (
	maxSliceEndpoints    = 1000
	maxEndpointAddresses = 100
	maxSlicePorts        = 20000
	maxTopologyLabels    = 16
	maxZoneHints         = 8
)

var supportedAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

func (v Validator) validateEndpointSliceCreate(slice *discoveryv1.EndpointSlice) field.ErrorList {
	errs := v.validateEndpointSlice(slice)
	return append(errs, oneOf(slice.AddressType, supportedAddressTypes, field.NewPath("addressType"))...)
}

func (v Validator) validateEndpointSliceUpdate(slice, old *discoveryv1.EndpointSlice) field.ErrorList {
	errs := objectMetaUpdate(&slice.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, v.validateEndpointSlice(slice)...)
	return append(errs, immutable(slice.AddressType, old.AddressType, field.NewPath("addressType"))...)
}

func (v Validator) validateEndpointSlice(slice *discoveryv1.EndpointSlice) field.ErrorList {
	errs := v.objectMeta(&slice.ObjectMeta, true, nameIsDNSSubdomain)
	errs = append(errs, validateSliceEndpoints(slice.Endpoints, slice.AddressType, field.NewPath("endpoints"))...)
	return append(errs, validateSlicePorts(slice.Ports, field.NewPath("ports"))...)
}

func validateSliceEndpoints(endpoints []discoveryv1.Endpoint, addressType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if len(endpoints) > maxSliceEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(endpoints), maxSliceEndpoints)}
	}
	var errs field.ErrorList
	for i, ep := range endpoints {
		p := fldPath.Index(i)
		addrPath := p.Child("addresses")
		switch {
		case len(ep.Addresses) == 0:
			errs = append(errs, field.Required(addrPath, "must contain at least 1 address"))
		case len(ep.Addresses) > maxEndpointAddresses:
			errs = append(errs, field.TooMany(addrPath, len(ep.Addresses), maxEndpointAddresses))
		}
		for j, addr := range ep.Addresses {
			errs = append(errs, validateSliceAddress(addr, addressType, addrPath.Index(j))...)
		}
		if ep.NodeName != nil {
			errs = append(errs, nameRef(*ep.NodeName, nameIsDNSSubdomain, p.Child("nodeName"))...)
		}
		if ep.Hostname != nil {
			errs = append(errs, dnsLabel(*ep.Hostname, p.Child("hostname"))...)
		}
		topology := p.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxTopologyLabels {
			errs = append(errs, field.TooMany(topology, len(ep.DeprecatedTopology), maxTopologyLabels))
		}
		errs = append(errs, metav1validation.ValidateLabels(ep.DeprecatedTopology, topology)...)
		if ep.Hints != nil {
			zones := p.Child("hints", "forZones")
			if len(ep.Hints.ForZones) > maxZoneHints {
				errs = append(errs, field.TooMany(zones, len(ep.Hints.ForZones), maxZoneHints))
			}
			seen := sets.New[string]()
			for j, z := range ep.Hints.ForZones {
				if seen.Has(z.Name) {
					errs = append(errs, field.Duplicate(zones.Index(j), z.Name))
				}
				seen.Insert(z.Name)
			}
		}
	}
	return errs
}

// validateSliceAddress checks an endpoint address against the slice's
// address type; addresses of unknown types are left to the type check.
func validateSliceAddress(addr string, addressType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	switch addressType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := validation.IsValidIP(fldPath, addr); len(errs) > 0 {
			return errs
		}
		if isIPv6(addr) != (addressType == discoveryv1.AddressTypeIPv6) {
			return field.ErrorList{field.Invalid(fldPath, addr, fmt.Sprintf("must be an %s address", addressType))}
		}
		return nonSpecialIP(addr, fldPath)
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(fldPath, addr)
	}
	return nil
}

func validateSlicePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > maxSlicePorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), maxSlicePorts)}
	}
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		p := fldPath.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, dnsLabel(name, p.Child("name"))...)
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names.Insert(name)
		if port.Port != nil {
			errs = append(errs, messages(*port.Port, validation.IsValidPortNum(int(*port.Port)), p.Child("port"))...)
		}
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else {
			errs = append(errs, oneOf(*port.Protocol, supportedProtocols, p.Child("protocol"))...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, qualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
		}
	}
	return errs
}

// validateEndpoints checks the legacy Endpoints kind, which controllers
// write and few users do.
func (v Validator) validateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	errs := v.objectMeta(&ep.ObjectMeta, true, nameIsDNSSubdomain)
	subsets := field.NewPath("subsets")
	for i, ss := range ep.Subsets {
		p := subsets.Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, addr := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(addr, p.Child("addresses").Index(j))...)
		}
		for j, addr := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(addr, p.Child("notReadyAddresses").Index(j))...)
		}
		for j, port := range ss.Ports {
			pp := p.Child("ports").Index(j)
			if len(ss.Ports) > 1 && port.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if port.Name != "" {
				errs = append(errs, dnsLabel(port.Name, pp.Child("name"))...)
			}
			errs = append(errs, messages(port.Port, validation.IsValidPortNum(int(port.Port)), pp.Child("port"))...)
			errs = append(errs, oneOf(port.Protocol, supportedProtocols, pp.Child("protocol"))...)
			if port.AppProtocol != nil {
				errs = append(errs, qualifiedName(*port.AppProtocol, pp.Child("appProtocol"))...)
			}
		}
	}
	return errs
}

func validateEndpointAddress(addr corev1.EndpointAddress, fldPath *field.Path) field.ErrorList {
	errs := validation.IsValidIP(fldPath.Child("ip"), addr.IP)
	if addr.Hostname != "" {
		errs = append(errs, dnsLabel(addr.Hostname, fldPath.Child("hostname"))...)
	}
	if addr.NodeName != nil {
		errs = append(errs, nameRef(*addr.NodeName, nameIsDNSSubdomain, fldPath.Child("nodeName"))...)
	}
	if len(errs) > 0 {
		return errs
	}
	return nonSpecialIP(addr.IP, fldPath.Child("ip"))
}
