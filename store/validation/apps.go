package validation

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const selectorMismatchMsg = "`selector` does not match template `labels`"

func (v Validator) validateDeployment(d *appsv1.Deployment) field.ErrorList {
	errs := v.objectMeta(&d.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, validateDeploymentSpec(&d.Spec)...)
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec) field.ErrorList {
	errs := nonNegativePtr(spec.Replicas, specPath.Child("replicas"))
	errs = append(errs, validateReplicatedTemplate(spec.Selector, &spec.Template, "deployment", "ReplicaSet")...)
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, specPath.Child("strategy"))...)
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, nonNegativePtr(spec.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	if p := spec.ProgressDeadlineSeconds; p != nil {
		errs = append(errs, nonNegative(int64(*p), specPath.Child("progressDeadlineSeconds"))...)
		if *p <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(specPath.Child("progressDeadlineSeconds"), *p, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// validateReplicatedTemplate checks what Deployments and ReplicaSets share:
// a non-empty selector that matches the template, and a template of
// always-restarting pods without a deadline. kind names the workload in the
// messages, as kube-apiserver does.
func validateReplicatedTemplate(selector *metav1.LabelSelector, template *corev1.PodTemplateSpec, kind, deadlineKind string) field.ErrorList {
	var errs field.ErrorList
	selPath, tmplPath := specPath.Child("selector"), specPath.Child("template")
	if selector == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(selector, metav1validation.LabelSelectorValidationOptions{}, selPath)...)
		if len(selector.MatchLabels)+len(selector.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(selPath, selector, "empty selector is invalid for "+kind))
		}
	}
	if sel, err := metav1.LabelSelectorAsSelector(selector); err != nil {
		errs = append(errs, field.Invalid(selPath, selector, "invalid label selector"))
	} else if !sel.Empty() && !sel.Matches(labels.Set(template.Labels)) {
		errs = append(errs, field.Invalid(tmplPath.Child("metadata", "labels"), template.Labels, selectorMismatchMsg))
	}
	errs = append(errs, validatePodTemplateSpec(template, tmplPath)...)
	if template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(tmplPath.Child("spec", "restartPolicy"), template.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if template.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(tmplPath.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+deadlineKind+" is not Supported"))
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return validateRollingUpdate(s.RollingUpdate, fldPath.Child("rollingUpdate"))
	}
	return field.ErrorList{field.NotSupported(fldPath.Child("type"), s.Type,
		[]appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
}

func validateRollingUpdate(ru *appsv1.RollingUpdateDeployment, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	unavailablePath, surgePath := fldPath.Child("maxUnavailable"), fldPath.Child("maxSurge")
	unavailable, surge := intOrPercent(ru.MaxUnavailable), intOrPercent(ru.MaxSurge)
	errs = append(errs, positiveIntOrPercent(ru.MaxUnavailable, unavailablePath)...)
	errs = append(errs, positiveIntOrPercent(ru.MaxSurge, surgePath)...)
	if unavailable == 0 && surge == 0 {
		errs = append(errs, field.Invalid(unavailablePath, valueOf(ru.MaxUnavailable), "may not be 0 when `maxSurge` is 0"))
	}
	if ru.MaxUnavailable != nil && ru.MaxUnavailable.Type == intstr.String && unavailable > 100 {
		errs = append(errs, field.Invalid(unavailablePath, *ru.MaxUnavailable, "must not be greater than 100%"))
	}
	return errs
}

// positiveIntOrPercent checks a count that may also be written as "N%".
func positiveIntOrPercent(v *intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	if v.Type == intstr.String {
		return messages(*v, validation.IsValidPercent(v.StrVal), fldPath)
	}
	return nonNegative(int64(v.IntVal), fldPath)
}

// intOrPercent is the number or percentage a value stands for (0 when
// unset or malformed).
func intOrPercent(v *intstr.IntOrString) int {
	if v == nil {
		return 0
	}
	if v.Type == intstr.Int {
		return int(v.IntVal)
	}
	if len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0
	}
	n, _ := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	return n
}

func valueOf(v *intstr.IntOrString) any {
	if v == nil {
		return nil
	}
	return *v
}

func (v Validator) validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := objectMetaUpdate(&d.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, immutable(d.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
	return append(errs, validateDeploymentSpec(&d.Spec)...)
}

func validateDeploymentStatusUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := objectMetaUpdate(&d.ObjectMeta, &old.ObjectMeta)
	s := &d.Status
	errs = append(errs, nonNegative(s.ObservedGeneration, statusPath.Child("observedGeneration"))...)
	errs = append(errs, replicaCounts(s.Replicas, []replicaCount{
		{"updatedReplicas", s.UpdatedReplicas}, {"readyReplicas", s.ReadyReplicas}, {"availableReplicas", s.AvailableReplicas},
	}, s.ReadyReplicas, s.AvailableReplicas)...)
	errs = append(errs, nonNegative(int64(s.UnavailableReplicas), statusPath.Child("unavailableReplicas"))...)
	errs = append(errs, nonNegativePtr(s.TerminatingReplicas, statusPath.Child("terminatingReplicas"))...)
	return append(errs, collisionCount(s.CollisionCount, old.Status.CollisionCount)...)
}

func (v Validator) validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := v.objectMeta(&rs.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, validateReplicaSetSpec(&rs.Spec)...)
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec) field.ErrorList {
	errs := nonNegativePtr(spec.Replicas, specPath.Child("replicas"))
	errs = append(errs, nonNegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	// kube-apiserver words the empty-selector error for Deployments here too.
	return append(errs, validateReplicatedTemplate(spec.Selector, &spec.Template, "deployment", "ReplicaSet")...)
}

func (v Validator) validateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := objectMetaUpdate(&rs.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, immutable(rs.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
	return append(errs, validateReplicaSetSpec(&rs.Spec)...)
}

func validateReplicaSetStatusUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := objectMetaUpdate(&rs.ObjectMeta, &old.ObjectMeta)
	s := &rs.Status
	errs = append(errs, nonNegative(s.ObservedGeneration, statusPath.Child("observedGeneration"))...)
	errs = append(errs, nonNegativePtr(s.TerminatingReplicas, statusPath.Child("terminatingReplicas"))...)
	return append(errs, replicaCounts(s.Replicas, []replicaCount{
		{"fullyLabeledReplicas", s.FullyLabeledReplicas}, {"readyReplicas", s.ReadyReplicas}, {"availableReplicas", s.AvailableReplicas},
	}, s.ReadyReplicas, s.AvailableReplicas)...)
}

type replicaCount struct {
	name  string
	value int32
}

// replicaCounts checks the counters of a workload's status: none negative,
// none above status.replicas, no more available than ready.
func replicaCounts(replicas int32, counts []replicaCount, ready, available int32) field.ErrorList {
	errs := nonNegative(int64(replicas), statusPath.Child("replicas"))
	for _, c := range counts {
		errs = append(errs, nonNegative(int64(c.value), statusPath.Child(c.name))...)
		if c.value > replicas {
			errs = append(errs, field.Invalid(statusPath.Child(c.name), c.value, "cannot be greater than status.replicas"))
		}
	}
	if available > ready {
		errs = append(errs, field.Invalid(statusPath.Child("availableReplicas"), available, "cannot be greater than readyReplicas"))
	}
	return errs
}

func collisionCount(count, old *int32) field.ErrorList {
	errs := nonNegativePtr(count, statusPath.Child("collisionCount"))
	if old != nil && (count == nil || *count < *old) {
		value := int32(0)
		if count != nil {
			value = *count
		}
		errs = append(errs, field.Invalid(statusPath.Child("collisionCount"), value, "cannot be decremented"))
	}
	return errs
}
