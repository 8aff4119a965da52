package validation

import (
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateEviction checks a request to evict a pod: it names the pod and
// its delete options are sound.
func validateEviction(e *policyv1.Eviction) field.ErrorList {
	var errs field.ErrorList
	if e.Name == "" {
		errs = append(errs, field.Required(metadataPath.Child("name"), ""))
	}
	if e.DeleteOptions != nil {
		errs = append(errs, metav1validation.ValidateDeleteOptions(e.DeleteOptions)...)
	}
	return errs
}

func validateTokenReview(r *authenticationv1.TokenReview) field.ErrorList {
	if r.Spec.Token == "" {
		return field.ErrorList{field.Required(specPath.Child("token"), "")}
	}
	return nil
}

// resourceOrNonResource requires exactly one kind of attributes.
func resourceOrNonResource(resource *authorizationv1.ResourceAttributes, nonResource *authorizationv1.NonResourceAttributes) field.ErrorList {
	switch {
	case resource != nil && nonResource != nil:
		return field.ErrorList{field.Invalid(specPath.Child("nonResourceAttributes"), nonResource, "cannot be specified in combination with resourceAttributes")}
	case resource == nil && nonResource == nil:
		return field.ErrorList{field.Invalid(specPath.Child("resourceAttributes"), nonResource, "exactly one of nonResourceAttributes or resourceAttributes must be specified")}
	}
	return nil
}

func validateSubjectAccessReviewSpec(spec *authorizationv1.SubjectAccessReviewSpec) field.ErrorList {
	errs := resourceOrNonResource(spec.ResourceAttributes, spec.NonResourceAttributes)
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(specPath.Child("user"), spec.User, "at least one of user or group must be specified"))
	}
	return errs
}

func validateSubjectAccessReview(r *authorizationv1.SubjectAccessReview) field.ErrorList {
	errs := validateSubjectAccessReviewSpec(&r.Spec)
	if !emptyMeta(r.ObjectMeta) {
		errs = append(errs, field.Invalid(metadataPath, r.ObjectMeta, "must be empty"))
	}
	return errs
}

func validateSelfSubjectAccessReview(r *authorizationv1.SelfSubjectAccessReview) field.ErrorList {
	errs := resourceOrNonResource(r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
	if !emptyMeta(r.ObjectMeta) {
		errs = append(errs, field.Invalid(metadataPath, r.ObjectMeta, "must be empty"))
	}
	return errs
}

func validateLocalSubjectAccessReview(r *authorizationv1.LocalSubjectAccessReview) field.ErrorList {
	errs := validateSubjectAccessReviewSpec(&r.Spec)
	meta := r.ObjectMeta
	meta.Namespace = ""
	if !emptyMeta(meta) {
		errs = append(errs, field.Invalid(metadataPath, r.ObjectMeta, "must be empty except for namespace"))
	}
	if ra := r.Spec.ResourceAttributes; ra != nil && ra.Namespace != r.Namespace {
		errs = append(errs, field.Invalid(specPath.Child("resourceAttributes", "namespace"), ra.Namespace, "must match metadata.namespace"))
	}
	if r.Spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(specPath.Child("nonResourceAttributes"), r.Spec.NonResourceAttributes, "disallowed on this kind of request"))
	}
	return errs
}

func validateSelfSubjectRulesReview(r *authorizationv1.SelfSubjectRulesReview) field.ErrorList {
	if r.Spec.Namespace != "" {
		return nameRef(r.Spec.Namespace, nameIsDNSLabel, specPath.Child("namespace"))
	}
	return nil
}

// emptyMeta reports metadata that carries nothing but managed fields, as a
// review request's must.
func emptyMeta(meta metav1.ObjectMeta) bool {
	meta.ManagedFields = nil
	return meta.Name == "" && meta.GenerateName == "" && meta.Namespace == "" && meta.UID == "" &&
		meta.ResourceVersion == "" && meta.Generation == 0 && meta.CreationTimestamp.IsZero() &&
		meta.DeletionTimestamp == nil && meta.DeletionGracePeriodSeconds == nil && len(meta.Labels) == 0 &&
		len(meta.Annotations) == 0 && len(meta.OwnerReferences) == 0 && len(meta.Finalizers) == 0
}
