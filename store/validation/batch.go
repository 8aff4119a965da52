package validation

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Unprefixed twins of the labels a generated Job selector relies on.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

const (
	maxParallelismForIndexedJob = 100000
	maxManagedByLength          = 63
)

var supportedCompletionModes = []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}

func (v Validator) validateJob(job *batchv1.Job) field.ErrorList {
	errs := v.objectMeta(&job.ObjectMeta, true, nameIsDNSSubdomain)
	errs = append(errs, v.generatedSelector(job)...)
	errs = append(errs, validateJobSpec(&job.Spec, v.selectorPending(job))...)
	if mode := job.Spec.CompletionMode; mode != nil && *mode == batchv1.IndexedCompletion && ptr.Deref(job.Spec.Completions, 0) > 0 {
		// Pods of an Indexed Job are named <job>-<index> and need that as a hostname.
		hostname := fmt.Sprintf("%s-%d", job.Name, *job.Spec.Completions-1)
		if len(validation.IsDNS1123Label(hostname)) > 0 {
			errs = append(errs, field.Invalid(metadataPath.Child("name"), job.Name,
				fmt.Sprintf("will not able to create pod with invalid DNS label: %s", hostname)))
		}
	}
	return errs
}

func manualSelector(job *batchv1.Job) bool {
	return ptr.Deref(job.Spec.ManualSelector, false)
}

// generatedSelector checks the selector the API server generated for a Job
// that did not ask for a manual one: the pod template carries the Job's
// name and UID labels and the selector picks exactly those pods. In a
// manifest the UID labels are still to be generated, so a selector written
// there may only pick the Job's name labels.
func (v Validator) generatedSelector(job *batchv1.Job) field.ErrorList {
	if manualSelector(job) || job.Spec.Selector == nil {
		return nil
	}
	selPath := specPath.Child("selector")
	notGenerated := field.Invalid(selPath, job.Spec.Selector, "`selector` not auto-generated")
	expected := map[string]string{legacyJobNameLabel: job.Name, batchv1.JobNameLabel: job.Name}
	sel, selErr := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if v.selectorPending(job) {
		if selErr == nil && (selectsUID(sel) || !sel.Matches(labels.Set(expected))) {
			return field.ErrorList{notGenerated}
		}
		return nil
	}
	var errs field.ErrorList
	if job.UID == "" {
		errs = append(errs, field.Required(metadataPath.Child("uid"), ""))
	}
	expected[legacyControllerUIDLabel] = string(job.UID)
	expected[batchv1.ControllerUidLabel] = string(job.UID)
	labelsPath := specPath.Child("template", "metadata", "labels")
	for _, key := range []string{legacyControllerUIDLabel, legacyJobNameLabel, batchv1.ControllerUidLabel, batchv1.JobNameLabel} {
		actual, found := job.Spec.Template.Labels[key]
		switch {
		case !found:
			errs = append(errs, field.Required(labelsPath.Key(key), fmt.Sprintf("must be '%s'", expected[key])))
		case actual != expected[key]:
			errs = append(errs, field.Invalid(labelsPath.Key(key), job.Spec.Template.Labels, fmt.Sprintf("must be '%s'", expected[key])))
		}
	}
	if selErr == nil && !sel.Matches(labels.Set(expected)) {
		errs = append(errs, notGenerated)
	}
	return errs
}

// selectorPending reports a Job in a manifest whose selector and pod labels
// the API server will generate from the UID it does not have yet.
func (v Validator) selectorPending(job *batchv1.Job) bool {
	return v.Manifest && !manualSelector(job) && job.UID == ""
}

// selectsUID reports a selector that requires a controller-uid label.
func selectsUID(sel labels.Selector) bool {
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		if r.Key() == legacyControllerUIDLabel || r.Key() == batchv1.ControllerUidLabel {
			return true
		}
	}
	return false
}

// validateJobSpec checks a Job's spec; selectorPending skips the selector
// checks of a manifest whose selector is still to be generated.
func validateJobSpec(spec *batchv1.JobSpec, selectorPending bool) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, nonNegativePtr(spec.Parallelism, specPath.Child("parallelism"))...)
	errs = append(errs, nonNegativePtr(spec.Completions, specPath.Child("completions"))...)
	errs = append(errs, nonNegativePtr(spec.ActiveDeadlineSeconds, specPath.Child("activeDeadlineSeconds"))...)
	errs = append(errs, nonNegativePtr(spec.BackoffLimit, specPath.Child("backoffLimit"))...)
	errs = append(errs, nonNegativePtr(spec.TTLSecondsAfterFinished, specPath.Child("ttlSecondsAfterFinished"))...)
	errs = append(errs, nonNegativePtr(spec.BackoffLimitPerIndex, specPath.Child("backoffLimitPerIndex"))...)
	errs = append(errs, nonNegativePtr(spec.MaxFailedIndexes, specPath.Child("maxFailedIndexes"))...)
	if spec.MaxFailedIndexes != nil && spec.BackoffLimitPerIndex == nil {
		errs = append(errs, field.Required(specPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
	}
	if m := spec.ManagedBy; m != nil {
		errs = append(errs, validation.IsDomainPrefixedPath(specPath.Child("managedBy"), *m)...)
		if len(*m) > maxManagedByLength {
			errs = append(errs, field.TooLongMaxLength(specPath.Child("managedBy"), *m, maxManagedByLength))
		}
	}
	indexed := ptr.Deref(spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	if spec.CompletionMode != nil {
		errs = append(errs, oneOf(*spec.CompletionMode, supportedCompletionModes, specPath.Child("completionMode"))...)
	}
	if indexed {
		if spec.Completions == nil {
			errs = append(errs, field.Required(specPath.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
		}
		if p := spec.Parallelism; p != nil && *p > maxParallelismForIndexedJob {
			errs = append(errs, field.Invalid(specPath.Child("parallelism"), *p,
				fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexedJob, batchv1.IndexedCompletion)))
		}
		if spec.Completions != nil && spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > *spec.Completions {
			errs = append(errs, field.Invalid(specPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "must be less than or equal to completions"))
		}
	} else {
		if spec.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(specPath.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(specPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
		if spec.SuccessPolicy != nil {
			errs = append(errs, field.Invalid(specPath.Child("successPolicy"), *spec.SuccessPolicy, "requires indexed completion mode"))
		}
	}
	if r := spec.PodReplacementPolicy; r != nil {
		supported := []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}
		if spec.PodFailurePolicy != nil {
			supported = []batchv1.PodReplacementPolicy{batchv1.Failed}
		}
		errs = append(errs, oneOf(*r, supported, specPath.Child("podReplacementPolicy"))...)
	}
	if !selectorPending {
		errs = append(errs, jobSelector(spec)...)
	}
	tmplPath := specPath.Child("template")
	errs = append(errs, validatePodTemplateSpec(&spec.Template, tmplPath)...)
	restart := tmplPath.Child("spec", "restartPolicy")
	switch policy := spec.Template.Spec.RestartPolicy; {
	case policy == corev1.RestartPolicyAlways || policy == "":
		errs = append(errs, field.Required(restart, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case policy != corev1.RestartPolicyOnFailure && policy != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(restart, policy, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case spec.PodFailurePolicy != nil && policy != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(restart, policy, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

// jobSelector requires a selector that matches the pod template.
func jobSelector(spec *batchv1.JobSpec) field.ErrorList {
	selPath := specPath.Child("selector")
	if spec.Selector == nil {
		return field.ErrorList{field.Required(selPath, "")}
	}
	errs := metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, selPath)
	if sel, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !sel.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), spec.Template.Labels, selectorMismatchMsg))
	}
	return errs
}

// validateJobUpdate keeps a started Job's pods, selector and completion
// settings fixed; a suspended Job that never ran may still change where its
// pods are scheduled.
func (v Validator) validateJobUpdate(job, old *batchv1.Job) field.ErrorList {
	errs := objectMetaUpdate(&job.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateJobSpec(&job.Spec, v.selectorPending(job))...)
	errs = append(errs, jobCompletionsUpdate(&job.Spec, &old.Spec)...)
	errs = append(errs, immutable(job.Spec.Selector, old.Spec.Selector, specPath.Child("selector"))...)
	oldTemplate := &old.Spec.Template
	if ptr.Deref(old.Spec.Suspend, false) && old.Status.StartTime == nil {
		oldTemplate = withSchedulingDirectivesOf(oldTemplate, &job.Spec.Template)
	}
	errs = append(errs, immutable(job.Spec.Template, *oldTemplate, specPath.Child("template"))...)
	errs = append(errs, immutable(job.Spec.CompletionMode, old.Spec.CompletionMode, specPath.Child("completionMode"))...)
	errs = append(errs, immutable(job.Spec.PodFailurePolicy, old.Spec.PodFailurePolicy, specPath.Child("podFailurePolicy"))...)
	errs = append(errs, immutable(job.Spec.BackoffLimitPerIndex, old.Spec.BackoffLimitPerIndex, specPath.Child("backoffLimitPerIndex"))...)
	errs = append(errs, immutable(job.Spec.ManagedBy, old.Spec.ManagedBy, specPath.Child("managedBy"))...)
	return append(errs, immutable(job.Spec.SuccessPolicy, old.Spec.SuccessPolicy, specPath.Child("successPolicy"))...)
}

// withSchedulingDirectivesOf returns a copy of old with the fields that
// decide where pods run (node affinity and selector, tolerations, labels,
// annotations, scheduling gates) taken from updated.
func withSchedulingDirectivesOf(old, updated *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	merged := old.DeepCopy()
	switch {
	case updated.Spec.Affinity == nil && merged.Spec.Affinity != nil:
		merged.Spec.Affinity.NodeAffinity = nil
		if *merged.Spec.Affinity == (corev1.Affinity{}) {
			merged.Spec.Affinity = nil
		}
	case updated.Spec.Affinity != nil && merged.Spec.Affinity == nil:
		merged.Spec.Affinity = &corev1.Affinity{NodeAffinity: updated.Spec.Affinity.NodeAffinity}
	case updated.Spec.Affinity != nil:
		merged.Spec.Affinity.NodeAffinity = updated.Spec.Affinity.NodeAffinity
	}
	merged.Spec.NodeSelector = updated.Spec.NodeSelector
	merged.Spec.Tolerations = updated.Spec.Tolerations
	merged.Spec.SchedulingGates = updated.Spec.SchedulingGates
	merged.Labels = updated.Labels
	merged.Annotations = updated.Annotations
	return merged
}

// jobCompletionsUpdate keeps completions fixed, except that an Indexed Job
// may scale completions together with parallelism.
func jobCompletionsUpdate(spec, old *batchv1.JobSpec) field.ErrorList {
	p := specPath.Child("completions")
	indexed := ptr.Deref(spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	if !indexed {
		return immutable(spec.Completions, old.Completions, p)
	}
	if apiequality.Semantic.DeepEqual(spec.Completions, old.Completions) || spec.Completions == nil {
		return nil
	}
	if spec.Parallelism == nil || *spec.Completions != *spec.Parallelism {
		return field.ErrorList{field.Invalid(p, *spec.Completions, "can only be modified in tandem with spec.parallelism")}
	}
	return nil
}

func validateJobStatusUpdate(job, old *batchv1.Job) field.ErrorList {
	errs := objectMetaUpdate(&job.ObjectMeta, &old.ObjectMeta)
	s := &job.Status
	errs = append(errs, nonNegative(int64(s.Active), statusPath.Child("active"))...)
	errs = append(errs, nonNegative(int64(s.Succeeded), statusPath.Child("succeeded"))...)
	errs = append(errs, nonNegative(int64(s.Failed), statusPath.Child("failed"))...)
	errs = append(errs, nonNegativePtr(s.Ready, statusPath.Child("ready"))...)
	errs = append(errs, nonNegativePtr(s.Terminating, statusPath.Child("terminating"))...)
	if s.Ready != nil && *s.Ready > s.Active {
		errs = append(errs, field.Invalid(statusPath.Child("ready"), *s.Ready, "cannot set more ready pods than active"))
	}
	if s.Failed < old.Status.Failed {
		errs = append(errs, field.Invalid(statusPath.Child("failed"), s.Failed, "cannot decrease the failed counter"))
	}
	if s.Succeeded < old.Status.Succeeded {
		errs = append(errs, field.Invalid(statusPath.Child("succeeded"), s.Succeeded, "cannot decrease the succeeded counter"))
	}
	for _, terminal := range []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobComplete, batchv1.JobFailureTarget} {
		if jobCondition(old.Status.Conditions, terminal) && !jobCondition(s.Conditions, terminal) {
			errs = append(errs, field.Invalid(statusPath.Child("conditions"), field.OmitValueType{},
				fmt.Sprintf("cannot disable the terminal %s=True condition", terminal)))
		}
	}
	if s.CompletionTime != nil && old.Status.CompletionTime != nil && !s.CompletionTime.Equal(old.Status.CompletionTime) {
		errs = append(errs, field.Invalid(statusPath.Child("completionTime"), s.CompletionTime, "completionTime cannot be mutated"))
	}
	return errs
}

func jobCondition(conditions []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
