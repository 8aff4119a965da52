package endpointslice

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// hasEndpoints reports whether this controller publishes endpoints for
// svc: it needs a selector (a Service without one has its slices written
// by someone else) and must not be an ExternalName alias.
func hasEndpoints(svc *corev1.Service) bool {
	return svc.Spec.Selector != nil && svc.Spec.Type != corev1.ServiceTypeExternalName
}

// slicesOf selects the slices this controller keeps for the Service named
// service.
func slicesOf(service string) labels.Selector {
	return labels.SelectorFromValidatedSet(labels.Set{
		discoveryv1.LabelServiceName: service,
		discoveryv1.LabelManagedBy:   ControllerName,
	})
}

// live drops the slices being deleted: the reconciler must neither update
// nor count them. It reuses the slice's backing array.
func live(slices []*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	out := slices[:0]
	for _, s := range slices {
		if s.DeletionTimestamp == nil {
			out = append(out, s)
		}
	}
	return out
}
