package deployment

import (
	"context"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-io/berth/reconciler/controllers/ownership"
)

// sync moves the Deployment at key one step towards its spec and writes
// its status. It looks only at the current state, so it may run any number
// of times.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad queue key %q: %w", key, err)
	}
	cached, err := c.dLister.Deployments(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	if sel := d.Spec.Selector; sel == nil || len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		c.recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration >= d.Generation {
			return nil
		}
		st := *d.Status.DeepCopy()
		st.ObservedGeneration = d.Generation
		return c.writeStatus(ctx, d, st)
	}
	rss, err := c.claimReplicaSets(ctx, d)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, old := splitReplicaSets(d, rss)
		return c.writeStatus(ctx, d, calculateStatus(d, append(old, newRS), newRS, c.now()))
	}
	if st, changed := pausedStatus(d, c.now()); changed {
		if d, err = c.updateStatus(ctx, d, st); err != nil {
			return err
		}
	}
	if newRS, old := splitReplicaSets(d, rss); d.Spec.Paused || isScalingEvent(d, newRS, old) {
		return c.syncScale(ctx, d, rss)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		return c.rolloutRecreate(ctx, d, rss)
	case appsv1.RollingUpdateDeploymentStrategyType:
		return c.rolloutRolling(ctx, d, rss)
	}
	return fmt.Errorf("deployment %s: spec.strategy.type %q is neither RollingUpdate nor Recreate", key, d.Spec.Strategy.Type)
}

// syncScale resizes a paused Deployment or one whose replicas changed,
// without moving its rollout, and trims the history of a paused one.
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	d, newRS, old, err := c.currentReplicaSets(ctx, d, rss, false)
	if err != nil {
		return err
	}
	all, newRS, err := c.scale(ctx, d, append(old, newRS), newRS, proportionalScale(d, newRS, old))
	if err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.writeStatus(ctx, d, calculateStatus(d, all, newRS, c.now()))
}

// rolloutRolling takes one step of a rolling update (see rollingStep).
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	d, newRS, old, err := c.currentReplicaSets(ctx, d, rss, true)
	if err != nil {
		return err
	}
	all := append(old, newRS)
	if actions := rollingStep(d, newRS, old); len(actions) > 0 {
		all, newRS, err = c.scale(ctx, d, all, newRS, actions)
		if err != nil {
			return err
		}
		return c.syncRolloutStatus(ctx, d, all, newRS)
	}
	if isComplete(d, &d.Status) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, d, all, newRS)
}

// rolloutRecreate scales every old ReplicaSet to zero, waits until none of
// their pods runs, then creates and scales up the new one.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet) error {
	d, newRS, old, err := c.currentReplicaSets(ctx, d, rss, false)
	if err != nil {
		return err
	}
	all := append(old, newRS)
	if actions := scaleToZero(old); len(actions) > 0 {
		all, newRS, err = c.scale(ctx, d, all, newRS, actions)
		if err != nil {
			return err
		}
		return c.syncRolloutStatus(ctx, d, all, newRS)
	}
	pods, err := c.podsByReplicaSet(rss)
	if err != nil {
		return err
	}
	if oldPodsRunning(newRS, old, pods) {
		return c.syncRolloutStatus(ctx, d, all, newRS)
	}
	if newRS == nil {
		if d, newRS, old, err = c.currentReplicaSets(ctx, d, rss, true); err != nil {
			return err
		}
		all = append(old, newRS)
	}
	if want := desiredReplicas(d); replicas(newRS) != want {
		if all, newRS, err = c.scale(ctx, d, all, newRS, []scaleAction{{newRS, want}}); err != nil {
			return err
		}
	}
	if isComplete(d, &d.Status) {
		if err := c.cleanup(ctx, d, old); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, d, all, newRS)
}

// syncRolloutStatus writes rolloutStatus, or, when nothing changed, comes
// back when the progress deadline may have passed.
func (c *Controller) syncRolloutStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	now := c.now()
	st := rolloutStatus(d, all, newRS, now)
	if !apiequality.Semantic.DeepEqual(d.Status, st) {
		_, err := c.updateStatus(ctx, d, st)
		return err
	}
	key := d.Namespace + "/" + d.Name
	switch after := recheckAfter(d, &st, now); {
	case after == 0:
		c.queue.AddRateLimited(key)
	case after > 0:
		c.queue.AddAfter(key, after)
	}
	return nil
}

// currentReplicaSets splits rss into d's new ReplicaSet and the old ones.
// An existing new ReplicaSet gets d's annotations, minReadySeconds and the
// next revision if it has an older one (a rollback); d gets its revision.
// Without one, create makes it (otherwise newRS is nil). It returns d as
// last written.
func (c *Controller) currentReplicaSets(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet, create bool) (*appsv1.Deployment, *appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, old := splitReplicaSets(d, rss)
	next := maxRevision(old) + 1
	if newRS != nil {
		rs := newRS.DeepCopy()
		if syncReplicaSetAnnotations(d, rs, next) || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			// The ReplicaSet's update brings the next sync, which records
			// its revision on d.
			updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
			return d, updated, old, err
		}
		st := *d.Status.DeepCopy()
		changed := setRevision(d, rs.Annotations[RevisionAnnotation])
		if hasProgressDeadline(d) && getCondition(st, appsv1.DeploymentProgressing) == nil {
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewReplicaSet, fmt.Sprintf("Found new replica set %q", rs.Name), c.now()))
			changed = true
		}
		if !changed {
			return d, rs, old, nil
		}
		d, err := c.updateStatus(ctx, d, st)
		return d, rs, old, err
	}
	if !create {
		return d, nil, old, nil
	}
	rs := newReplicaSet(d, 0, next)
	size := newReplicaSetSize(d, append(old, rs), rs)
	rs.Spec.Replicas = &size
	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	existed := apierrors.IsAlreadyExists(err)
	switch {
	case existed:
		created, err = c.collision(ctx, d, rs)
		if err != nil {
			return d, nil, old, err
		}
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return d, nil, old, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		c.recorder.Eventf(d, corev1.EventTypeWarning, ReasonReplicaSetCreateError, "%s", msg)
		if hasProgressDeadline(d) {
			st := *d.Status.DeepCopy()
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonReplicaSetCreateError, msg, c.now()))
			if _, serr := c.updateStatus(ctx, d, st); serr != nil {
				c.log.Info("recording the failed ReplicaSet creation", "deployment", d.Namespace+"/"+d.Name, "err", serr)
			}
		}
		return d, nil, old, err
	}
	if !existed && size > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, size)
	}
	st := *d.Status.DeepCopy()
	changed := setRevision(d, strconv.FormatInt(next, 10))
	if !existed && hasProgressDeadline(d) {
		setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewReplicaSetCreated, fmt.Sprintf("Created new replica set %q", created.Name), c.now()))
		changed = true
	}
	if changed {
		d, err = c.updateStatus(ctx, d, st)
	}
	return d, created, old, err
}

// collision handles a new ReplicaSet whose name is taken. If d already
// controls it with the same template (a create the cache has not shown
// yet), it is the new ReplicaSet. Otherwise two templates hashed alike:
// bumping status.collisionCount gives the next attempt another hash.
func (c *Controller) collision(ctx context.Context, d *appsv1.Deployment, want *appsv1.ReplicaSet) (*appsv1.ReplicaSet, error) {
	rs, err := c.rsLister.ReplicaSets(want.Namespace).Get(want.Name)
	if apierrors.IsNotFound(err) {
		rs, err = c.client.AppsV1().ReplicaSets(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, err
	}
	if metav1.IsControlledBy(rs, d) && equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
		return rs, nil
	}
	st := *d.Status.DeepCopy()
	n := int32(1)
	if st.CollisionCount != nil {
		n = *st.CollisionCount + 1
	}
	st.CollisionCount = &n
	if _, err := c.updateStatus(ctx, d, st); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("replicaset %s/%s exists with another template (hash collision); retrying with collisionCount %d", want.Namespace, want.Name, n)
}

// setRevision records rev as d's revision annotation (sent with the next
// status write) and reports whether it changed.
func setRevision(d *appsv1.Deployment, rev string) bool {
	if d.Annotations[RevisionAnnotation] == rev {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = rev
	return true
}

// scale performs actions, recording an event for every size change, and
// returns all and newRS with the ReplicaSets as written.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, actions []scaleAction) ([]*appsv1.ReplicaSet, *appsv1.ReplicaSet, error) {
	written := map[string]*appsv1.ReplicaSet{}
	for _, a := range actions {
		rs, err := c.scaleReplicaSet(ctx, d, a.rs, a.replicas)
		if err != nil {
			return all, newRS, err
		}
		written[string(rs.UID)] = rs
	}
	out := make([]*appsv1.ReplicaSet, len(all))
	for i, rs := range all {
		out[i] = rs
		if rs != nil && written[string(rs.UID)] != nil {
			out[i] = written[string(rs.UID)]
		}
	}
	if newRS != nil && written[string(newRS.UID)] != nil {
		newRS = written[string(newRS.UID)]
	}
	return out, newRS, nil
}

// scaleReplicaSet sets rs's replicas to n, with the replicas annotations of
// d's current size, unless both are already so.
func (c *Controller) scaleReplicaSet(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, n int32) (*appsv1.ReplicaSet, error) {
	next := rs.DeepCopy()
	from := replicas(rs)
	annotated := setReplicasAnnotations(next, desiredReplicas(d), desiredReplicas(d)+maxSurge(d))
	if from == n && !annotated {
		return rs, nil
	}
	next.Spec.Replicas = &n
	updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return rs, fmt.Errorf("scaling replicaset %s/%s to %d: %w", rs.Namespace, rs.Name, n, err)
	}
	if from != n {
		direction := "up"
		if n < from {
			direction = "down"
		}
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", direction, rs.Name, from, n)
	}
	return updated, nil
}

// cleanup deletes the old ReplicaSets beyond d's revision history limit.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	for _, rs := range historyToDelete(d, old) {
		uid := rs.UID
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("deleting old replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	return nil
}

// claimReplicaSets adopts and releases ReplicaSets by d's selector (see
// ownership.Plan) and returns those d controls.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment %s/%s: spec.selector: %w", d.Namespace, d.Name, err)
	}
	list, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	plan := ownership.Plan(d, selector, list)
	if len(plan.Adopt) == 0 && len(plan.Release) == 0 {
		return plan.Owned, nil
	}
	client := c.client.AppsV1()
	patch := func(ctx context.Context, name string, body []byte) error {
		_, err := client.ReplicaSets(d.Namespace).Patch(ctx, name, ownership.PatchType, body, metav1.PatchOptions{})
		return err
	}
	fresh := func(ctx context.Context) (metav1.Object, error) {
		return client.Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	}
	return ownership.Apply(ctx, plan, d, controllerKind, patch, fresh)
}

// podsByReplicaSet maps the UID of each of rss to the pods it controls.
func (c *Controller) podsByReplicaSet(rss []*appsv1.ReplicaSet) (map[string][]*corev1.Pod, error) {
	out := make(map[string][]*corev1.Pod, len(rss))
	for _, rs := range rss {
		pods, err := ownership.Controlled[*corev1.Pod](c.podIndexer, rs, false)
		if err != nil {
			return nil, err
		}
		out[string(rs.UID)] = pods
	}
	return out, nil
}

// writeStatus writes st as d's status unless it is already.
func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) error {
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	_, err := c.updateStatus(ctx, d, st)
	return err
}

// updateStatus writes st (and d's annotations, which carry the revision)
// through the status subresource and returns the Deployment as written.
func (c *Controller) updateStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) (*appsv1.Deployment, error) {
	next := d.DeepCopy()
	next.Status = st
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return d, fmt.Errorf("writing the status of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	return updated, nil
}
