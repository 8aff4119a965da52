// Package queue is the scheduler's queue of pods waiting for a node, as
// kube-scheduler keeps it: an active heap ordered by priority (then by
// arrival), a back-off heap for pods that failed recently (1 s doubling up
// to 10 s by default), and a set of unschedulable pods that wait for a
// cluster change that could help them (a node added, a pod deleted, ...)
// or, at the latest, for MaxUnschedulableWait.
//
// A popped pod is in flight until Done; changes to it and cluster events
// meanwhile are remembered, so that a failed attempt that raced with a
// change that may help is retried after its back-off instead of parking
// the pod.
package queue

import (
	"container/heap"
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// Defaults, as in kube-scheduler.
const (
	DefaultInitialBackoff       = time.Second
	DefaultMaxBackoff           = 10 * time.Second
	DefaultMaxUnschedulableWait = 5 * time.Minute
)

// Options tune the queue; zero values take the defaults.
type Options struct {
	InitialBackoff, MaxBackoff time.Duration
	// MaxUnschedulableWait is how long an unschedulable pod waits for a
	// helpful event before it is retried anyway.
	MaxUnschedulableWait time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// PodInfo is a queued pod with its scheduling history.
type PodInfo struct {
	Pod *corev1.Pod
	// Timestamp is when the pod last entered the queue (it orders pods of
	// equal priority); InitialAttempt when it was first popped.
	Timestamp      time.Time
	InitialAttempt time.Time
	// Attempts counts the pops so far.
	Attempts int
	// UnschedulablePlugins are the filters that rejected the pod in its
	// last attempt; an event only moves the pod if it may help one of
	// them (any event does when the set is empty).
	UnschedulablePlugins sets.Set[string]

	failedAt  time.Time
	heapIndex int
}

// Event is a cluster change that may make unschedulable pods schedulable.
type Event struct {
	// Name is for logs ("NodeAdd", "AssignedPodDelete", ...).
	Name string
	// Plugins are the filters whose rejections the event may undo; nil
	// means every filter.
	Plugins sets.Set[string]
}

// Queue is safe for concurrent use.
type Queue struct {
	mu   sync.Mutex
	opts Options
	// wake is signalled whenever a pod may have become poppable.
	wake          chan struct{}
	active        podHeap
	backoff       podHeap
	unschedulable map[types.UID]*PodInfo
	inFlight      map[types.UID]*flight
}

// flight is a popped pod's record of what happened while it was out: the
// cluster events, its latest version if it changed, whether it was deleted.
type flight struct {
	events  []Event
	updated *corev1.Pod
	deleted bool
}

// New returns an empty queue.
func New(opts Options) *Queue {
	if opts.InitialBackoff == 0 {
		opts.InitialBackoff = DefaultInitialBackoff
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.MaxUnschedulableWait == 0 {
		opts.MaxUnschedulableWait = DefaultMaxUnschedulableWait
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	q := &Queue{
		opts:          opts,
		wake:          make(chan struct{}, 1),
		unschedulable: map[types.UID]*PodInfo{},
		inFlight:      map[types.UID]*flight{},
	}
	q.active.less = byPriority
	q.backoff.less = q.byBackoffExpiry
	return q
}

// Add queues a new pending pod (ignored if the pod is already queued or in
// flight, where Update applies instead).
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.find(pod.UID) != nil {
		q.update(pod)
		return
	}
	if _, ok := q.inFlight[pod.UID]; ok {
		q.update(pod)
		return
	}
	heap.Push(&q.active, &PodInfo{Pod: pod, Timestamp: q.opts.Now()})
	q.signal()
}

// Update records a new version of a pending pod. A pod that waits as
// unschedulable is retried (after its back-off) if the change may matter:
// a change of spec, labels or annotations, not of status.
func (q *Queue) Update(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.update(pod)
}

func (q *Queue) update(pod *corev1.Pod) {
	if f, ok := q.inFlight[pod.UID]; ok {
		f.updated = pod
		return
	}
	if p, ok := q.unschedulable[pod.UID]; ok {
		changed := schedulingInputsChanged(p.Pod, pod)
		p.Pod = pod
		if changed {
			delete(q.unschedulable, pod.UID)
			q.requeue(p)
		}
		return
	}
	if p := q.find(pod.UID); p != nil {
		p.Pod = pod
		return
	}
	heap.Push(&q.active, &PodInfo{Pod: pod, Timestamp: q.opts.Now()})
	q.signal()
}

// Delete drops a pod (deleted, or bound by someone else).
func (q *Queue) Delete(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if f, ok := q.inFlight[uid]; ok {
		f.deleted = true
	}
	delete(q.unschedulable, uid)
	q.active.remove(uid)
	q.backoff.remove(uid)
}

// Pop waits for the next pod to try and marks it in flight. It returns
// ctx's error once ctx is done.
func (q *Queue) Pop(ctx context.Context) (*PodInfo, error) {
	for {
		q.mu.Lock()
		q.flushBackoff()
		if q.active.Len() > 0 {
			p := heap.Pop(&q.active).(*PodInfo)
			p.Attempts++
			if p.InitialAttempt.IsZero() {
				p.InitialAttempt = q.opts.Now()
			}
			q.inFlight[p.Pod.UID] = &flight{}
			q.mu.Unlock()
			return p, nil
		}
		wait := time.Duration(-1)
		if q.backoff.Len() > 0 {
			wait = max(q.backoffExpiry(q.backoff.items[0]).Sub(q.opts.Now()), 0)
		}
		q.mu.Unlock()
		if err := q.sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// sleep waits for a signal, for d (unless d < 0) or for ctx.
func (q *Queue) sleep(ctx context.Context, d time.Duration) error {
	var timer <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-q.wake:
	case <-timer:
	}
	return nil
}

// Done ends the flight of a pod that was scheduled (assumed on a node) or
// dropped; a pod that failed goes back with Requeue or RequeueAfterError.
func (q *Queue) Done(uid types.UID) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, uid)
}

// Requeue ends the flight of a pod no node could take: rejectedBy are
// the filters that rejected nodes (empty when there were no nodes). The
// pod waits for an event that may help, unless such an event or a change
// to the pod came while it was in flight: then it is retried after its
// back-off.
func (q *Queue) Requeue(p *PodInfo, rejectedBy sets.Set[string]) {
	q.fail(p, rejectedBy, true)
}

// RequeueAfterError ends the flight of a pod whose attempt failed for
// another reason (an API error): it is retried after its back-off.
func (q *Queue) RequeueAfterError(p *PodInfo) {
	q.fail(p, nil, false)
}

func (q *Queue) fail(p *PodInfo, rejectedBy sets.Set[string], unschedulable bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	f, ok := q.inFlight[p.Pod.UID]
	delete(q.inFlight, p.Pod.UID)
	if ok && f.deleted {
		return
	}
	if ok && f.updated != nil {
		p.Pod = f.updated
	}
	p.UnschedulablePlugins = rejectedBy
	p.failedAt = q.opts.Now()
	p.Timestamp = p.failedAt
	if !unschedulable || (ok && (f.updated != nil || anyMayHelp(f.events, p))) {
		heap.Push(&q.backoff, p)
		q.signal()
		return
	}
	q.unschedulable[p.Pod.UID] = p
}

// MoveOnEvent moves the unschedulable pods that event may help to the
// active heap (or to the back-off heap while their back-off lasts).
func (q *Queue) MoveOnEvent(event Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, f := range q.inFlight {
		f.events = append(f.events, event)
	}
	for uid, p := range q.unschedulable {
		if !mayHelp(event, p) {
			continue
		}
		delete(q.unschedulable, uid)
		q.requeue(p)
	}
}

// mayHelp says whether event may undo a rejection of p.
func mayHelp(event Event, p *PodInfo) bool {
	if event.Plugins == nil || len(p.UnschedulablePlugins) == 0 {
		return true
	}
	for plugin := range p.UnschedulablePlugins {
		if event.Plugins.Has(plugin) {
			return true
		}
	}
	return false
}

func anyMayHelp(events []Event, p *PodInfo) bool {
	for _, e := range events {
		if mayHelp(e, p) {
			return true
		}
	}
	return false
}

// FlushUnschedulable retries the pods that have waited as unschedulable
// for longer than MaxUnschedulableWait. Call it periodically.
func (q *Queue) FlushUnschedulable() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.opts.Now()
	for uid, p := range q.unschedulable {
		if now.Sub(p.Timestamp) > q.opts.MaxUnschedulableWait {
			delete(q.unschedulable, uid)
			q.requeue(p)
		}
	}
}

// Lengths reports how many pods are active, backing off and unschedulable.
func (q *Queue) Lengths() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// requeue puts a pod that leaves the unschedulable set in the back-off heap
// while its back-off lasts, in the active heap after.
func (q *Queue) requeue(p *PodInfo) {
	if q.opts.Now().Before(q.backoffExpiry(p)) {
		heap.Push(&q.backoff, p)
	} else {
		heap.Push(&q.active, p)
	}
	q.signal()
}

// flushBackoff moves the pods whose back-off is over to the active heap.
func (q *Queue) flushBackoff() {
	now := q.opts.Now()
	for q.backoff.Len() > 0 && !now.Before(q.backoffExpiry(q.backoff.items[0])) {
		heap.Push(&q.active, heap.Pop(&q.backoff))
	}
}

// BackoffDuration is the back-off after the given number of attempts:
// InitialBackoff doubled for each attempt after the first, at most MaxBackoff.
func (q *Queue) BackoffDuration(attempts int) time.Duration {
	d := q.opts.InitialBackoff
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= q.opts.MaxBackoff {
			return q.opts.MaxBackoff
		}
	}
	return d
}

func (q *Queue) backoffExpiry(p *PodInfo) time.Time {
	if p.failedAt.IsZero() {
		return time.Time{}
	}
	return p.failedAt.Add(q.BackoffDuration(p.Attempts))
}

func (q *Queue) byBackoffExpiry(a, b *PodInfo) bool {
	return q.backoffExpiry(a).Before(q.backoffExpiry(b))
}

func (q *Queue) find(uid types.UID) *PodInfo {
	if p := q.active.get(uid); p != nil {
		return p
	}
	if p := q.backoff.get(uid); p != nil {
		return p
	}
	return q.unschedulable[uid]
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// byPriority orders higher priorities first, then earlier arrivals.
func byPriority(a, b *PodInfo) bool {
	pa, pb := corev1helpers.PodPriority(a.Pod), corev1helpers.PodPriority(b.Pod)
	if pa != pb {
		return pa > pb
	}
	return a.Timestamp.Before(b.Timestamp)
}

// schedulingInputsChanged says whether an update can change where a pod
// fits: its spec, labels or annotations (status changes, such as the
// scheduler's own PodScheduled condition, cannot).
func schedulingInputsChanged(old, pod *corev1.Pod) bool {
	return !equality.Semantic.DeepEqual(old.Spec, pod.Spec) ||
		!equality.Semantic.DeepEqual(old.Labels, pod.Labels) ||
		!equality.Semantic.DeepEqual(old.Annotations, pod.Annotations)
}
