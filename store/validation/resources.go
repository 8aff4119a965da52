package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	hugePagesPrefix          = "hugepages-"
	defaultNamespacePrefix   = "kubernetes.io/"
	requestsPrefix           = "requests."
	isNotIntegerErrorMsg     = "must be an integer"
	standardResourceMsg      = "must be a standard resource type or fully qualified"
	standardContainerResMsg  = "must be a standard resource for containers"
	extendedResourceNameMsg  = "doesn't follow extended resource name standard"
	limitForNonOvercommitMsg = "Limit must be set for non overcommitable resources"
)

// standardContainerResources are the unprefixed resources a container may
// request (besides hugepages-<size>).
var standardContainerResources = sets.New(corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage)

// standardResources are all unprefixed resource names Kubernetes knows,
// including the quota ones, which are standard but not for containers.
var standardResources = sets.New[corev1.ResourceName](
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage, corev1.ResourceStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsStorage, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
	corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices, corev1.ResourceReplicationControllers,
	corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims,
	corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
)

// validateResourceRequirements checks container resource names and
// quantities, and that no request exceeds its limit.
func validateResourceRequirements(r *corev1.ResourceRequirements, claimNames sets.Set[string], fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	qosResources, hugePages := false, false
	for name, q := range r.Limits {
		p := limPath.Key(string(name))
		errs = append(errs, validateContainerResourceName(name, p)...)
		errs = append(errs, validateQuantity(name, q, p)...)
		hugePages = hugePages || isHugePages(name)
		qosResources = qosResources || name == corev1.ResourceCPU || name == corev1.ResourceMemory
	}
	for name, q := range r.Requests {
		p := reqPath.Key(string(name))
		errs = append(errs, validateContainerResourceName(name, p)...)
		errs = append(errs, validateQuantity(name, q, p)...)
		hugePages = hugePages || isHugePages(name)
		qosResources = qosResources || name == corev1.ResourceCPU || name == corev1.ResourceMemory
		limit, limited := r.Limits[name]
		switch {
		case limited && !overcommitAllowed(name) && q.Cmp(limit) != 0:
			errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
		case limited && q.Cmp(limit) > 0:
			errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		case !limited && !overcommitAllowed(name):
			errs = append(errs, field.Required(limPath, limitForNonOvercommitMsg))
		}
	}
	if hugePages && !qosResources {
		errs = append(errs, field.Forbidden(fldPath, "HugePages require cpu or memory"))
	}
	return append(errs, validateResourceClaimRefs(r.Claims, claimNames, fldPath.Child("claims"))...)
}

// validateQuantity checks a resource amount: never negative, whole for
// countable resources, a whole number of pages for hugepages.
func validateQuantity(name corev1.ResourceName, q resource.Quantity, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if q.Sign() < 0 {
		errs = append(errs, field.Invalid(fldPath, q.String(), isNegativeErrorMsg))
	}
	if isExtendedResource(name) && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(fldPath, q.String(), isNotIntegerErrorMsg))
	}
	if isHugePages(name) {
		pageSize, err := resource.ParseQuantity(strings.TrimPrefix(string(name), hugePagesPrefix))
		if err != nil || pageSize.Sign() <= 0 || q.Value()%pageSize.Value() != 0 {
			errs = append(errs, field.Invalid(fldPath, q.String(), fmt.Sprintf("%s is not positive integer multiple of %s", q.String(), name)))
		}
	}
	return errs
}

func validateContainerResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	if msgs := validation.IsQualifiedName(string(name)); len(msgs) != 0 {
		return messages(name, msgs, fldPath)
	}
	if !strings.Contains(string(name), "/") {
		var errs field.ErrorList
		if !standardResources.Has(name) && !isHugePages(name) {
			errs = append(errs, field.Invalid(fldPath, name, standardResourceMsg))
		}
		if !standardContainerResources.Has(name) && !isHugePages(name) {
			errs = append(errs, field.Invalid(fldPath, name, standardContainerResMsg))
		}
		return errs
	}
	if !isNativeResource(name) && !isExtendedResource(name) {
		return field.ErrorList{field.Invalid(fldPath, name, extendedResourceNameMsg)}
	}
	return nil
}

// validateResourceClaimRefs checks that a container's claims name entries
// of the pod's spec.resourceClaims.
func validateResourceClaimRefs(claims []corev1.ResourceClaim, claimNames sets.Set[string], fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, claim := range claims {
		p := fldPath.Index(i)
		if claim.Name == "" {
			errs = append(errs, field.Required(p, ""))
			continue
		}
		key := claim.Name
		if claim.Request != "" {
			errs = append(errs, dnsLabel(claim.Request, p.Child("request"))...)
			key += "/" + claim.Request
		}
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(p, key))
		}
		seen.Insert(key)
		if !claimNames.Has(claim.Name) {
			e := field.NotFound(p, claim.Name)
			e.Detail = "must be one of the names in pod.spec.resourceClaims"
			if claimNames.Len() == 0 {
				e.Detail += " which is empty"
			} else {
				e.Detail += ": " + strings.Join(sets.List(claimNames), ", ")
			}
			errs = append(errs, e)
		}
	}
	return errs
}

func isHugePages(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), hugePagesPrefix)
}

// isNativeResource reports names Kubernetes owns: unprefixed or in the
// kubernetes.io domain.
func isNativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), defaultNamespacePrefix)
}

// isExtendedResource reports device-plugin style resources such as
// example.com/gpu, which are counted in whole units and never overcommitted.
func isExtendedResource(name corev1.ResourceName) bool {
	if isNativeResource(name) || strings.HasPrefix(string(name), requestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(requestsPrefix+string(name))) == 0
}

func overcommitAllowed(name corev1.ResourceName) bool {
	return isNativeResource(name) && !isHugePages(name)
}
