package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits of event fields.
const (
	reportingInstanceLengthLimit = 128
	actionLengthLimit            = 128
	reasonLengthLimit            = 128
	noteLengthLimit              = 1024
)

// eventFields are the parts of an Event that both event APIs have, with
// the names each API gives them.
type eventFields struct {
	namespace, objectNamespace                    string
	eventTime                                     metav1.MicroTime
	controller, instance, action, reason, message string
	objectNamespacePath, controllerPath           *field.Path
	messagePath                                   *field.Path
}

func coreEventFields(e *corev1.Event) eventFields {
	return eventFields{
		namespace: e.Namespace, objectNamespace: e.InvolvedObject.Namespace, eventTime: e.EventTime,
		controller: e.ReportingController, instance: e.ReportingInstance, action: e.Action, reason: e.Reason, message: e.Message,
		objectNamespacePath: field.NewPath("involvedObject", "namespace"),
		controllerPath:      field.NewPath("reportingComponent"),
		messagePath:         field.NewPath("message"),
	}
}

func eventsV1Fields(e *eventsv1.Event) eventFields {
	return eventFields{
		namespace: e.Namespace, objectNamespace: e.Regarding.Namespace, eventTime: e.EventTime,
		controller: e.ReportingController, instance: e.ReportingInstance, action: e.Action, reason: e.Reason, message: e.Note,
		objectNamespacePath: field.NewPath("regarding", "namespace"),
		controllerPath:      field.NewPath("reportingController"),
		messagePath:         field.NewPath("note"),
	}
}

// legacyEventChecks are the checks every event passes, through either API.
// Old-style events (no eventTime) need only a namespace consistent with
// their object; new-style ones name their reporter, action and reason.
func legacyEventChecks(e eventFields) field.ErrorList {
	var errs field.ErrorList
	mismatch := field.Invalid(e.objectNamespacePath, e.objectNamespace, "does not match event.namespace")
	if e.eventTime.IsZero() {
		if e.objectNamespace == "" {
			if e.namespace != metav1.NamespaceNone && e.namespace != metav1.NamespaceDefault {
				errs = append(errs, mismatch)
			}
		} else if e.namespace != e.objectNamespace {
			errs = append(errs, mismatch)
		}
		return errs
	}
	if e.objectNamespace == "" && e.namespace != metav1.NamespaceDefault && e.namespace != metav1.NamespaceSystem {
		errs = append(errs, mismatch)
	}
	if e.controller == "" {
		errs = append(errs, field.Required(e.controllerPath, ""))
	}
	errs = append(errs, qualifiedName(e.controller, e.controllerPath)...)
	for _, f := range []struct {
		value string
		path  *field.Path
		limit int
	}{
		{e.instance, field.NewPath("reportingInstance"), reportingInstanceLengthLimit},
		{e.action, field.NewPath("action"), actionLengthLimit},
		{e.reason, field.NewPath("reason"), reasonLengthLimit},
	} {
		if f.value == "" {
			errs = append(errs, field.Required(f.path, ""))
		}
		if len(f.value) > f.limit {
			errs = append(errs, field.Invalid(f.path, "", fmt.Sprintf("can have at most %v characters", f.limit)))
		}
	}
	if len(e.message) > noteLengthLimit {
		errs = append(errs, field.Invalid(e.messagePath, "", fmt.Sprintf("can have at most %v characters", noteLengthLimit)))
	}
	return errs
}

// validateCoreEvent checks a v1 Event. The core API keeps the lenient
// checks of its first version for the clients that still use it.
func (v Validator) validateCoreEvent(e *corev1.Event) field.ErrorList {
	errs := v.objectMeta(&e.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, legacyEventChecks(coreEventFields(e))...)
}

func (v Validator) validateCoreEventUpdate(e, old *corev1.Event) field.ErrorList {
	errs := objectMetaUpdate(&e.ObjectMeta, &old.ObjectMeta)
	return append(errs, legacyEventChecks(coreEventFields(e))...)
}

// validateEventsEvent checks an events.k8s.io/v1 Event, which must be a
// new-style event with none of the deprecated fields.
func (v Validator) validateEventsEvent(e *eventsv1.Event) field.ErrorList {
	errs := v.objectMeta(&e.ObjectMeta, true, nameIsDNSSubdomain)
	errs = append(errs, legacyEventChecks(eventsV1Fields(e))...)
	errs = append(errs, eventSeries(e.Series)...)
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
		errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
	}
	for _, f := range []setField{
		{"deprecatedFirstTimestamp", !e.DeprecatedFirstTimestamp.IsZero()},
		{"deprecatedLastTimestamp", !e.DeprecatedLastTimestamp.IsZero()},
		{"deprecatedCount", e.DeprecatedCount != 0},
		{"deprecatedSource", e.DeprecatedSource != (corev1.EventSource{})},
	} {
		if f.set {
			errs = append(errs, field.Invalid(field.NewPath(f.name), "", "needs to be unset"))
		}
	}
	return errs
}

func eventSeries(s *eventsv1.EventSeries) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	if s.Count < 2 {
		errs = append(errs, field.Invalid(field.NewPath("series", "count"), "", "should be at least 2"))
	}
	if s.LastObservedTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("series", "lastObservedTime"), ""))
	}
	return errs
}

// validateEventsEventUpdate lets an event's series grow and nothing else
// change.
func (v Validator) validateEventsEventUpdate(e, old *eventsv1.Event) field.ErrorList {
	errs := objectMetaUpdate(&e.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, legacyEventChecks(eventsV1Fields(e))...)
	if !apiequality.Semantic.DeepEqual(e.Series, old.Series) {
		errs = append(errs, eventSeries(e.Series)...)
	}
	for _, f := range []struct {
		name       string
		value, old any
	}{
		{"regarding", e.Regarding, old.Regarding}, {"related", e.Related, old.Related},
		{"reason", e.Reason, old.Reason}, {"note", e.Note, old.Note}, {"type", e.Type, old.Type},
		{"eventTime", e.EventTime, old.EventTime}, {"action", e.Action, old.Action},
		{"reportingController", e.ReportingController, old.ReportingController},
		{"reportingInstance", e.ReportingInstance, old.ReportingInstance},
		{"deprecatedSource", e.DeprecatedSource, old.DeprecatedSource},
		{"deprecatedFirstTimestamp", e.DeprecatedFirstTimestamp, old.DeprecatedFirstTimestamp},
		{"deprecatedLastTimestamp", e.DeprecatedLastTimestamp, old.DeprecatedLastTimestamp},
		{"deprecatedCount", e.DeprecatedCount, old.DeprecatedCount},
	} {
		errs = append(errs, immutable(f.value, f.old, field.NewPath(f.name))...)
	}
	return errs
}
