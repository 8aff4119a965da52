package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-io/berth/reconciler/controllers/ownership"
)

// sync brings the ReplicaSet at key to its desired pod count and writes its
// status. It looks only at the current state, so it may run any number of
// times.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad queue key %q: %w", key, err)
	}
	rs, err := c.rsLister.ReplicaSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	// Read before listing pods: a creation seen after this point is in the
	// list too, never counted missing twice.
	mayManage := c.expectations.satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// Validation rejects such selectors; nothing to retry.
		c.log.Error("invalid selector", "replicaset", key, "err", err)
		return nil
	}
	candidates, err := ownership.Controlled[*corev1.Pod](c.podIndexer, rs, true)
	if err != nil {
		return err
	}
	var active, terminating []*corev1.Pod
	for _, p := range candidates {
		switch {
		case isActive(p):
			active = append(active, p)
		case isTerminating(p) && metav1.IsControlledBy(p, rs) && selector.Matches(labels.Set(p.Labels)):
			terminating = append(terminating, p)
		}
	}
	owned, err := c.claim(ctx, rs, selector, active)
	if err != nil {
		return err
	}
	var manageErr error
	if mayManage && rs.DeletionTimestamp == nil {
		manageErr = c.manage(ctx, rs, owned)
	}
	now := c.now()
	updated, err := c.writeStatus(ctx, rs, calculateStatus(rs, owned, terminating, manageErr, now))
	if err != nil {
		return errors.Join(manageErr, err)
	}
	if manageErr != nil {
		return manageErr
	}
	if wait := nextAvailabilityCheck(owned, updated.Spec.MinReadySeconds, now); wait > 0 {
		c.queue.AddAfter(key, wait)
	}
	return nil
}

// claim adopts and releases pods (see ownership.Plan) and returns the
// active pods rs controls afterwards.
func (c *Controller) claim(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	plan := ownership.Plan(rs, selector, pods)
	if len(plan.Adopt) == 0 && len(plan.Release) == 0 {
		return plan.Owned, nil
	}
	patch := func(ctx context.Context, name string, body []byte) error {
		_, err := c.client.CoreV1().Pods(rs.Namespace).Patch(ctx, name, ownership.PatchType, body, metav1.PatchOptions{})
		return err
	}
	fresh := func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
	}
	return ownership.Apply(ctx, plan, rs, controllerKind, patch, fresh)
}

// manage creates or deletes pods as reconcileReplicas decides, recording
// expectations first so that the next sync waits for the informer to show
// the outcome.
func (c *Controller) manage(ctx context.Context, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	related, err := c.relatedPods(rs)
	if err != nil {
		return err
	}
	create, remove := reconcileReplicas(int(replicas(rs)), pods, related, c.burst, c.now())
	key := keyOf(rs)
	switch {
	case create > 0:
		c.expectations.expect(key, create, nil)
		done, err := c.createPods(ctx, rs, create)
		for range create - done {
			c.expectations.created(key)
		}
		return err
	case len(remove) > 0:
		keys := make([]string, len(remove))
		for i, p := range remove {
			keys[i] = podKey(p)
		}
		c.expectations.expect(key, 0, keys)
		return c.deletePods(ctx, rs, remove)
	}
	return nil
}

// createPods creates n pods from rs's template in slow-start batches and
// returns how many were created. It stops at the first batch with a failure.
func (c *Controller) createPods(ctx context.Context, rs *appsv1.ReplicaSet, n int) (int, error) {
	pod, err := podFromTemplate(rs)
	if err != nil {
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return 0, err
	}
	created := 0
	for _, size := range slowStartBatches(n) {
		errs := make([]error, size)
		var wg sync.WaitGroup
		for i := range size {
			wg.Go(func() { errs[i] = c.createPod(ctx, rs, pod) })
		}
		wg.Wait()
		var failed []error
		terminating := false
		for _, err := range errs {
			switch {
			case err == nil:
				created++
			case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
				terminating = true
			default:
				failed = append(failed, err)
			}
		}
		if len(failed) > 0 {
			return created, errors.Join(failed...)
		}
		if terminating {
			return created, nil
		}
	}
	return created, nil
}

func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet, pod *corev1.Pod) error {
	out, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod.DeepCopy(), metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		}
		return err
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", out.Name)
	return nil
}

// deletePods deletes pods in parallel. A pod already gone counts as
// deleted; for any other failure the expectation is dropped, since the
// informer will never show that deletion.
func (c *Controller) deletePods(ctx context.Context, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	key := keyOf(rs)
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Go(func() {
			uid := p.UID
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			switch {
			case err == nil:
				c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
				c.expectations.deleted(key, podKey(p))
			default:
				c.expectations.deleted(key, podKey(p))
				c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				errs[i] = fmt.Errorf("deleting pod %s/%s: %w", p.Namespace, p.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// relatedPods are the active pods of every ReplicaSet that shares rs's
// controller (rs's own included); none when rs has no controller.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) ([]*corev1.Pod, error) {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return nil, nil
	}
	sets, err := c.rsLister.ReplicaSets(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*corev1.Pod
	for _, other := range sets {
		if r := metav1.GetControllerOfNoCopy(other); r == nil || r.UID != ref.UID {
			continue
		}
		pods, err := ownership.Controlled[*corev1.Pod](c.podIndexer, other, false)
		if err != nil {
			return nil, err
		}
		out = append(out, pods...)
	}
	return out, nil
}

// writeStatus writes status through the status subresource unless nothing
// changed. After a conflict (usually the cache lagging behind this
// controller's previous write) it retries once on a fresh copy, if that
// copy's spec is still the one status describes.
func (c *Controller) writeStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if apiequality.Semantic.DeepEqual(rs.Status, status) {
		return rs, nil
	}
	client := c.client.AppsV1().ReplicaSets(rs.Namespace)
	next := rs.DeepCopy()
	next.Status = status
	out, err := client.UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if !apierrors.IsConflict(err) {
		return out, err
	}
	fresh, gerr := client.Get(ctx, rs.Name, metav1.GetOptions{})
	if gerr != nil || fresh.UID != rs.UID || fresh.Generation != rs.Generation {
		return nil, err
	}
	if apiequality.Semantic.DeepEqual(fresh.Status, status) {
		return fresh, nil
	}
	fresh.Status = status
	return client.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
}
