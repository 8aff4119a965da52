// Package scheduler is berth's kube-scheduler: it watches pods and nodes,
// places each pending pod whose schedulerName is "default-scheduler" (or
// empty) on a node, and binds it through the pods/binding subresource.
//
// Pods with scheduling gates wait until the gates are removed.
//
// One loop pops pods from a priority queue (queue), places each on a
// snapshot of the cluster (placement, pure), counts it on its node at once
// in the assume cache (cache) and binds it on a goroutine of its own, so
// the next pod already sees the decision. A pod that fits nowhere gets a
// FailedScheduling event and a PodScheduled=False condition saying why,
// per reason and node count, and waits until the cluster changes in a way
// that could help it. Serve runs it as a component: its own identity,
// informers, events, and leader election on the Lease
// kube-system/kube-scheduler.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/berth-io/berth/reconciler/scheduler/cache"
	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
	"github.com/berth-io/berth/reconciler/scheduler/placement"
	"github.com/berth-io/berth/reconciler/scheduler/queue"
)

// Defaults.
const (
	// DefaultBindTimeout bounds one binding call.
	DefaultBindTimeout = 30 * time.Second
	// DefaultAssumeTTL is how long an assumed pod whose binding succeeded
	// waits for the watch to confirm it before it is forgotten.
	DefaultAssumeTTL = 30 * time.Second
	// maxConcurrentWrites bounds the bindings and status updates in flight;
	// when they are all busy the loop waits (back pressure).
	maxConcurrentWrites = 128
	// expireInterval and flushInterval pace the housekeeping: assumed pods
	// that were never confirmed, pods unschedulable for too long.
	expireInterval = time.Second
	flushInterval  = 30 * time.Second
)

// Options tune the scheduler; the zero value is kube-scheduler's default.
type Options struct {
	// SchedulerName is the spec.schedulerName of the pods to place
	// (corev1.DefaultSchedulerName when empty); it is also the source of
	// the events.
	SchedulerName string
	// Placement tunes the search (parallelism, percentage of nodes to score).
	Placement placement.Options
	// Queue tunes the back-off of pods that could not be placed.
	Queue queue.Options
	// BindTimeout bounds one binding call; AssumeTTL is how long a bound
	// pod may stay unconfirmed by the watch.
	BindTimeout, AssumeTTL time.Duration
	// Log receives the scheduler's logs (discarded when nil).
	Log *slog.Logger
}

// Scheduler places pods. Build it with New before the informer factory
// starts, then Run it (under leader election when several copies run).
type Scheduler struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	name     string
	cache    *cache.Cache
	queue    *queue.Queue
	placer   *placement.Placer
	snapshot *nodeinfo.Snapshot
	synced   []toolscache.InformerSynced
	log      *slog.Logger
	bindTTL  time.Duration
	now      func() time.Time
	// writes limits and tracks the binding and status goroutines.
	writes   chan struct{}
	inFlight sync.WaitGroup
}

// New builds a scheduler on factory's Pod, Node and Namespace informers.
// The factory should be the scheduler's own: New replaces its Pod informer
// with one that leaves out finished pods (status.phase Succeeded or
// Failed), as kube-scheduler does. recorder records events on pods; client
// should be the scheduler's identity (server.SchedulerUser).
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Scheduler, error) {
	if opts.SchedulerName == "" {
		opts.SchedulerName = corev1.DefaultSchedulerName
	}
	if opts.BindTimeout == 0 {
		opts.BindTimeout = DefaultBindTimeout
	}
	if opts.AssumeTTL == 0 {
		opts.AssumeTTL = DefaultAssumeTTL
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{
		client:   client,
		recorder: recorder,
		name:     opts.SchedulerName,
		cache:    cache.New(opts.AssumeTTL),
		queue:    queue.New(opts.Queue),
		placer:   placement.NewPlacer(opts.Placement),
		snapshot: &nodeinfo.Snapshot{},
		log:      opts.Log,
		bindTTL:  opts.BindTimeout,
		now:      time.Now,
		writes:   make(chan struct{}, maxConcurrentWrites),
	}
	if err := s.watch(factory); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return s, nil
}

// Run places pods until ctx is done (after waiting for the informers to
// sync), then waits for the bindings and status updates it started. It may
// be called again after it returns, as leader election does per term.
func (s *Scheduler) Run(ctx context.Context) {
	if !toolscache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return
	}
	s.log.Info("scheduling", "scheduler", s.name, "nodes", s.cache.NodeCount())
	var housekeeping sync.WaitGroup
	housekeeping.Go(func() { s.housekeep(ctx) })
	for {
		p, err := s.queue.Pop(ctx)
		if err != nil {
			break
		}
		s.scheduleOne(ctx, p)
	}
	housekeeping.Wait()
	s.inFlight.Wait()
}

// housekeep forgets assumed pods the watch never confirmed and retries
// pods that have been unschedulable for long.
func (s *Scheduler) housekeep(ctx context.Context) {
	expire := time.NewTicker(expireInterval)
	defer expire.Stop()
	flush := time.NewTicker(flushInterval)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-expire.C:
			if expired := s.cache.Expire(s.now()); len(expired) > 0 {
				for _, p := range expired {
					s.log.Warn("forgetting an assumed pod the watch never showed bound", "pod", p.Namespace+"/"+p.Name, "node", p.Spec.NodeName)
				}
				s.queue.MoveOnEvent(eventAssignedPodDelete)
			}
		case <-flush.C:
			s.queue.FlushUnschedulable()
		}
	}
}

// scheduleOne places one pod, assumes it on its node and starts binding it.
func (s *Scheduler) scheduleOne(ctx context.Context, p *queue.PodInfo) {
	pod := p.Pod
	if pod.DeletionTimestamp != nil || s.cache.IsAssumed(pod.UID) {
		s.queue.Done(pod.UID)
		return
	}
	info, err := nodeinfo.NewPodInfo(pod)
	if err != nil {
		s.queue.RequeueAfterError(p)
		s.reportFailure(ctx, pod, corev1.PodReasonSchedulerError, err)
		return
	}
	s.cache.UpdateSnapshot(s.snapshot)
	decision, err := s.placer.Place(info, s.snapshot)
	if err != nil {
		if fit, ok := errors.AsType[*placement.FitError](err); ok {
			s.queue.Requeue(p, fit.Plugins)
			s.log.Debug("unschedulable", "pod", pod.Namespace+"/"+pod.Name, "reason", err)
			s.reportFailure(ctx, pod, corev1.PodReasonUnschedulable, err)
			return
		}
		s.queue.RequeueAfterError(p)
		s.reportFailure(ctx, pod, corev1.PodReasonSchedulerError, err)
		return
	}
	// The assumed copy differs only in spec.nodeName; the rest is shared.
	assumed := *pod
	assumed.Spec.NodeName = decision.Node
	info.Pod = &assumed
	if err := s.cache.AssumePod(info); err != nil {
		s.queue.RequeueAfterError(p)
		s.log.Error("assuming pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	s.async(func() { s.bind(ctx, p, decision.Node) })
}

// async runs fn on a goroutine once one of the write slots is free.
func (s *Scheduler) async(fn func()) {
	s.writes <- struct{}{}
	s.inFlight.Go(func() {
		defer func() { <-s.writes }()
		fn()
	})
}

// bind writes the decision through pods/binding. On failure the pod is
// forgotten on the node and retried after its back-off.
func (s *Scheduler) bind(ctx context.Context, p *queue.PodInfo, node string) {
	pod := p.Pod
	bindCtx, cancel := context.WithTimeout(ctx, s.bindTTL)
	defer cancel()
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(bindCtx, binding, metav1.CreateOptions{})
	if err == nil {
		s.cache.FinishBinding(pod.UID, s.now())
		s.queue.Done(pod.UID)
		s.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
		return
	}
	s.cache.ForgetPod(pod.UID)
	s.queue.MoveOnEvent(eventAssignedPodDelete)
	if apierrors.IsNotFound(err) || ctx.Err() != nil {
		// Deleted meanwhile, or this scheduler is stopping: nothing to report.
		s.queue.Done(pod.UID)
		return
	}
	s.queue.RequeueAfterError(p)
	s.log.Warn("binding failed", "pod", pod.Namespace+"/"+pod.Name, "node", node, "err", err)
	s.reportFailure(ctx, pod, corev1.PodReasonSchedulerError, fmt.Errorf("binding rejected: %w", err))
}
