package queue

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// clock is a settable time for the queue.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func newQueue() (*Queue, *clock) {
	c := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return New(Options{Now: c.Now}), c
}

func pod(name string, priority int32) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
		Spec:       corev1.PodSpec{Priority: ptr.To(priority)},
	}
}

// popNow pops without waiting, or fails the test when nothing is ready.
func popNow(t *testing.T, q *Queue) *PodInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p, err := q.Pop(ctx)
	if err != nil {
		t.Fatalf("nothing to pop: %v", err)
	}
	return p
}

func assertEmpty(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if p, err := q.Pop(ctx); err == nil {
		t.Fatalf("popped %s, want nothing ready", p.Pod.Name)
	}
}

func TestHigherPriorityFirstThenArrival(t *testing.T) {
	q, c := newQueue()
	q.Add(pod("low", 0))
	c.advance(time.Millisecond)
	q.Add(pod("high", 1000))
	c.advance(time.Millisecond)
	q.Add(pod("low2", 0))
	for _, want := range []string{"high", "low", "low2"} {
		if got := popNow(t, q).Pod.Name; got != want {
			t.Fatalf("popped %s, want %s", got, want)
		}
	}
}

func TestUnschedulablePodsWaitForAHelpfulEvent(t *testing.T) {
	q, _ := newQueue()
	q.Add(pod("p", 0))
	p := popNow(t, q)
	q.Requeue(p, sets.New("NodeResourcesFit"))
	assertEmpty(t, q)
	q.MoveOnEvent(Event{Name: "AssignedPodAdd", Plugins: sets.New("InterPodAffinity")})
	if _, _, u := q.Lengths(); u != 1 {
		t.Fatal("an event that cannot help must leave the pod waiting")
	}
	q.MoveOnEvent(Event{Name: "AssignedPodDelete", Plugins: sets.New("NodeResourcesFit")})
	if a, b, u := q.Lengths(); a+b != 1 || u != 0 {
		t.Fatalf("a helpful event should move the pod: active %d, backoff %d, unschedulable %d", a, b, u)
	}
}

func TestMovedPodsServeTheirBackoffFirst(t *testing.T) {
	q, c := newQueue()
	q.Add(pod("p", 0))
	q.Requeue(popNow(t, q), sets.New("TaintToleration"))
	q.MoveOnEvent(Event{Name: "NodeAdd"})
	if a, b, _ := q.Lengths(); a != 0 || b != 1 {
		t.Fatalf("moved within its back-off, the pod should back off: active %d, backoff %d", a, b)
	}
	c.advance(999 * time.Millisecond)
	assertEmpty(t, q)
	c.advance(time.Millisecond)
	if popNow(t, q).Pod.Name != "p" {
		t.Fatal("the pod should be ready after the 1 s back-off")
	}
}

func TestBackoffDoublesUpToTheMaximum(t *testing.T) {
	q, _ := newQueue()
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 9: 10 * time.Second} {
		if got := q.BackoffDuration(attempts); got != want {
			t.Errorf("after %d attempts: %v, want %v", attempts, got, want)
		}
	}
}

func TestErrorsAreRetriedAfterBackoff(t *testing.T) {
	q, c := newQueue()
	q.Add(pod("p", 0))
	q.RequeueAfterError(popNow(t, q))
	assertEmpty(t, q)
	c.advance(time.Second)
	p := popNow(t, q)
	q.RequeueAfterError(p)
	c.advance(time.Second)
	assertEmpty(t, q)
	c.advance(time.Second)
	if popNow(t, q).Attempts != 3 {
		t.Fatal("the third attempt comes after a doubled back-off")
	}
}

func TestAnEventDuringTheAttemptPreventsParking(t *testing.T) {
	q, c := newQueue()
	q.Add(pod("p", 0))
	p := popNow(t, q)
	q.MoveOnEvent(Event{Name: "NodeAdd"}) // a node came while the pod was being placed
	q.Requeue(p, sets.New("NodeResourcesFit"))
	if _, b, u := q.Lengths(); b != 1 || u != 0 {
		t.Fatalf("the pod should back off, not wait for an event that already came: backoff %d, unschedulable %d", b, u)
	}
	c.advance(time.Second)
	popNow(t, q)
}

func TestChangesToAPodInFlight(t *testing.T) {
	q, _ := newQueue()
	q.Add(pod("updated", 0))
	q.Add(pod("deleted", 0))
	updated, deleted := popNow(t, q), popNow(t, q)
	newer := pod("updated", 0)
	newer.Labels = map[string]string{"tier": "web"}
	q.Update(newer)
	q.Delete("deleted")
	if a, _, _ := q.Lengths(); a != 0 {
		t.Fatal("a pod in flight must not be queued a second time")
	}
	q.Requeue(updated, sets.New("NodeAffinity"))
	q.Requeue(deleted, sets.New("NodeAffinity"))
	if a, b, u := q.Lengths(); a+u != 0 || b != 1 {
		t.Fatalf("the updated pod should back off and the deleted one be gone: active %d, backoff %d, unschedulable %d", a, b, u)
	}
	if got := q.backoff.items[0].Pod; got != newer {
		t.Fatal("the queue should keep the newer version of the pod")
	}
}

func TestUpdatesToWaitingPods(t *testing.T) {
	q, _ := newQueue()
	q.Add(pod("p", 0))
	q.Requeue(popNow(t, q), sets.New("NodeAffinity"))
	status := pod("p", 0)
	status.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
	q.Update(status)
	if _, _, u := q.Lengths(); u != 1 {
		t.Fatal("a status change (the scheduler's own condition) must not retry the pod")
	}
	spec := pod("p", 0)
	spec.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	q.Update(spec)
	if _, b, u := q.Lengths(); b != 1 || u != 0 {
		t.Fatal("a spec change should retry the pod (after its back-off)")
	}
}

func TestLongUnschedulablePodsAreRetried(t *testing.T) {
	q, c := newQueue()
	q.Add(pod("p", 0))
	q.Requeue(popNow(t, q), sets.New("NodeAffinity"))
	c.advance(DefaultMaxUnschedulableWait)
	q.FlushUnschedulable()
	if _, _, u := q.Lengths(); u != 1 {
		t.Fatal("flushed too early")
	}
	c.advance(time.Second)
	q.FlushUnschedulable()
	popNow(t, q)
}

func TestPopWaitsForAnAddAndForItsContext(t *testing.T) {
	q := New(Options{})
	got := make(chan string)
	go func() {
		p, err := q.Pop(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		got <- p.Pod.Name
	}()
	time.Sleep(10 * time.Millisecond)
	q.Add(pod("late", 0))
	select {
	case name := <-got:
		if name != "late" {
			t.Fatalf("popped %s", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Pop did not wake up on Add")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Pop(ctx); err == nil {
		t.Fatal("Pop should return when its context is done")
	}
}

func TestAnUnhelpfulEventDuringTheAttemptStillParks(t *testing.T) {
	q, _ := newQueue()
	q.Add(pod("p", 0))
	p := popNow(t, q)
	q.MoveOnEvent(Event{Name: "AssignedPodAdd", Plugins: sets.New("InterPodAffinity")})
	q.Requeue(p, sets.New("NodeResourcesFit"))
	if _, b, u := q.Lengths(); b != 0 || u != 1 {
		t.Fatalf("a pod placed while an event that cannot help it came should wait: backoff %d, unschedulable %d", b, u)
	}
}
