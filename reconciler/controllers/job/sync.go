package job

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-io/berth/reconciler/controllers/ownership"
)

// slowStartBatch is the first batch of pod creations; each batch that
// succeeds doubles the next, so that a job whose pods are all refused
// costs one request, not parallelism requests.
const slowStartBatch = 1

// parallelCalls bounds the requests one sync has in flight.
const parallelCalls = 16

// untrackPatch drops the job-tracking finalizer and nothing else.
var untrackPatch = fmt.Appendf(nil, `{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q]}}`, batchv1.JobTrackingFinalizer)

// sync brings the job at key one step closer to its end: it claims its
// pods, asks plan what to do and does it. It looks only at the current
// state, so it may run any number of times.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad queue key %q: %w", key, err)
	}
	job, err := c.jobLister.Jobs(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.forget(key)
		c.memory.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if m := job.Spec.ManagedBy; m != nil && *m != batchv1.JobControllerName {
		return nil
	}
	if c.memory.stale(key, job.ResourceVersion) {
		// The job's update event brings our last write and syncs again.
		return nil
	}
	if finished(job) {
		c.memory.forget(key)
		return c.expire(ctx, key, job)
	}
	// Read before listing pods: a creation seen after this point is in the
	// list too, never counted missing twice.
	mayManage := c.expectations.satisfied(key)
	pods, err := c.claim(ctx, job)
	if err != nil {
		return err
	}
	d := plan(input{
		job: job, pods: pods, backoff: c.memory.backoff(key), now: c.now(), mayManage: mayManage,
		backoffBase: c.backoff, backoffMax: c.maxBackoff,
	})
	return c.carryOut(ctx, key, job, d)
}

// claim returns the pods job controls, after adopting the orphans its
// selector matches and releasing those it stopped matching (whose
// tracking finalizer the orphan worker then removes).
func (c *Controller) claim(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s has an invalid selector: %w", job.Namespace, job.Name, err)
	}
	candidates, err := ownership.Controlled[*corev1.Pod](c.podIndexer, job, true)
	if err != nil {
		return nil, err
	}
	pods := c.client.CoreV1().Pods(job.Namespace)
	patch := func(ctx context.Context, name string, body []byte) error {
		_, err := pods.Patch(ctx, name, ownership.PatchType, body, metav1.PatchOptions{})
		return err
	}
	fresh := func(ctx context.Context) (metav1.Object, error) {
		return c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	}
	return ownership.Apply(ctx, ownership.Plan(job, selector, candidates), job, controllerKind, patch, fresh)
}

// carryOut performs d for job in the order plan requires: pods first, then
// the status, then the finalizers whose pods the status now records.
func (c *Controller) carryOut(ctx context.Context, key string, job *batchv1.Job, d decision) error {
	if len(d.create)+len(d.remove) > 0 {
		// plan creates and removes only when earlier expectations are met,
		// so these replace nothing outstanding. Stopping a finished job's
		// pods needs none: nothing is created after.
		c.expectations.expect(key, len(d.create), uids(d.remove))
	}
	errs := []error{
		c.deletePods(ctx, key, job, d.remove, true),
		c.deletePods(ctx, key, job, d.stop, false),
	}
	refused, err := c.createPods(ctx, key, job, d.create)
	errs = append(errs, err)
	d.status.Active -= int32(refused)
	if !apiequality.Semantic.DeepEqual(job.Status, d.status) {
		updated := job.DeepCopy()
		updated.Status = d.status
		written, err := c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if err != nil {
			// Nothing is untracked: the status does not record it.
			return errors.Join(append(errs, fmt.Errorf("writing the status of job %s: %w", key, err))...)
		}
		c.memory.wrote(key, written.ResourceVersion)
	}
	c.memory.setBackoff(key, d.backoff)
	for _, e := range d.events {
		c.recorder.Event(job, e.kind, e.reason, e.message)
	}
	errs = append(errs, c.untrack(ctx, d.untrack))
	if d.requeue > 0 {
		c.queue.AddAfter(key, d.requeue)
	}
	return errors.Join(errs...)
}

// deletePods deletes pods of job, first dropping their tracking finalizer
// when untrackFirst (they are not to be counted).
func (c *Controller) deletePods(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod, untrackFirst bool) error {
	client := c.client.CoreV1().Pods(job.Namespace)
	return inParallel(len(pods), func(i int) error {
		p := pods[i]
		err := func() error {
			if untrackFirst && tracked(p) {
				if _, err := client.Patch(ctx, p.Name, types.StrategicMergePatchType, untrackPatch, metav1.PatchOptions{}); err != nil {
					return err
				}
			}
			return client.Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		}()
		if err != nil {
			// The informer will not show this deletion.
			c.expectations.deleted(key, p.UID)
			if apierrors.IsNotFound(err) {
				return nil
			}
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			return fmt.Errorf("deleting pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		return nil
	})
}

// createPods creates a pod per index in slow-start batches and returns how
// many were not created. It stops after the first batch with a failure;
// the next sync tries again.
func (c *Controller) createPods(ctx context.Context, key string, job *batchv1.Job, indexes []int) (int, error) {
	client := c.client.CoreV1().Pods(job.Namespace)
	var refused atomic.Int32
	var err error
	next := 0
	for batch := slowStartBatch; next < len(indexes) && err == nil; batch *= 2 {
		chunk := indexes[next:min(next+batch, len(indexes))]
		next += len(chunk)
		err = inParallel(len(chunk), func(i int) error {
			pod, err := client.Create(ctx, newPod(job, chunk[i]), metav1.CreateOptions{})
			if err == nil {
				c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
				return nil
			}
			refused.Add(1)
			c.expectations.created(key)
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				// The namespace is going, and the job with it.
				return nil
			}
			c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return fmt.Errorf("creating a pod for job %s: %w", key, err)
		})
	}
	// The creations never attempted will not be seen either.
	skipped := len(indexes) - next
	for range skipped {
		c.expectations.created(key)
	}
	return int(refused.Load()) + skipped, err
}

// untrack drops the tracking finalizer of pods; pods already gone are
// fine.
func (c *Controller) untrack(ctx context.Context, pods []*corev1.Pod) error {
	return inParallel(len(pods), func(i int) error {
		p := pods[i]
		_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, untrackPatch, metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing the tracking finalizer of pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		return nil
	})
}

// expire deletes a finished job whose ttlSecondsAfterFinished has passed,
// or looks again when it will have. The deletion is in the foreground, as
// Kubernetes' TTL controller does it: the job goes once its pods are gone.
// The preconditions keep a job changed in the meantime (a new TTL) alive.
func (c *Controller) expire(ctx context.Context, key string, job *batchv1.Job) error {
	at, ok := expiry(job)
	if !ok {
		return nil
	}
	if wait := at.Sub(c.now()); wait > 0 {
		c.queue.AddAfter(key, wait)
		return nil
	}
	foreground := metav1.DeletePropagationForeground
	err := c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		PropagationPolicy: &foreground,
		Preconditions:     &metav1.Preconditions{UID: &job.UID, ResourceVersion: &job.ResourceVersion},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job %s after its ttlSecondsAfterFinished: %w", key, err)
	}
	return nil
}

// syncOrphan drops the tracking finalizer of a pod no job tracks any more
// (its job was deleted or finished), so that it can be deleted. The cache's
// word is checked against the API server before.
func (c *Controller) syncOrphan(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad queue key %q: %w", key, err)
	}
	pod, err := c.podLister.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !tracked(pod) || !c.orphaned(pod) {
		return nil
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil && ref.Kind == controllerKind.Kind {
		job, err := c.client.BatchV1().Jobs(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("checking the job of pod %s: %w", key, err)
		case job.UID == ref.UID && !finished(job):
			// The cache is behind: the job lives and will count the pod.
			return nil
		}
	}
	return c.untrack(ctx, []*corev1.Pod{pod})
}

// inParallel runs fn(0..n-1), at most parallelCalls at a time, and joins
// their errors.
func inParallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	limit := make(chan struct{}, parallelCalls)
	var wg sync.WaitGroup
	for i := range n {
		limit <- struct{}{}
		wg.Go(func() {
			defer func() { <-limit }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// uids lists the UIDs of pods.
func uids(pods []*corev1.Pod) []types.UID {
	out := make([]types.UID, len(pods))
	for i, p := range pods {
		out[i] = p.UID
	}
	return out
}
