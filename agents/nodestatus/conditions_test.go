package nodestatus

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestConditionsFollowHealth(t *testing.T) {
	type want map[corev1.NodeConditionType]string // type → status/reason
	for _, tc := range []struct {
		name   string
		health Health
		want   want
	}{
		{"healthy", Health{}, want{
			corev1.NodeMemoryPressure: "False/KubeletHasSufficientMemory", corev1.NodeDiskPressure: "False/KubeletHasNoDiskPressure",
			corev1.NodePIDPressure: "False/KubeletHasSufficientPID", corev1.NodeReady: "True/KubeletReady"}},
		{"memory pressure alone leaves the node ready", Health{MemoryPressure: true}, want{
			corev1.NodeMemoryPressure: "True/KubeletHasInsufficientMemory", corev1.NodeReady: "True/KubeletReady"}},
		{"disk and pid pressure", Health{DiskPressure: true, PIDPressure: true}, want{
			corev1.NodeDiskPressure: "True/KubeletHasDiskPressure", corev1.NodePIDPressure: "True/KubeletHasInsufficientPID"}},
		{"not ready says why", Health{NotReadyReason: "ContainerRuntimeDown", NotReadyMessage: "containerd: connection refused"}, want{
			corev1.NodeReady: "False/ContainerRuntimeDown", corev1.NodeMemoryPressure: "False/KubeletHasSufficientMemory"}},
	} {
		got := Conditions(tc.health, nil, t0)
		if len(got) != 4 || got[3].Type != corev1.NodeReady {
			t.Fatalf("%s: conditions %+v, want 4 ending with Ready", tc.name, got)
		}
		for _, c := range got {
			if w, ok := tc.want[c.Type]; ok && string(c.Status)+"/"+c.Reason != w {
				t.Errorf("%s: %s is %s/%s, want %s", tc.name, c.Type, c.Status, c.Reason, w)
			}
			if c.Message == "" || !c.LastHeartbeatTime.Time.Equal(t0) {
				t.Errorf("%s: %s has no message or an old heartbeat: %+v", tc.name, c.Type, c)
			}
		}
	}
	if got := Conditions(Health{NotReadyReason: "X", NotReadyMessage: "why"}, nil, t0)[3].Message; got != "why" {
		t.Errorf("not-ready message %q, want the one given", got)
	}
}

func TestConditionsKeepTransitionTimesWhileTheStatusHolds(t *testing.T) {
	earlier := metav1.NewTime(t0.Add(-time.Hour))
	current := []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, LastTransitionTime: earlier},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastTransitionTime: earlier},
	}
	got := Conditions(Health{}, current, t0)
	want := map[corev1.NodeConditionType]struct {
		status     corev1.ConditionStatus
		transition time.Time
	}{
		corev1.NodeReady:          {corev1.ConditionTrue, t0}, // Unknown → True is a transition
		corev1.NodeMemoryPressure: {corev1.ConditionFalse, earlier.Time},
		corev1.NodeDiskPressure:   {corev1.ConditionFalse, t0},
		corev1.NodePIDPressure:    {corev1.ConditionFalse, t0},
	}
	if len(got) != len(want) {
		t.Fatalf("%d conditions, want %d", len(got), len(want))
	}
	for _, c := range got {
		w := want[c.Type]
		if c.Status != w.status || !c.LastTransitionTime.Time.Equal(w.transition) || !c.LastHeartbeatTime.Time.Equal(t0) || c.Reason == "" {
			t.Errorf("%s: %+v, want status %s since %v, heartbeat now", c.Type, c, w.status, w.transition)
		}
	}
}

func TestStatusPatchSendsConditionsOnlyForAHeartbeat(t *testing.T) {
	st := corev1.NodeStatus{
		Conditions: Conditions(Health{}, nil, t0),
		Capacity:   corev1.ResourceList{corev1.ResourcePods: *resourcePods(110)},
	}
	var heartbeat, full map[string]map[string]json.RawMessage
	if err := json.Unmarshal(StatusPatch(st, false), &heartbeat); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(StatusPatch(st, true), &full); err != nil {
		t.Fatal(err)
	}
	if len(heartbeat["status"]) != 1 || heartbeat["status"]["conditions"] == nil {
		t.Errorf("heartbeat patch %s, want status.conditions only", StatusPatch(st, false))
	}
	if full["status"]["capacity"] == nil || full["status"]["conditions"] == nil {
		t.Errorf("full patch %s lacks the capacity or conditions", StatusPatch(st, true))
	}
}

func TestIsReady(t *testing.T) {
	for _, tc := range []struct {
		conditions []corev1.NodeCondition
		want       bool
	}{
		{nil, false},
		{Conditions(Health{}, nil, t0), true},
		{Conditions(Health{NotReadyReason: "Down"}, nil, t0), false},
		{[]corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}, false},
	} {
		if got := IsReady(&corev1.Node{Status: corev1.NodeStatus{Conditions: tc.conditions}}); got != tc.want {
			t.Errorf("IsReady(%+v) = %v, want %v", tc.conditions, got, tc.want)
		}
	}
}
