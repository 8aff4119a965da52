package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestObserveMovesHeardAtOnlyOnNews(t *testing.T) {
	prev := probe{renewed: t0, heartbeat: t0, heardAt: t0}
	later := t0.Add(30 * time.Second)
	for _, tc := range []struct {
		name               string
		known              bool
		renewed, heartbeat time.Time
		want               time.Time
	}{
		{"first look counts as heard now", false, t0, t0, later},
		{"nothing new keeps the old time", true, t0, t0, t0},
		{"a lease renewal is news", true, t0.Add(time.Second), t0, later},
		{"a status heartbeat is news", true, t0, t0.Add(time.Second), later},
		{"a lease that went away is news", true, time.Time{}, t0, later},
	} {
		if got := observe(prev, tc.known, tc.renewed, tc.heartbeat, later); !got.heardAt.Equal(tc.want) {
			t.Errorf("%s: heardAt = %v, want %v", tc.name, got.heardAt, tc.want)
		}
	}
	if d := (probe{heardAt: t0}).deadline(40 * time.Second); !d.Equal(t0.Add(40 * time.Second)) {
		t.Errorf("deadline = %v", d)
	}
}

func TestUnknownConditions(t *testing.T) {
	created, now := metav1.NewTime(t0.Add(-time.Hour)), metav1.NewTime(t0)
	beat := metav1.NewTime(t0.Add(-time.Minute))
	cond := func(ty corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: ty, Status: s, Reason: "KubeletSays", LastHeartbeatTime: beat, LastTransitionTime: created}
	}
	healthy := []corev1.NodeCondition{
		cond(corev1.NodeMemoryPressure, corev1.ConditionFalse),
		cond(corev1.NodeDiskPressure, corev1.ConditionFalse),
		cond(corev1.NodePIDPressure, corev1.ConditionFalse),
		cond(corev1.NodeReady, corev1.ConditionTrue),
		cond(corev1.NodeNetworkUnavailable, corev1.ConditionFalse),
	}
	t.Run("a node that went quiet", func(t *testing.T) {
		got, changed := unknownConditions(healthy, created, now)
		if !changed || len(got) != len(healthy) {
			t.Fatalf("changed=%v, %d conditions", changed, len(got))
		}
		for _, c := range got {
			if c.Type == corev1.NodeNetworkUnavailable {
				if c.Status != corev1.ConditionFalse {
					t.Errorf("NetworkUnavailable is not the kubelet's to report, got %s", c.Status)
				}
				continue
			}
			if c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." {
				t.Errorf("%s = %s/%s/%q", c.Type, c.Status, c.Reason, c.Message)
			}
			if !c.LastHeartbeatTime.Equal(&beat) || !c.LastTransitionTime.Equal(&now) {
				t.Errorf("%s keeps the heartbeat and transitions now: %v, %v", c.Type, c.LastHeartbeatTime, c.LastTransitionTime)
			}
		}
		if healthy[3].Status != corev1.ConditionTrue {
			t.Error("the input was modified")
		}
	})
	t.Run("already unknown is left alone", func(t *testing.T) {
		quiet, _ := unknownConditions(healthy, created, now)
		got, changed := unknownConditions(quiet, created, metav1.NewTime(t0.Add(time.Hour)))
		if changed {
			t.Fatal("a second pass changed something")
		}
		if !got[3].LastTransitionTime.Equal(&now) {
			t.Error("the transition time moved")
		}
	})
	t.Run("a kubelet that never posted", func(t *testing.T) {
		got, changed := unknownConditions(nil, created, now)
		if !changed || len(got) != len(kubeletConditions) {
			t.Fatalf("changed=%v, got %v", changed, got)
		}
		for _, c := range got {
			if c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusNeverUpdated" || c.Message != "Kubelet never posted node status." || !c.LastHeartbeatTime.Equal(&created) {
				t.Errorf("%s = %+v", c.Type, c)
			}
		}
	})
}

func TestReadiness(t *testing.T) {
	for _, tc := range []struct {
		conds   []corev1.NodeCondition
		unready bool
	}{
		{nil, false},
		{[]corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}, false},
		{[]corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}, true},
		{[]corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}, true},
		{[]corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue}}, false},
	} {
		if got := unready(&corev1.Node{Status: corev1.NodeStatus{Conditions: tc.conds}}); got != tc.unready {
			t.Errorf("unready(%v) = %v", tc.conds, got)
		}
	}
}

func TestPodNotReady(t *testing.T) {
	now := metav1.NewTime(t0)
	for _, tc := range []struct {
		name    string
		conds   []corev1.PodCondition
		changed bool
	}{
		{"ready pod turns not ready", []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}}, true},
		{"not ready stays", []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}, false},
		{"no Ready condition yet", []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}, false},
	} {
		in := corev1.PodStatus{Conditions: tc.conds}
		got, changed := podNotReady(in, now)
		if changed != tc.changed {
			t.Errorf("%s: changed = %v", tc.name, changed)
		}
		for _, c := range got.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
				t.Errorf("%s: Ready = %s", tc.name, c.Status)
			}
			if c.Type == corev1.PodReady && changed && !c.LastTransitionTime.Equal(&now) {
				t.Errorf("%s: transition time %v", tc.name, c.LastTransitionTime)
			}
		}
		if tc.changed && in.Conditions[1].Status != corev1.ConditionTrue {
			t.Errorf("%s: the input was modified", tc.name)
		}
	}
}
