package validation

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var eventTime = metav1.MicroTime{Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}

func TestCoreEvent(t *testing.T) {
	legacy := func() *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "web-0.17a8b2c3d4e5f607", Namespace: "shop", ResourceVersion: "3"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-0"},
			Reason:         "Scheduled", Message: "Successfully assigned shop/web-0 to node-1", Type: corev1.EventTypeNormal,
			Source: corev1.EventSource{Component: "default-scheduler"}, Count: 1,
		}
	}
	runCases(t, legacy, func(e *corev1.Event) field.ErrorList { return Validate(e) }, []errCase[*corev1.Event]{
		{"object in another namespace", func(e *corev1.Event) { e.InvolvedObject.Namespace = "other" }, "involvedObject.namespace", invalid, "does not match event.namespace"},
		{"cluster object outside default", func(e *corev1.Event) { e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "node-1"} },
			"involvedObject.namespace", invalid, ""},
		{"new-style without reporter", func(e *corev1.Event) { e.EventTime = eventTime; e.Action = "Binding"; e.ReportingInstance = "sched-1" },
			"reportingComponent", required, ""},
		{"new-style without action", func(e *corev1.Event) {
			e.EventTime = eventTime
			e.ReportingController, e.ReportingInstance = "example.com/scheduler", "sched-1"
		}, "action", required, ""},
		{"new-style long message", func(e *corev1.Event) {
			e.EventTime = eventTime
			e.ReportingController, e.ReportingInstance, e.Action = "example.com/scheduler", "sched-1", "Binding"
			e.Message = strings.Repeat("m", 1025)
		}, "message", invalid, "can have at most 1024 characters"},
	})
	nodeEvent := legacy()
	nodeEvent.Namespace = "default"
	nodeEvent.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "node-1"}
	expectValid(t, Validate(nodeEvent))
}

func validEventsV1() *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0.17a8b2c3d4e5f607", Namespace: "shop", ResourceVersion: "8"},
		EventTime:  eventTime, ReportingController: "berth.io/kubelet", ReportingInstance: "node-1",
		Action: "Pulling", Reason: "Pulling", Note: "Pulling image", Type: corev1.EventTypeNormal,
		Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-0"},
	}
}

func TestEventsV1Event(t *testing.T) {
	runCases(t, validEventsV1, func(e *eventsv1.Event) field.ErrorList { return Validate(e) }, []errCase[*eventsv1.Event]{
		{"type", func(e *eventsv1.Event) { e.Type = "Info" }, "type", invalid, "has invalid value: Info"},
		{"no event time", func(e *eventsv1.Event) { e.EventTime = metav1.MicroTime{} }, "eventTime", required, ""},
		{"no reason", func(e *eventsv1.Event) { e.Reason = "" }, "reason", required, ""},
		{"reporter not qualified", func(e *eventsv1.Event) { e.ReportingController = "kube let" }, "reportingController", invalid, ""},
		{"deprecated count", func(e *eventsv1.Event) { e.DeprecatedCount = 3 }, "deprecatedCount", invalid, "needs to be unset"},
		{"series count", func(e *eventsv1.Event) { e.Series = &eventsv1.EventSeries{Count: 1, LastObservedTime: eventTime} }, "series.count", invalid, "should be at least 2"},
		{"regarding namespace", func(e *eventsv1.Event) { e.Regarding.Namespace = "" }, "regarding.namespace", invalid, "does not match event.namespace"},
		{"name", func(e *eventsv1.Event) { e.Name = "Web" }, "metadata.name", invalid, ""},
	})
	old := validEventsV1()
	repeated := old.DeepCopy()
	repeated.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: eventTime}
	expectValid(t, ValidateUpdate(repeated, old))
	repeated.Note = "changed"
	expectError(t, ValidateUpdate(repeated, old), "note", invalid, "field is immutable")
}

func TestCoreEventUpdate(t *testing.T) {
	old := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: "shop", ResourceVersion: "1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "shop", Name: "web-0"}, Reason: "BackOff", Count: 1}
	e := old.DeepCopy()
	e.Count = 5
	expectValid(t, ValidateUpdate(e, old))
	e.Namespace = "other"
	expectError(t, ValidateUpdate(e, old), "metadata.namespace", invalid, "field is immutable")
}
