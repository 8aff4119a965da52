// Package validation decides whether an object is valid, with the rules,
// field paths and messages of kube-apiserver, for the kinds berth serves.
// It is the one source of truth for "is this manifest valid": the API
// server's admission, `berth validate` and `berth diff` all call it.
//
// The checks are pure functions of the objects (no I/O) and work on the
// versioned k8s.io/api types. Like kube-apiserver, they expect an object
// that has been defaulted (store/defaults.Default): fields that defaulting
// always fills, such as a pod's restartPolicy, are reported as required
// when missing. Validation never modifies its arguments.
package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

// Scope says whether metadata.namespace belongs on an object.
type Scope int

const (
	// ScopeFromKind uses the scope Kubernetes gives the object's kind.
	ScopeFromKind Scope = iota
	// ScopeNamespaced treats the object as namespaced.
	ScopeNamespaced
	// ScopeCluster treats the object as cluster-scoped.
	ScopeCluster
)

// Validator holds the context of a check. Its zero value checks objects the
// way the API server does when they are about to be stored.
type Validator struct {
	// Scope overrides the scope inferred from the kind, for a caller that
	// takes it from its own REST mapping.
	Scope Scope
	// Manifest marks the object as a manifest from a repository rather than
	// an object on its way into storage: the fields the API server fills in
	// on create may be absent. A namespaced object may omit
	// metadata.namespace (it is applied into a default namespace), and a
	// Job that does not ask for a manual selector may omit the selector and
	// pod labels that are generated from its UID.
	Manifest bool
}

// Validate checks obj as the API server checks a create, using the zero
// Validator. Unknown kinds return nil.
func Validate(obj runtime.Object) field.ErrorList {
	return Validator{}.Validate(obj)
}

// ValidateUpdate checks obj as a replacement for old, including which fields
// may not change, using the zero Validator. Unknown kinds return nil.
func ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	return Validator{}.ValidateUpdate(obj, old)
}

// ValidateStatusUpdate checks a write to obj's status subresource, using the
// zero Validator. Kinds without a status subresource are checked as by
// ValidateUpdate. Unknown kinds return nil.
func ValidateStatusUpdate(obj, old runtime.Object) field.ErrorList {
	return Validator{}.ValidateStatusUpdate(obj, old)
}

// Validate checks obj as the API server checks a create. Unknown kinds
// return nil.
func (v Validator) Validate(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return v.validatePodCreate(o)
	case *corev1.Service:
		return v.validateService(o)
	case *corev1.ConfigMap:
		return v.validateConfigMap(o)
	case *corev1.Secret:
		return v.validateSecret(o)
	case *corev1.ServiceAccount:
		return v.objectMeta(&o.ObjectMeta, true, nameIsDNSSubdomain)
	case *corev1.Namespace:
		return v.validateNamespace(o)
	case *corev1.Node:
		return v.validateNode(o)
	case *corev1.Event:
		return v.validateCoreEvent(o)
	case *corev1.Binding:
		return v.validateBinding(o)
	case *corev1.Endpoints:
		return v.validateEndpoints(o)
	case *appsv1.Deployment:
		return v.validateDeployment(o)
	case *appsv1.ReplicaSet:
		return v.validateReplicaSet(o)
	case *batchv1.Job:
		return v.validateJob(o)
	case *discoveryv1.EndpointSlice:
		return v.validateEndpointSliceCreate(o)
	case *coordinationv1.Lease:
		return v.validateLease(o)
	case *eventsv1.Event:
		return v.validateEventsEvent(o)
	case *policyv1.Eviction:
		return validateEviction(o)
	case *authenticationv1.TokenReview:
		return validateTokenReview(o)
	case *authenticationv1.SelfSubjectReview:
		return nil
	case *authorizationv1.SubjectAccessReview:
		return validateSubjectAccessReview(o)
	case *authorizationv1.SelfSubjectAccessReview:
		return validateSelfSubjectAccessReview(o)
	case *authorizationv1.LocalSubjectAccessReview:
		return validateLocalSubjectAccessReview(o)
	case *authorizationv1.SelfSubjectRulesReview:
		return validateSelfSubjectRulesReview(o)
	case *berthv1alpha1.GitSource:
		return v.validateGitSource(o)
	}
	return nil
}

// ValidateUpdate checks obj as a replacement for old, including which fields
// may not change. Unknown kinds return nil; an old object of another kind
// than obj is reported as an error on "kind". A manifest need not carry
// metadata.resourceVersion: the API server fills it in for unconditional
// updates.
func (v Validator) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	errs := v.validateUpdate(obj, old)
	if v.Manifest {
		errs = without(errs, field.ErrorTypeInvalid, metadataPath.Child("resourceVersion"))
	}
	return errs
}

func (v Validator) validateUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return withOld(o, old, v.validatePodUpdate)
	case *corev1.Service:
		return withOld(o, old, v.validateServiceUpdate)
	case *corev1.ConfigMap:
		return withOld(o, old, v.validateConfigMapUpdate)
	case *corev1.Secret:
		return withOld(o, old, v.validateSecretUpdate)
	case *corev1.ServiceAccount:
		return withOld(o, old, func(o, old *corev1.ServiceAccount) field.ErrorList {
			return append(objectMetaUpdate(&o.ObjectMeta, &old.ObjectMeta), v.Validate(o)...)
		})
	case *corev1.Namespace:
		return withOld(o, old, v.validateNamespaceUpdate)
	case *corev1.Node:
		return withOld(o, old, v.validateNodeUpdate)
	case *corev1.Event:
		return withOld(o, old, v.validateCoreEventUpdate)
	case *corev1.Endpoints:
		return withOld(o, old, func(o, old *corev1.Endpoints) field.ErrorList {
			return append(objectMetaUpdate(&o.ObjectMeta, &old.ObjectMeta), v.validateEndpoints(o)...)
		})
	case *appsv1.Deployment:
		return withOld(o, old, v.validateDeploymentUpdate)
	case *appsv1.ReplicaSet:
		return withOld(o, old, v.validateReplicaSetUpdate)
	case *batchv1.Job:
		return withOld(o, old, v.validateJobUpdate)
	case *discoveryv1.EndpointSlice:
		return withOld(o, old, v.validateEndpointSliceUpdate)
	case *coordinationv1.Lease:
		return withOld(o, old, func(o, old *coordinationv1.Lease) field.ErrorList {
			return append(objectMetaUpdate(&o.ObjectMeta, &old.ObjectMeta), validateLeaseSpec(&o.Spec)...)
		})
	case *eventsv1.Event:
		return withOld(o, old, v.validateEventsEventUpdate)
	case *berthv1alpha1.GitSource:
		return withOld(o, old, func(o, old *berthv1alpha1.GitSource) field.ErrorList {
			return append(objectMetaUpdate(&o.ObjectMeta, &old.ObjectMeta), validateGitSourceSpec(&o.Spec)...)
		})
	}
	return v.Validate(obj)
}

// ValidateStatusUpdate checks a write to obj's status subresource. Kinds
// without a status subresource are checked as by ValidateUpdate.
func (v Validator) ValidateStatusUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return withOld(o, old, validatePodStatusUpdate)
	case *corev1.Service:
		return withOld(o, old, validateServiceStatusUpdate)
	case *corev1.Namespace:
		return withOld(o, old, validateNamespaceStatusUpdate)
	case *corev1.Node:
		return withOld(o, old, v.validateNodeUpdate)
	case *appsv1.Deployment:
		return withOld(o, old, validateDeploymentStatusUpdate)
	case *appsv1.ReplicaSet:
		return withOld(o, old, validateReplicaSetStatusUpdate)
	case *batchv1.Job:
		return withOld(o, old, validateJobStatusUpdate)
	}
	return v.ValidateUpdate(obj, old)
}

// withOld runs an update check once old is known to be of obj's type.
func withOld[T runtime.Object](obj T, old runtime.Object, check func(obj, old T) field.ErrorList) field.ErrorList {
	typed, ok := old.(T)
	if !ok {
		return field.ErrorList{field.Invalid(field.NewPath("kind"), fmt.Sprintf("%T", obj),
			fmt.Sprintf("does not match the kind of the existing object (%T)", old))}
	}
	return check(obj, typed)
}
