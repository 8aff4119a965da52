// Package job is the Job controller: it runs a Job's pods to completion
// as Kubernetes' does. It keeps parallelism pods running until completions
// succeed (NonIndexed, or Indexed with one pod per completion index that
// learns its index from the batch.kubernetes.io/job-completion-index
// annotation, label and JOB_COMPLETION_INDEX), replaces failed pods after
// an exponential back-off until backoffLimit is passed, stops the job at
// activeDeadlineSeconds, deletes and recreates pods on suspend and resume,
// and deletes finished jobs after ttlSecondsAfterFinished.
//
// Pods carry the batch.kubernetes.io/job-tracking finalizer until their
// end is recorded in the job's status, so that each is counted exactly
// once even if it is deleted; status reports active, ready, terminating,
// succeeded, failed, completedIndexes, startTime, completionTime and the
// SuccessCriteriaMet/Complete, FailureTarget/Failed and Suspended
// conditions. The decisions are the pure functions of plan.go; sync.go does
// the I/O.
package job

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/berth-io/berth/reconciler/controllers/ownership"

	"github.com/berth-io/berth/reconciler/worker"
)

// Options tune the controller; the zero value is Kubernetes' default.
type Options struct {
	// Backoff is the wait before replacing a job's first failed pod
	// (DefaultBackoff when 0); it doubles with each further failure up to
	// MaxBackoff (DefaultMaxBackoff when 0). Tests shorten both.
	Backoff, MaxBackoff time.Duration
	// Log receives the controller's logs (slog.Default() when nil).
	Log *slog.Logger
}

// Controller is the Job controller. Build it with New before the informer
// factory starts, then call Run.
type Controller struct {
	client       kubernetes.Interface
	jobLister    batchlisters.JobLister
	podLister    corelisters.PodLister
	podIndexer   cache.Indexer
	synced       []cache.InformerSynced
	queue        workqueue.TypedRateLimitingInterface[string]
	orphans      workqueue.TypedRateLimitingInterface[string]
	recorder     record.EventRecorder
	expectations *expectations
	memory       *memory
	backoff      time.Duration
	maxBackoff   time.Duration
	log          *slog.Logger
	now          func() time.Time
}

// New builds the controller on factory's Job and Pod informers (it adds an
// index to the latter, so call it before factory.Start). recorder records
// events on jobs; client should be the controller manager's identity.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	jobs := factory.Batch().V1().Jobs()
	pods := factory.Core().V1().Pods()
	if err := ownership.AddControllerIndex(pods.Informer()); err != nil {
		return nil, fmt.Errorf("job controller: indexing pods by controller: %w", err)
	}
	c := &Controller{
		client:     client,
		jobLister:  jobs.Lister(),
		podLister:  pods.Lister(),
		podIndexer: pods.Informer().GetIndexer(),
		synced:     []cache.InformerSynced{jobs.Informer().HasSynced, pods.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job"}),
		orphans: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "job_orphan_pod"}),
		recorder:     recorder,
		expectations: newExpectations(time.Now),
		memory:       newMemory(),
		backoff:      opts.Backoff,
		maxBackoff:   opts.MaxBackoff,
		log:          opts.Log,
		now:          time.Now,
	}
	if c.backoff <= 0 {
		c.backoff = DefaultBackoff
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "job")
	if _, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.deleteJob,
	}); err != nil {
		return nil, fmt.Errorf("job controller: watching jobs: %w", err)
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("job controller: watching pods: %w", err)
	}
	return c, nil
}

// Run waits for the informers' caches, then syncs jobs with workers
// goroutines (and releases orphaned pods with one more) until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	wg.Go(func() {
		worker.Run(ctx, c.orphans, 1, c.log.With("queue", "orphans"), "pod", c.syncOrphan, c.synced...)
	})
	worker.Run(ctx, c.queue, workers, c.log, "job", c.sync, c.synced...)
	wg.Wait()
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key job", "err", err)
		return
	}
	c.queue.Add(key)
}

// deleteJob forgets a deleted job and lets go of the pods it still tracks.
func (c *Controller) deleteJob(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	key := keyOf(job)
	c.expectations.forget(key)
	c.memory.forget(key)
	pods, err := ownership.Controlled[*corev1.Pod](c.podIndexer, job, false)
	if err != nil {
		c.log.Error("listing the pods of a deleted job", "job", key, "err", err)
		return
	}
	for _, p := range pods {
		if tracked(p) {
			c.orphans.Add(podKey(p))
		}
	}
}

// addPod counts a creation towards its job's expectations and wakes the
// job, or the jobs that may adopt an orphan.
func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (after a relist).
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if job := c.resolve(pod.Namespace, ref); job != nil {
			key := keyOf(job)
			c.expectations.created(key)
			c.queue.Add(key)
		}
	} else {
		c.enqueueSelecting(pod)
	}
	c.checkOrphan(pod)
}

// updatePod wakes the jobs a pod change concerns: its controller before
// and after, and those that may adopt it.
func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if job := c.resolve(old.Namespace, oldRef); job != nil {
			c.queue.Add(keyOf(job))
		}
	}
	if curRef != nil {
		if job := c.resolve(cur.Namespace, curRef); job != nil {
			key := keyOf(job)
			if cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil {
				c.expectations.deleted(key, cur.UID)
			}
			c.queue.Add(key)
		}
	} else if oldRef != nil || !labels.Equals(old.Labels, cur.Labels) {
		c.enqueueSelecting(cur)
	}
	c.checkOrphan(cur)
}

// deletePod counts a deletion towards its job's expectations.
func (c *Controller) deletePod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	if job := c.resolve(pod.Namespace, ref); job != nil {
		key := keyOf(job)
		c.expectations.deleted(key, pod.UID)
		c.queue.Add(key)
	}
}

// enqueueSelecting wakes every job whose selector matches orphan pod.
func (c *Controller) enqueueSelecting(pod *corev1.Pod) {
	for _, job := range c.selecting(pod) {
		c.queue.Add(keyOf(job))
	}
}

// selecting lists the jobs in pod's namespace whose selector matches it.
func (c *Controller) selecting(pod *corev1.Pod) []*batchv1.Job {
	if len(pod.Labels) == 0 {
		return nil
	}
	jobs, err := c.jobLister.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*batchv1.Job
	for _, job := range jobs {
		sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, job)
		}
	}
	return out
}

// checkOrphan queues a pod that carries the job-tracking finalizer while
// no running job of the cache will ever remove it.
func (c *Controller) checkOrphan(pod *corev1.Pod) {
	if tracked(pod) && c.orphaned(pod) {
		c.orphans.Add(podKey(pod))
	}
}

// orphaned reports whether, by the cache, no unfinished job tracks pod:
// its controller is not a job the cache knows, or has finished, and no
// unfinished job would adopt it.
func (c *Controller) orphaned(pod *corev1.Pod) bool {
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		job := c.resolve(pod.Namespace, ref)
		return job == nil || finished(job)
	}
	for _, job := range c.selecting(pod) {
		if !finished(job) {
			return false
		}
	}
	return true
}

// resolve is the job ref points to, if the cache has it with the same UID.
func (c *Controller) resolve(namespace string, ref *metav1.OwnerReference) *batchv1.Job {
	if ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	job, err := c.jobLister.Jobs(namespace).Get(ref.Name)
	if err != nil || job.UID != ref.UID {
		return nil
	}
	return job
}

func finished(job *batchv1.Job) bool {
	_, done := finishedAt(job)
	return done
}

func keyOf(job *batchv1.Job) string { return job.Namespace + "/" + job.Name }

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
