package nodelifecycle

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEvictionDeadline(t *testing.T) {
	added := metav1.NewTime(t0)
	untimedStart := t0.Add(time.Hour)
	secs := func(n int64) *int64 { return &n }
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	untimed := corev1.Taint{Key: "maintenance", Effect: corev1.TaintEffectNoExecute}
	noSchedule := corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}
	tolerate := func(key string, s *int64) corev1.Toleration {
		return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: s}
	}
	defaults := []corev1.Toleration{tolerate(corev1.TaintNodeNotReady, secs(300)), tolerate(corev1.TaintNodeUnreachable, secs(300))}
	for _, tc := range []struct {
		name        string
		tolerations []corev1.Toleration
		taints      []corev1.Taint
		want        time.Time // zero: at once
		evict       bool
	}{
		{"no taints: stay", defaults, nil, time.Time{}, false},
		{"only NoSchedule taints: stay", nil, []corev1.Taint{noSchedule}, time.Time{}, false},
		{"default tolerations: 300 s after the taint", defaults, []corev1.Taint{unreachable}, t0.Add(300 * time.Second), true},
		{"no toleration: at once", nil, []corev1.Taint{unreachable}, time.Time{}, true},
		{"one untolerated taint among tolerated ones: at once", defaults, []corev1.Taint{unreachable, untimed}, time.Time{}, true},
		{"toleration without seconds: for ever", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil)}, []corev1.Taint{unreachable}, time.Time{}, false},
		{"the shortest matching toleration wins", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, nil), tolerate("", secs(5)), tolerate(corev1.TaintNodeUnreachable, secs(60))}, []corev1.Taint{unreachable}, t0.Add(5 * time.Second), true},
		{"the earliest taint deadline wins", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, secs(10)), tolerate(corev1.TaintNodeNotReady, secs(3))}, []corev1.Taint{unreachable, notReady}, t0.Add(3 * time.Second), true},
		{"negative seconds count as zero", []corev1.Toleration{tolerate(corev1.TaintNodeUnreachable, secs(-7))}, []corev1.Taint{unreachable}, t0, true},
		{"an untimed taint counts from when it was first seen", []corev1.Toleration{tolerate("maintenance", secs(30))}, []corev1.Taint{untimed}, untimedStart.Add(30 * time.Second), true},
		{"a value mismatch does not tolerate", []corev1.Toleration{{Key: "maintenance", Value: "x", Effect: corev1.TaintEffectNoExecute}}, []corev1.Taint{untimed}, time.Time{}, true},
		{"an empty-effect toleration matches NoExecute", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists}}, []corev1.Taint{unreachable}, time.Time{}, false},
		{"a NoSchedule toleration does not", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}, []corev1.Taint{unreachable}, time.Time{}, true},
	} {
		got, evict := evictionDeadline(tc.tolerations, tc.taints, func(corev1.Taint) time.Time { return untimedStart })
		if evict != tc.evict || !got.Equal(tc.want) {
			t.Errorf("%s: deadline %v, evict %v; want %v, %v", tc.name, got, evict, tc.want, tc.evict)
		}
	}
}

func TestUntimedSince(t *testing.T) {
	added := metav1.NewTime(t0)
	later := t0.Add(time.Minute)
	a := corev1.Taint{Key: "a", Effect: corev1.TaintEffectNoExecute}
	b := corev1.Taint{Key: "b", Effect: corev1.TaintEffectNoExecute}
	timed := corev1.Taint{Key: "c", Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	noSchedule := corev1.Taint{Key: "d", Effect: corev1.TaintEffectNoSchedule}

	first := untimedSince(nil, []corev1.Taint{a, timed, noSchedule}, t0)
	if len(first) != 1 || !first["a"].Equal(t0) {
		t.Fatalf("first look = %v, want only a at t0", first)
	}
	second := untimedSince(first, []corev1.Taint{a, b}, later)
	if len(second) != 2 || !second["a"].Equal(t0) || !second["b"].Equal(later) {
		t.Fatalf("second look = %v, want a at t0 and b later", second)
	}
	if third := untimedSince(second, []corev1.Taint{b}, later.Add(time.Minute)); len(third) != 1 || !third["b"].Equal(later) {
		t.Fatalf("after a went away = %v", third)
	}
	if none := untimedSince(second, nil, later); none != nil {
		t.Fatalf("no taints left = %v, want nil", none)
	}
}
