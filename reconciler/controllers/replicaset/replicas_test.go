package replicaset

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// pod builds a pod for the tables below; mods adjust it.
func pod(name string, mods ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
		Labels:            map[string]string{"app": "web"},
		CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)),
	}}
	for _, m := range mods {
		m(p)
	}
	return p
}

func onNode(n string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func readyFor(d time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-d)),
		})
	}
}
func created(ago time.Duration) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-ago)) }
}
func cost(c string) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Annotations = map[string]string{DeletionCostAnnotation: c} }
}
func restarted(n int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
	}
}
func deleting(p *corev1.Pod) { ts := metav1.NewTime(now); p.DeletionTimestamp = &ts }

// running is a scheduled, running, ready pod: the most useful kind.
func running(name string, mods ...func(*corev1.Pod)) *corev1.Pod {
	return pod(name, append([]func(*corev1.Pod){onNode("n1"), phase(corev1.PodRunning), readyFor(time.Hour)}, mods...)...)
}

func names(pods []*corev1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestReconcileReplicas(t *testing.T) {
	three := []*corev1.Pod{running("a"), pod("b"), running("c", phase(corev1.PodPending))}
	cases := []struct {
		name       string
		desired    int
		pods       []*corev1.Pod
		burst      int
		wantCreate int
		wantDelete []string
	}{
		{"nothing to do", 3, three, 500, 0, []string{}},
		{"too few creates the difference", 5, three, 500, 2, []string{}},
		{"creates at most burst", 1000, three, 500, 500, []string{}},
		{"too many deletes the least useful", 1, three, 500, 0, []string{"b", "c"}},
		{"deletes at most burst", 0, three, 1, 0, []string{"b"}},
		{"scale to zero deletes all", 0, three, 500, 0, []string{"a", "b", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			create, remove := reconcileReplicas(tc.desired, tc.pods, nil, tc.burst, now)
			if create != tc.wantCreate {
				t.Errorf("create = %d, want %d", create, tc.wantCreate)
			}
			if got := names(remove); !reflect.DeepEqual(got, tc.wantDelete) {
				t.Errorf("delete = %v, want %v", got, tc.wantDelete)
			}
		})
	}
}

func TestDeleteFirst(t *testing.T) {
	cases := []struct {
		name        string
		first, then rankedPod
	}{
		{"unscheduled before scheduled",
			rankedPod{pod: pod("a", phase(corev1.PodRunning), readyFor(time.Hour))}, rankedPod{pod: running("b")}},
		{"pending before unknown",
			rankedPod{pod: pod("a", onNode("n"), phase(corev1.PodPending))}, rankedPod{pod: pod("b", onNode("n"), phase(corev1.PodUnknown))}},
		{"unknown before running",
			rankedPod{pod: pod("a", onNode("n"), phase(corev1.PodUnknown))}, rankedPod{pod: pod("b", onNode("n"), phase(corev1.PodRunning))}},
		{"not ready before ready",
			rankedPod{pod: pod("a", onNode("n"), phase(corev1.PodRunning))}, rankedPod{pod: running("b")}},
		{"lower deletion cost first",
			rankedPod{pod: running("a", cost("-5"))}, rankedPod{pod: running("b", cost("10"))}},
		{"malformed deletion cost counts as zero",
			rankedPod{pod: running("a", cost("zero"))}, rankedPod{pod: running("b", cost("1"))}},
		{"more siblings on the node first",
			rankedPod{pod: running("a"), colocated: 3}, rankedPod{pod: running("b"), colocated: 1}},
		{"ready for less time first",
			rankedPod{pod: pod("a", onNode("n"), phase(corev1.PodRunning), readyFor(time.Minute))}, rankedPod{pod: pod("b", onNode("n"), phase(corev1.PodRunning), readyFor(time.Hour))}},
		{"ready at about the same time falls to the UID",
			rankedPod{pod: pod("a", onNode("n"), phase(corev1.PodRunning), readyFor(time.Hour), created(time.Hour))},
			rankedPod{pod: pod("b", onNode("n"), phase(corev1.PodRunning), readyFor(time.Hour+time.Second), created(time.Hour))}},
		{"more restarts first",
			rankedPod{pod: running("a", restarted(4))}, rankedPod{pod: running("b", restarted(1))}},
		{"newer first",
			rankedPod{pod: pod("a", created(time.Minute))}, rankedPod{pod: pod("b", created(time.Hour))}},
		{"no creation time before any",
			rankedPod{pod: pod("a", created(0), func(p *corev1.Pod) { p.CreationTimestamp = metav1.Time{} })}, rankedPod{pod: pod("b", created(time.Second))}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !deleteFirst(tc.first, tc.then, now) {
				t.Errorf("%s should go before %s", tc.first.pod.Name, tc.then.pod.Name)
			}
			if deleteFirst(tc.then, tc.first, now) {
				t.Errorf("%s should not go before %s", tc.then.pod.Name, tc.first.pod.Name)
			}
		})
	}
}

func TestPodsToDeleteSpreadsAcrossNodes(t *testing.T) {
	// Two pods of this ReplicaSet share node n1 with a sibling of another
	// ReplicaSet of the same Deployment; one is alone on n2.
	pods := []*corev1.Pod{running("alone", onNode("n2")), running("crowded1", onNode("n1")), running("crowded2", onNode("n1"))}
	related := append([]*corev1.Pod{running("sibling", onNode("n1")), running("gone", onNode("n2"), deleting)}, pods...)
	got := names(podsToDelete(pods, related, 2, now))
	if !reflect.DeepEqual(got, []string{"crowded1", "crowded2"}) {
		t.Fatalf("deleted %v, want the two pods on the crowded node", got)
	}
}

func TestSlowStartBatches(t *testing.T) {
	cases := map[int][]int{0: nil, 1: {1}, 2: {1, 1}, 3: {1, 2}, 5: {1, 2, 2}, 10: {1, 2, 4, 3}, 15: {1, 2, 4, 8}}
	for n, want := range cases {
		if got := slowStartBatches(n); !reflect.DeepEqual(got, want) {
			t.Errorf("slowStartBatches(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestCalculateStatus(t *testing.T) {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 4},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(int32(4)), MinReadySeconds: 60,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}}},
		},
	}
	full := func(p *corev1.Pod) { p.Labels = map[string]string{"app": "web", "tier": "front"} }
	active := []*corev1.Pod{
		pod("available", full, phase(corev1.PodRunning), readyFor(2*time.Minute)),
		pod("ready-too-recently", full, phase(corev1.PodRunning), readyFor(30*time.Second)),
		pod("not-ready", phase(corev1.PodRunning)),
	}
	terminating := []*corev1.Pod{pod("going", deleting)}

	got := calculateStatus(rs, active, terminating, nil, now)
	want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 4, TerminatingReplicas: ptr(int32(1))}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("status = %+v, want %+v", got, want)
	}

	failed := calculateStatus(rs, active, nil, errors.New("quota exceeded"), now)
	if c := condition(failed, appsv1.ReplicaSetReplicaFailure); c == nil || c.Reason != "FailedCreate" || c.Message != "quota exceeded" || c.Status != corev1.ConditionTrue {
		t.Fatalf("after a failed create, ReplicaFailure = %+v", c)
	}
	rs.Status = failed
	if c := condition(calculateStatus(rs, active, nil, nil, now), appsv1.ReplicaSetReplicaFailure); c != nil {
		t.Fatalf("a successful round should clear ReplicaFailure, still %+v", c)
	}
	rs.Spec.Replicas = ptr(int32(1))
	rs.Status = appsv1.ReplicaSetStatus{}
	if c := condition(calculateStatus(rs, active, nil, errors.New("no"), now), appsv1.ReplicaSetReplicaFailure); c == nil || c.Reason != "FailedDelete" {
		t.Fatalf("a failed scale down should say FailedDelete, got %+v", c)
	}
}

func TestNextAvailabilityCheck(t *testing.T) {
	pods := []*corev1.Pod{
		pod("a", phase(corev1.PodRunning), readyFor(50*time.Second)),
		pod("b", phase(corev1.PodRunning), readyFor(20*time.Second)),
		pod("c", phase(corev1.PodRunning), readyFor(5*time.Minute)),
		pod("d", phase(corev1.PodPending)),
	}
	cases := []struct {
		minReady int32
		pods     []*corev1.Pod
		want     time.Duration
	}{
		{0, pods, 0},
		{60, pods, 10*time.Second + 100*time.Millisecond},
		{60, pods[2:], 0},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.minReady, len(tc.pods)), func(t *testing.T) {
			if got := nextAvailabilityCheck(tc.pods, tc.minReady, now); got != tc.want {
				t.Fatalf("next check in %v, want %v", got, tc.want)
			}
		})
	}
}

func TestActiveAndTerminating(t *testing.T) {
	cases := []struct {
		pod               *corev1.Pod
		active, finishing bool
	}{
		{pod("running", phase(corev1.PodRunning)), true, false},
		{pod("pending"), true, false},
		{pod("succeeded", phase(corev1.PodSucceeded)), false, false},
		{pod("failed", phase(corev1.PodFailed)), false, false},
		{pod("deleting", phase(corev1.PodRunning), deleting), false, true},
		{pod("failed-deleting", phase(corev1.PodFailed), deleting), false, false},
	}
	for _, tc := range cases {
		if isActive(tc.pod) != tc.active || isTerminating(tc.pod) != tc.finishing {
			t.Errorf("%s: active %v terminating %v, want %v %v", tc.pod.Name, isActive(tc.pod), isTerminating(tc.pod), tc.active, tc.finishing)
		}
	}
}

func ptr[T any](v T) *T { return &v }
