package deployment

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// deployment builds a rolling-update Deployment with the given surge and
// unavailability (ints or percentages).
func deployment(replicas int32, surge, unavailable intstr.IntOrString) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "d-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable},
			},
		},
	}
}

func recreate(replicas int32) *appsv1.Deployment {
	d := deployment(replicas, intstr.FromInt32(0), intstr.FromInt32(0))
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	return d
}

// replicaSet builds a ReplicaSet created age ago with replicas of which
// available are available; annotations are key, value pairs.
func replicaSet(name string, replicas, available int32, age time.Duration, annotations ...string) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), CreationTimestamp: metav1.NewTime(t0.Add(-age)), Annotations: map[string]string{}},
		Spec:       appsv1.ReplicaSetSpec{Replicas: &replicas},
		Status:     appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available},
	}
	for i := 0; i+1 < len(annotations); i += 2 {
		rs.Annotations[annotations[i]] = annotations[i+1]
	}
	return rs
}

// scaledDownFrom makes rs report pods (all available) it has not deleted yet.
func scaledDownFrom(rs *appsv1.ReplicaSet, pods int32) *appsv1.ReplicaSet {
	rs.Status.Replicas, rs.Status.ReadyReplicas, rs.Status.AvailableReplicas = pods, pods, pods
	return rs
}

func i(n int) intstr.IntOrString     { return intstr.FromInt(n) }
func pc(s string) intstr.IntOrString { return intstr.FromString(s) }

// actions renders scale actions as "name=replicas" for comparison.
func actions(as []scaleAction) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s=%d", a.rs.Name, a.replicas))
	}
	return out
}

func TestFenceposts(t *testing.T) {
	cases := []struct {
		surge, unavailable intstr.IntOrString
		desired            int32
		wantS, wantU       int32
	}{
		{pc("25%"), pc("25%"), 10, 3, 2}, // surge rounds up, unavailable down
		{pc("25%"), pc("25%"), 1, 1, 0},
		{i(0), pc("1%"), 2, 0, 1}, // both zero: one may be unavailable
		{pc("1%"), i(0), 1, 1, 0},
		{i(2), i(3), 10, 2, 3},
		{pc("100%"), pc("0%"), 4, 4, 0},
	}
	for _, tc := range cases {
		s, u := fenceposts(&tc.surge, &tc.unavailable, tc.desired)
		if s != tc.wantS || u != tc.wantU {
			t.Errorf("fenceposts(%s, %s, %d) = %d, %d; want %d, %d", tc.surge.String(), tc.unavailable.String(), tc.desired, s, u, tc.wantS, tc.wantU)
		}
	}
}

func TestMaxSurgeAndUnavailable(t *testing.T) {
	cases := []struct {
		name         string
		d            *appsv1.Deployment
		surge, unava int32
	}{
		{"rolling", deployment(10, pc("25%"), pc("25%")), 3, 2},
		{"unavailable capped at replicas", deployment(3, i(1), i(5)), 1, 3},
		{"zero replicas", deployment(0, i(1), i(1)), 1, 0},
		{"recreate", recreate(5), 0, 0},
	}
	for _, tc := range cases {
		if s, u := maxSurge(tc.d), maxUnavailable(tc.d); s != tc.surge || u != tc.unava {
			t.Errorf("%s: surge %d unavailable %d, want %d %d", tc.name, s, u, tc.surge, tc.unava)
		}
	}
}

func TestRollingStep(t *testing.T) {
	d := deployment(10, i(3), i(2)) // at most 13 pods, at least 8 available
	cases := []struct {
		name  string
		d     *appsv1.Deployment
		newRS *appsv1.ReplicaSet
		old   []*appsv1.ReplicaSet
		want  []string
	}{
		{"a new template first surges the new ReplicaSet",
			d, replicaSet("new", 0, 0, 0), []*appsv1.ReplicaSet{replicaSet("old", 10, 10, time.Hour)},
			[]string{"new=3"}},
		{"at the surge ceiling old pods go while enough stay available",
			d, replicaSet("new", 3, 0, 0), []*appsv1.ReplicaSet{replicaSet("old", 10, 10, time.Hour)},
			[]string{"old=8"}},
		{"unavailable old pods go first, oldest ReplicaSet first",
			d, replicaSet("new", 3, 0, 0), []*appsv1.ReplicaSet{replicaSet("old2", 5, 5, time.Hour), replicaSet("old1", 5, 2, 2*time.Hour)},
			[]string{"old1=3"}},
		{"nothing moves at the ceiling with too few available",
			d, replicaSet("new", 5, 0, 0), []*appsv1.ReplicaSet{replicaSet("old", 8, 8, time.Hour)},
			nil},
		{"grows the new ReplicaSet as old pods leave",
			d, replicaSet("new", 5, 5, 0), []*appsv1.ReplicaSet{replicaSet("old", 5, 5, time.Hour)},
			[]string{"new=8"}},
		{"never grows the new ReplicaSet past replicas",
			d, replicaSet("new", 9, 9, 0), []*appsv1.ReplicaSet{replicaSet("old", 1, 1, time.Hour)},
			[]string{"new=10"}},
		{"shrinks a new ReplicaSet above replicas",
			d, replicaSet("new", 12, 12, 0), nil,
			[]string{"new=10"}},
		{"old ReplicaSets at zero are left alone",
			d, replicaSet("new", 10, 10, 0), []*appsv1.ReplicaSet{replicaSet("old", 0, 0, time.Hour)},
			nil},
		{"no surge: an old pod goes first",
			deployment(2, i(0), i(1)), replicaSet("new", 0, 0, 0), []*appsv1.ReplicaSet{replicaSet("old", 2, 2, time.Hour)},
			[]string{"old=1"}},
		{"pods an old ReplicaSet has not deleted yet count against the surge",
			d, replicaSet("new", 0, 0, 0), []*appsv1.ReplicaSet{scaledDownFrom(replicaSet("old", 8, 8, time.Hour), 10)},
			[]string{"new=3"}},
		{"pods an old ReplicaSet is deleting do not count as available",
			d, replicaSet("new", 3, 3, 0), []*appsv1.ReplicaSet{scaledDownFrom(replicaSet("old", 8, 8, time.Hour), 10)},
			[]string{"old=5"}},
		{"pods of an old ReplicaSet already at zero do not count as available",
			d, replicaSet("new", 3, 0, 0), []*appsv1.ReplicaSet{replicaSet("gone", 0, 10, 2*time.Hour), replicaSet("old", 10, 7, time.Hour)},
			[]string{"old=8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := actions(rollingStep(tc.d, tc.newRS, tc.old))
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("actions %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRollingUpdateStaysWithinBounds plays whole rollouts step by step
// (new pods become available one step after they are asked for, removed
// pods leave at once) and checks the bounds at every step.
func TestRollingUpdateStaysWithinBounds(t *testing.T) {
	cases := []struct {
		replicas           int32
		surge, unavailable intstr.IntOrString
	}{
		{10, pc("25%"), pc("25%")},
		{10, i(0), i(1)},
		{10, i(1), i(0)},
		{3, i(5), i(0)},
		{7, pc("50%"), pc("10%")},
		{1, pc("25%"), pc("25%")},
		{100, pc("1%"), pc("0%")},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d/%s/%s", tc.replicas, tc.surge.String(), tc.unavailable.String()), func(t *testing.T) {
			d := deployment(tc.replicas, tc.surge, tc.unavailable)
			ceiling, floor := tc.replicas+maxSurge(d), tc.replicas-maxUnavailable(d)
			oldOlder := replicaSet("older", 0, 0, 2*time.Hour)
			old := replicaSet("old", tc.replicas, tc.replicas, time.Hour)
			newRS := replicaSet("new", 0, 0, 0)
			sets := []*appsv1.ReplicaSet{oldOlder, old, newRS}
			for step := 0; ; step++ {
				if step > 10*int(tc.replicas)+10 {
					t.Fatalf("no end after %d steps: old %d new %d", step, replicas(old), replicas(newRS))
				}
				acts := rollingStep(d, newRS, []*appsv1.ReplicaSet{oldOlder, old})
				if len(acts) == 0 {
					// Nothing to do until pods move: the new ones come up.
					if newRS.Status.AvailableReplicas == replicas(newRS) {
						break
					}
					newRS.Status.Replicas, newRS.Status.AvailableReplicas = replicas(newRS), replicas(newRS)
					continue
				}
				for _, a := range acts {
					a.rs.Spec.Replicas = ptr(a.replicas)
					if a.replicas < a.rs.Status.Replicas { // removed pods leave at once
						a.rs.Status.Replicas = a.replicas
						a.rs.Status.AvailableReplicas = min(a.rs.Status.AvailableReplicas, a.replicas)
					}
				}
				if total := sumReplicas(sets); total > ceiling {
					t.Fatalf("step %d: %d pods, more than %d", step, total, ceiling)
				}
				if avail := sumAvailable(sets); avail < floor {
					t.Fatalf("step %d: %d available, fewer than %d", step, avail, floor)
				}
			}
			if replicas(newRS) != tc.replicas || replicas(old) != 0 {
				t.Fatalf("rollout ended with new %d, old %d", replicas(newRS), replicas(old))
			}
		})
	}
}

func TestNewReplicaSetSize(t *testing.T) {
	cases := []struct {
		name string
		d    *appsv1.Deployment
		all  []*appsv1.ReplicaSet
		want int32
	}{
		{"recreate takes all replicas", recreate(4), []*appsv1.ReplicaSet{replicaSet("new", 0, 0, 0)}, 4},
		{"rolling stops at the surge ceiling", deployment(10, i(3), i(2)), []*appsv1.ReplicaSet{replicaSet("old", 10, 10, time.Hour), replicaSet("new", 0, 0, 0)}, 3},
		{"rolling never exceeds replicas", deployment(4, i(10), i(0)), []*appsv1.ReplicaSet{replicaSet("old", 1, 1, time.Hour), replicaSet("new", 2, 2, 0)}, 4},
		{"full: stays", deployment(10, i(3), i(2)), []*appsv1.ReplicaSet{replicaSet("old", 10, 10, time.Hour), replicaSet("new", 3, 0, 0)}, 3},
	}
	for _, tc := range cases {
		newRS := tc.all[len(tc.all)-1]
		if got := newReplicaSetSize(tc.d, tc.all, newRS); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestProportionalScale(t *testing.T) {
	scaledTo := func(n int32, s, u intstr.IntOrString) *appsv1.Deployment { return deployment(n, s, u) }
	cases := []struct {
		name  string
		d     *appsv1.Deployment
		newRS *appsv1.ReplicaSet
		old   []*appsv1.ReplicaSet
		want  []string
	}{
		{"a single active ReplicaSet takes the new size",
			scaledTo(5, i(1), i(0)), replicaSet("new", 3, 3, 0), []*appsv1.ReplicaSet{replicaSet("old", 0, 0, time.Hour)},
			[]string{"new=5"}},
		{"with none active the newest old one does",
			scaledTo(2, i(1), i(0)), nil, []*appsv1.ReplicaSet{replicaSet("older", 0, 0, 2*time.Hour), replicaSet("old", 0, 0, time.Hour)},
			[]string{"old=2"}},
		{"a saturated new ReplicaSet lets the old ones go",
			scaledTo(3, i(1), i(0)), replicaSet("new", 3, 3, 0, DesiredReplicasAnnotation, "3"), []*appsv1.ReplicaSet{replicaSet("old", 1, 1, time.Hour)},
			[]string{"old=0"}},
		{"mid-rollout growth is shared by size",
			// Was 10 (+3 surge = 13): grows to 20 (+5 = 25).
			scaledTo(20, pc("25%"), pc("25%")),
			replicaSet("new", 5, 0, 0, MaxReplicasAnnotation, "13", DesiredReplicasAnnotation, "10"),
			[]*appsv1.ReplicaSet{replicaSet("old", 8, 8, time.Hour, MaxReplicasAnnotation, "13", DesiredReplicasAnnotation, "10")},
			[]string{"old=15", "new=10"}},
		{"mid-rollout shrinking is shared by size, rounding to the largest",
			// Was 10 (+3 = 13): shrinks to 5 (+2 = 7).
			scaledTo(5, pc("25%"), pc("25%")),
			replicaSet("new", 6, 0, 0, MaxReplicasAnnotation, "13"),
			[]*appsv1.ReplicaSet{replicaSet("old", 7, 7, time.Hour, MaxReplicasAnnotation, "13")},
			[]string{"old=4", "new=3"}},
		{"scaling to zero empties every ReplicaSet",
			scaledTo(0, pc("25%"), pc("25%")),
			replicaSet("new", 6, 0, 0, MaxReplicasAnnotation, "13"),
			[]*appsv1.ReplicaSet{replicaSet("old", 7, 7, time.Hour, MaxReplicasAnnotation, "13")},
			[]string{"old=0", "new=0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := actions(proportionalScale(tc.d, tc.newRS, tc.old)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("actions %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIsScalingEvent(t *testing.T) {
	d := deployment(5, i(1), i(0))
	cases := []struct {
		name string
		rss  []*appsv1.ReplicaSet
		want bool
	}{
		{"sized for the current replicas", []*appsv1.ReplicaSet{replicaSet("a", 5, 5, 0, DesiredReplicasAnnotation, "5")}, false},
		{"sized for other replicas", []*appsv1.ReplicaSet{replicaSet("a", 3, 3, 0, DesiredReplicasAnnotation, "3")}, true},
		{"inactive ReplicaSets do not count", []*appsv1.ReplicaSet{replicaSet("a", 0, 0, 0, DesiredReplicasAnnotation, "3")}, false},
		{"no annotation", []*appsv1.ReplicaSet{replicaSet("a", 3, 3, 0)}, false},
		{"garbage annotation", []*appsv1.ReplicaSet{replicaSet("a", 3, 3, 0, DesiredReplicasAnnotation, "many")}, false},
	}
	for _, tc := range cases {
		if got := isScalingEvent(d, nil, tc.rss); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestHistoryToDelete(t *testing.T) {
	withRev := func(rs *appsv1.ReplicaSet, rev string) *appsv1.ReplicaSet {
		rs.Annotations[RevisionAnnotation] = rev
		return rs
	}
	stale := withRev(replicaSet("stale-status", 0, 0, 5*time.Hour), "1")
	stale.Generation = 3
	deleting := withRev(replicaSet("deleting", 0, 0, 6*time.Hour), "0")
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	old := []*appsv1.ReplicaSet{
		withRev(replicaSet("r4", 0, 0, time.Hour), "4"),
		withRev(replicaSet("r2-still-running", 1, 1, 3*time.Hour), "2"),
		stale,
		withRev(replicaSet("r3", 0, 0, 2*time.Hour), "3"),
		withRev(replicaSet("r10", 0, 0, 30*time.Minute), "10"),
		deleting,
	}
	cases := []struct {
		limit *int32
		want  []string
	}{
		{nil, nil},
		{ptr(int32(maxInt32)), nil},
		{ptr(int32(5)), nil},
		// Oldest revisions first; running ones and stale ones stay.
		{ptr(int32(2)), []string{"r3"}},
		{ptr(int32(0)), []string{"r3", "r4", "r10"}},
	}
	for _, tc := range cases {
		d := deployment(1, i(1), i(0))
		d.Spec.RevisionHistoryLimit = tc.limit
		var got []string
		for _, rs := range historyToDelete(d, old) {
			got = append(got, rs.Name)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("limit %v: deletes %v, want %v", tc.limit, got, tc.want)
		}
	}
}

func TestOldPodsRunning(t *testing.T) {
	newRS := replicaSet("new", 0, 0, 0)
	old := replicaSet("old", 0, 0, time.Hour)
	old.Status.Replicas = 0
	pod := func(ph corev1.PodPhase) *corev1.Pod { return &corev1.Pod{Status: corev1.PodStatus{Phase: ph}} }
	cases := []struct {
		name string
		old  *appsv1.ReplicaSet
		pods map[string][]*corev1.Pod
		want bool
	}{
		{"no pods", old, nil, false},
		{"an old ReplicaSet still reports pods", replicaSet("busy", 0, 0, time.Hour), nil, true},
		{"a pending old pod", old, map[string][]*corev1.Pod{"old": {pod(corev1.PodPending)}}, true},
		{"finished old pods", old, map[string][]*corev1.Pod{"old": {pod(corev1.PodSucceeded), pod(corev1.PodFailed)}}, false},
		{"new pods do not count", old, map[string][]*corev1.Pod{"new": {pod(corev1.PodRunning)}}, false},
	}
	cases[1].old.Status.Replicas = 2
	for _, tc := range cases {
		if got := oldPodsRunning(newRS, []*appsv1.ReplicaSet{tc.old}, tc.pods); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
