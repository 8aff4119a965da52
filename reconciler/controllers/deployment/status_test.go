package deployment

import (
	"errors"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func withDeadline(d *appsv1.Deployment, seconds int32) *appsv1.Deployment {
	d.Spec.ProgressDeadlineSeconds = &seconds
	return d
}

func progressing(reason string, status corev1.ConditionStatus, updated time.Time) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{
		Type: appsv1.DeploymentProgressing, Status: status, Reason: reason,
		LastUpdateTime: metav1.NewTime(updated), LastTransitionTime: metav1.NewTime(updated.Add(-time.Hour)),
	}
}

func TestCalculateStatus(t *testing.T) {
	d := deployment(4, i(1), i(1))
	d.Generation = 7
	d.Status.CollisionCount = ptr(int32(2))
	newRS := replicaSet("new", 3, 2, 0)
	newRS.Status.TerminatingReplicas = ptr(int32(1))
	newRS.Status.ObservedGeneration = 1
	old := replicaSet("old", 2, 1, time.Hour)
	old.Status.ReadyReplicas = 2
	st := calculateStatus(d, []*appsv1.ReplicaSet{old, newRS, nil}, newRS, t0)
	want := appsv1.DeploymentStatus{ObservedGeneration: 7, Replicas: 5, UpdatedReplicas: 3, ReadyReplicas: 4, AvailableReplicas: 3, UnavailableReplicas: 2, CollisionCount: ptr(int32(2)), TerminatingReplicas: ptr(int32(1))}
	got := st
	got.Conditions = nil
	if !equalStatus(got, want) {
		t.Fatalf("status %+v, want %+v", got, want)
	}
	if c := getCondition(st, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionTrue || c.Reason != ReasonMinimumReplicasAvailable {
		t.Fatalf("3 of 4 available with maxUnavailable 1: Available = %+v", c)
	}
	old.Status.AvailableReplicas = 0
	st = calculateStatus(d, []*appsv1.ReplicaSet{old, newRS}, newRS, t0)
	if c := getCondition(st, appsv1.DeploymentAvailable); c == nil || c.Status != corev1.ConditionFalse || c.Reason != ReasonMinimumReplicasUnavailable {
		t.Fatalf("2 of 4 available with maxUnavailable 1: Available = %+v", c)
	}
	// A synced ReplicaSet that does not report terminating pods makes the
	// sum unknown.
	old.Status.ObservedGeneration = 1
	if st := calculateStatus(d, []*appsv1.ReplicaSet{old, newRS}, newRS, t0); st.TerminatingReplicas != nil {
		t.Fatalf("terminatingReplicas = %d, want unknown", *st.TerminatingReplicas)
	}
}

func equalStatus(a, b appsv1.DeploymentStatus) bool {
	return a.ObservedGeneration == b.ObservedGeneration && a.Replicas == b.Replicas && a.UpdatedReplicas == b.UpdatedReplicas &&
		a.ReadyReplicas == b.ReadyReplicas && a.AvailableReplicas == b.AvailableReplicas && a.UnavailableReplicas == b.UnavailableReplicas &&
		*a.CollisionCount == *b.CollisionCount && *a.TerminatingReplicas == *b.TerminatingReplicas
}

func TestRolloutStatusProgressing(t *testing.T) {
	now := t0
	complete := []*appsv1.ReplicaSet{replicaSet("new", 3, 3, 0)}
	midway := []*appsv1.ReplicaSet{replicaSet("new", 2, 1, 0), replicaSet("old", 2, 2, time.Hour)}
	cases := []struct {
		name       string
		deadline   int32 // 0: none
		previous   *appsv1.DeploymentCondition
		oldStatus  appsv1.DeploymentStatus
		rss        []*appsv1.ReplicaSet
		wantReason string // "" for no Progressing condition
		wantStatus corev1.ConditionStatus
		wantUpdate time.Time
	}{
		{"a finished rollout", 600, ptr(progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, now.Add(-time.Minute))), appsv1.DeploymentStatus{},
			complete, ReasonNewReplicaSetAvailable, corev1.ConditionTrue, now},
		{"progress moves lastUpdateTime", 600, ptr(progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, now.Add(-time.Minute))), appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1},
			midway, ReasonReplicaSetUpdated, corev1.ConditionTrue, now},
		{"no progress within the deadline changes nothing", 600, ptr(progressing(ReasonNewReplicaSetCreated, corev1.ConditionTrue, now.Add(-time.Minute))), appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3},
			midway, ReasonNewReplicaSetCreated, corev1.ConditionTrue, now.Add(-time.Minute)},
		{"no progress past the deadline times out", 30, ptr(progressing(ReasonNewReplicaSetCreated, corev1.ConditionTrue, now.Add(-time.Minute))), appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3},
			midway, ReasonProgressDeadlineExceeded, corev1.ConditionFalse, now},
		{"a timed-out rollout stays timed out", 30, ptr(progressing(ReasonProgressDeadlineExceeded, corev1.ConditionFalse, now.Add(-time.Hour))), appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3},
			midway, ReasonProgressDeadlineExceeded, corev1.ConditionFalse, now.Add(-time.Hour)},
		{"a finished rollout is left alone", 30, ptr(progressing(ReasonNewReplicaSetAvailable, corev1.ConditionTrue, now.Add(-time.Hour))), appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3},
			complete, ReasonNewReplicaSetAvailable, corev1.ConditionTrue, now.Add(-time.Hour)},
		{"without a deadline there is no Progressing condition", 0, ptr(progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, now)), appsv1.DeploymentStatus{},
			midway, "", "", time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := deployment(3, i(1), i(0))
			if tc.deadline > 0 {
				withDeadline(d, tc.deadline)
			}
			d.Status = tc.oldStatus
			d.Status.Conditions = []appsv1.DeploymentCondition{*tc.previous}
			st := rolloutStatus(d, tc.rss, tc.rss[0], now)
			c := getCondition(st, appsv1.DeploymentProgressing)
			if tc.wantReason == "" {
				if c != nil {
					t.Fatalf("Progressing = %+v, want none", c)
				}
				return
			}
			if c == nil || c.Reason != tc.wantReason || c.Status != tc.wantStatus || !c.LastUpdateTime.Time.Equal(tc.wantUpdate) {
				t.Fatalf("Progressing = %+v, want %s/%s updated %v", c, tc.wantStatus, tc.wantReason, tc.wantUpdate)
			}
			if tc.wantStatus == tc.previous.Status && !c.LastTransitionTime.Equal(&tc.previous.LastTransitionTime) {
				t.Fatalf("lastTransitionTime moved without a status change: %v", c.LastTransitionTime)
			}
		})
	}
}

func TestRolloutStatusReplicaFailure(t *testing.T) {
	d := withDeadline(deployment(3, i(1), i(0)), 600)
	newRS := replicaSet("new", 3, 0, 0)
	newRS.Status.Conditions = []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: errors.New("quota").Error()}}
	st := rolloutStatus(d, []*appsv1.ReplicaSet{newRS}, newRS, t0)
	if c := getCondition(st, appsv1.DeploymentReplicaFailure); c == nil || c.Reason != "FailedCreate" || c.Message != "quota" {
		t.Fatalf("ReplicaFailure = %+v", c)
	}
	d.Status = st
	newRS.Status.Conditions = nil
	if c := getCondition(rolloutStatus(d, []*appsv1.ReplicaSet{newRS}, newRS, t0), appsv1.DeploymentReplicaFailure); c != nil {
		t.Fatalf("ReplicaFailure stays after the ReplicaSet recovered: %+v", c)
	}
}

func TestPausedStatus(t *testing.T) {
	cases := []struct {
		name       string
		paused     bool
		deadline   bool
		previous   string
		wantReason string // "" when nothing changes
	}{
		{"pausing", true, true, ReasonReplicaSetUpdated, ReasonDeploymentPaused},
		{"already paused", true, true, ReasonDeploymentPaused, ""},
		{"resuming", false, true, ReasonDeploymentPaused, ReasonDeploymentResumed},
		{"running", false, true, ReasonReplicaSetUpdated, ""},
		{"timed out stays timed out", true, true, ReasonProgressDeadlineExceeded, ""},
		{"no deadline", true, false, ReasonReplicaSetUpdated, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := deployment(3, i(1), i(0))
			if tc.deadline {
				withDeadline(d, 600)
			}
			d.Spec.Paused = tc.paused
			d.Status.Conditions = []appsv1.DeploymentCondition{progressing(tc.previous, corev1.ConditionTrue, t0.Add(-time.Minute))}
			st, changed := pausedStatus(d, t0)
			if changed != (tc.wantReason != "") {
				t.Fatalf("changed = %v", changed)
			}
			if !changed {
				return
			}
			if c := getCondition(st, appsv1.DeploymentProgressing); c.Reason != tc.wantReason || c.Status != corev1.ConditionUnknown || !c.LastUpdateTime.Time.Equal(t0) {
				t.Fatalf("Progressing = %+v, want Unknown/%s now", c, tc.wantReason)
			}
		})
	}
}

func TestRecheckAfter(t *testing.T) {
	cases := []struct {
		name     string
		deadline int32
		cond     appsv1.DeploymentCondition
		complete bool
		want     time.Duration
	}{
		{"under way", 60, progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, t0.Add(-20*time.Second)), false, 41 * time.Second},
		{"deadline passed", 60, progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, t0.Add(-2*time.Minute)), false, 0},
		{"complete", 60, progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, t0), true, -1},
		{"timed out", 60, progressing(ReasonProgressDeadlineExceeded, corev1.ConditionFalse, t0), false, -1},
		{"no deadline", 0, progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, t0), false, -1},
	}
	for _, tc := range cases {
		d := deployment(3, i(1), i(0))
		if tc.deadline > 0 {
			withDeadline(d, tc.deadline)
		}
		d.Status.Conditions = []appsv1.DeploymentCondition{tc.cond}
		st := appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 1}
		if tc.complete {
			st = appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3, ObservedGeneration: 1}
		}
		if got := recheckAfter(d, &st, t0); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
