package validation

import (
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Name rules of the kinds: most names are DNS subdomains; Namespaces are DNS
// labels and Services DNS-1035 labels (they become DNS names and env vars).
var (
	nameIsDNSSubdomain = apimachineryvalidation.NameIsDNSSubdomain
	nameIsDNSLabel     = apimachineryvalidation.NameIsDNSLabel
	nameIsDNS1035Label = apimachineryvalidation.NameIsDNS1035Label
)

// Messages shared by several kinds, worded as kube-apiserver words them.
const (
	isNegativeErrorMsg     = apimachineryvalidation.IsNegativeErrorMsg
	fieldImmutableErrorMsg = apimachineryvalidation.FieldImmutableErrorMsg
	isNotPositiveErrorMsg  = "must be greater than zero"
	immutableWhenSetMsg    = "field is immutable when `immutable` is set"
)

var (
	metadataPath = field.NewPath("metadata")
	specPath     = field.NewPath("spec")
	statusPath   = field.NewPath("status")
)

// standardFinalizers are the finalizer names that need no domain prefix.
var standardFinalizers = map[string]bool{
	"kubernetes":                     true,
	metav1.FinalizerOrphanDependents: true,
	metav1.FinalizerDeleteDependents: true,
}

// isNamespaced resolves the scope of an object whose kind has the given
// scope, honouring the Validator's override.
func (v Validator) isNamespaced(kindNamespaced bool) bool {
	switch v.Scope {
	case ScopeNamespaced:
		return true
	case ScopeCluster:
		return false
	}
	return kindNamespaced
}

// objectMeta checks the metadata of an object being created: name (or
// generateName when the name is still to be generated), namespace presence
// for the object's scope, labels, annotations, owner references and
// finalizers.
func (v Validator) objectMeta(meta *metav1.ObjectMeta, kindNamespaced bool, nameFn apimachineryvalidation.ValidateNameFunc) field.ErrorList {
	namespaced := v.isNamespaced(kindNamespaced)
	requireNamespace := namespaced && !(v.Manifest && meta.Namespace == "")
	errs := apimachineryvalidation.ValidateObjectMeta(meta, requireNamespace, nameFn, metadataPath)
	if meta.Name == "" && meta.GenerateName != "" {
		// The name will be generated from generateName, which was checked.
		errs = without(errs, field.ErrorTypeRequired, metadataPath.Child("name"))
	}
	return append(errs, kubeFinalizerNames(meta.Finalizers, metadataPath.Child("finalizers"))...)
}

// objectMetaUpdate checks the metadata of an update: immutable identity
// fields and the same format rules as on create.
func objectMetaUpdate(meta, old *metav1.ObjectMeta) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMetaUpdate(meta, old, metadataPath)
	return append(errs, kubeFinalizerNames(meta.Finalizers, metadataPath.Child("finalizers"))...)
}

// templateMeta checks the labels and annotations of an embedded template.
func templateMeta(meta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(meta.Labels, fldPath.Child("labels"))
	return append(errs, apimachineryvalidation.ValidateAnnotations(meta.Annotations, fldPath.Child("annotations"))...)
}

// kubeFinalizerNames rejects unprefixed finalizers other than the standard
// ones.
func kubeFinalizerNames(finalizers []string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		if !strings.Contains(f, "/") && !standardFinalizers[f] {
			errs = append(errs, field.Invalid(fldPath.Index(i), f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

// without drops the errors of type typ on fldPath.
func without(errs field.ErrorList, typ field.ErrorType, fldPath *field.Path) field.ErrorList {
	var kept field.ErrorList
	for _, e := range errs {
		if e.Type != typ || e.Field != fldPath.String() {
			kept = append(kept, e)
		}
	}
	return kept
}

// nameRef checks a reference to an object by name with the name rule of the
// referenced kind.
func nameRef(name string, nameFn apimachineryvalidation.ValidateNameFunc, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range nameFn(name, false) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	return errs
}

func dnsLabel(value string, fldPath *field.Path) field.ErrorList {
	return messages(value, validation.IsDNS1123Label(value), fldPath)
}

func dnsSubdomain(value string, fldPath *field.Path) field.ErrorList {
	return messages(value, validation.IsDNS1123Subdomain(value), fldPath)
}

func qualifiedName(value string, fldPath *field.Path) field.ErrorList {
	return messages(value, validation.IsQualifiedName(value), fldPath)
}

// messages turns the messages of a util/validation check into Invalid
// errors on value.
func messages(value any, msgs []string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

func nonNegative(value int64, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(value, fldPath)
}

// nonNegativePtr checks an optional number.
func nonNegativePtr[T ~int32 | ~int64](value *T, fldPath *field.Path) field.ErrorList {
	if value == nil {
		return nil
	}
	return nonNegative(int64(*value), fldPath)
}

func immutable(value, old any, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateImmutableField(value, old, fldPath)
}

// oneOf reports value as Required when empty and NotSupported when not one
// of supported, listed in the order given.
func oneOf[T ~string](value T, supported []T, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	for _, s := range supported {
		if value == s {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(fldPath, value, supported)}
}
