package validation

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func (v Validator) validateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := v.objectMeta(&ns.ObjectMeta, false, nameIsDNSLabel)
	return append(errs, namespaceFinalizers(ns.Spec.Finalizers)...)
}

func namespaceFinalizers(finalizers []corev1.FinalizerName) field.ErrorList {
	var errs field.ErrorList
	p := specPath.Child("finalizers")
	names := make([]string, len(finalizers))
	for i, f := range finalizers {
		names[i] = string(f)
		errs = append(errs, qualifiedName(string(f), p.Index(i))...)
	}
	return append(errs, kubeFinalizerNames(names, p)...)
}

func (v Validator) validateNamespaceUpdate(ns, old *corev1.Namespace) field.ErrorList {
	errs := objectMetaUpdate(&ns.ObjectMeta, &old.ObjectMeta)
	return append(errs, namespaceFinalizers(ns.Spec.Finalizers)...)
}

// validateNamespaceStatusUpdate ties the phase to the deletion state.
func validateNamespaceStatusUpdate(ns, old *corev1.Namespace) field.ErrorList {
	errs := objectMetaUpdate(&ns.ObjectMeta, &old.ObjectMeta)
	p := statusPath.Child("phase")
	switch {
	case ns.DeletionTimestamp.IsZero() && ns.Status.Phase != corev1.NamespaceActive:
		errs = append(errs, field.Invalid(p, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty"))
	case !ns.DeletionTimestamp.IsZero() && ns.Status.Phase != corev1.NamespaceTerminating:
		errs = append(errs, field.Invalid(p, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
	}
	return errs
}

func (v Validator) validateNode(node *corev1.Node) field.ErrorList {
	errs := v.objectMeta(&node.ObjectMeta, false, nameIsDNSSubdomain)
	// kube-apiserver reports taints under metadata.taints; berth names the
	// field where it is.
	errs = append(errs, validateTaints(node.Spec.Taints, specPath.Child("taints"))...)
	errs = append(errs, nodeResources(node)...)
	cidrs := specPath.Child("podCIDRs")
	for i, cidr := range node.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(cidrs.Index(i), cidr)...)
	}
	if len(errs) == 0 && len(node.Spec.PodCIDRs) > 1 {
		seen := sets.New[string]()
		for i, cidr := range node.Spec.PodCIDRs {
			if seen.Has(cidr) {
				errs = append(errs, field.Duplicate(cidrs.Index(i), cidr))
			}
			seen.Insert(cidr)
		}
		if len(node.Spec.PodCIDRs) > 2 || cidrIsIPv6(node.Spec.PodCIDRs[0]) == cidrIsIPv6(node.Spec.PodCIDRs[1]) {
			errs = append(errs, field.Invalid(cidrs, node.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
	}
	if node.Spec.PodCIDR != "" && len(node.Spec.PodCIDRs) > 0 && node.Spec.PodCIDR != node.Spec.PodCIDRs[0] {
		errs = append(errs, field.Invalid(specPath.Child("podCIDR"), node.Spec.PodCIDR, "must match `podCIDRs[0]`"))
	}
	return errs
}

func cidrIsIPv6(cidr string) bool {
	ip, _, _ := strings.Cut(cidr, "/")
	return isIPv6(ip)
}

func nodeResources(node *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	for _, list := range []struct {
		name  string
		items corev1.ResourceList
	}{{"capacity", node.Status.Capacity}, {"allocatable", node.Status.Allocatable}} {
		for name, q := range list.items {
			errs = append(errs, validateQuantity(name, q, statusPath.Child(list.name).Key(string(name)))...)
		}
	}
	return errs
}

// validateNodeUpdate lets the pod CIDRs and provider ID be set once, and
// checks the rest as on create. Node status is written by the kubelet with
// the same rules.
func (v Validator) validateNodeUpdate(node, old *corev1.Node) field.ErrorList {
	errs := objectMetaUpdate(&node.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateTaints(node.Spec.Taints, specPath.Child("taints"))...)
	errs = append(errs, nodeResources(node)...)
	seen := map[corev1.NodeAddress]bool{}
	for i, addr := range node.Status.Addresses {
		if seen[addr] {
			errs = append(errs, field.Duplicate(statusPath.Child("addresses").Index(i), addr))
		}
		seen[addr] = true
	}
	if len(old.Spec.PodCIDRs) > 0 && !slices.Equal(old.Spec.PodCIDRs, node.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(specPath.Child("podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != node.Spec.ProviderID {
		errs = append(errs, field.Forbidden(specPath.Child("providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if node.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(specPath.Child("externalID"), "may not be updated"))
	}
	if len(old.Spec.PodCIDRs) == 0 {
		cidrs := specPath.Child("podCIDRs")
		for i, cidr := range node.Spec.PodCIDRs {
			errs = append(errs, validation.IsValidCIDR(cidrs.Index(i), cidr)...)
		}
	}
	return errs
}
