package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// eventInvalidNamespace is the reason of the event on a dependent whose
// owner reference cannot point at an object in its namespace.
const eventInvalidNamespace = "OwnerRefInvalidNamespace"

// sync does what the object with uid calls for now: for an owner being
// deleted, orphan or delete its dependents and drop the finalizer when
// done; for a dependent, delete it or drop references once its owners are
// gone or wait for it.
func (c *Controller) sync(ctx context.Context, uid types.UID) error {
	c.mu.Lock()
	obj, ok := c.graph.get(uid)
	dependents := c.graph.dependentsOf(uid)
	c.mu.Unlock()
	if !ok {
		return nil
	}
	if obj.deleting {
		return c.syncDeleting(ctx, obj, dependents)
	}
	if len(obj.owners) == 0 {
		return nil
	}
	states := map[types.UID]ownerState{}
	for _, ref := range obj.owners {
		s, err := c.ownerState(ctx, obj, ref)
		if err != nil {
			return err
		}
		states[ref.UID] = s
	}
	waiting := false
	for _, d := range dependents {
		waiting = waiting || d.deletingDependents()
	}
	return c.apply(ctx, obj, planDependent(obj, states, len(dependents) > 0, waiting))
}

// syncDeleting carries out the propagation an owner being deleted asks
// for with its finalizers.
func (c *Controller) syncDeleting(ctx context.Context, obj object, dependents []object) error {
	if obj.orphaning() {
		for _, d := range dependents {
			if _, err := c.patchMeta(ctx, d, map[string]any{"ownerReferences": withoutOwner(d.owners, obj.uid)}); err != nil {
				return fmt.Errorf("orphaning %s from %s: %w", describe(d), describe(obj), err)
			}
		}
		updated, err := c.removeFinalizer(ctx, obj, metav1.FinalizerOrphanDependents)
		if err != nil || updated == nil {
			return err
		}
		obj = *updated
	}
	if !obj.deletingDependents() {
		return nil
	}
	if len(blockingDependents(obj, dependents)) == 0 {
		_, err := c.removeFinalizer(ctx, obj, metav1.FinalizerDeleteDependents)
		return err
	}
	for _, d := range dependents {
		if !d.deleting {
			c.queue.Add(d.uid)
		}
	}
	return nil
}

// ownerState looks ref up in the graph, and on the API server when the
// graph does not know it (its kind is not watched, or the watch is behind).
func (c *Controller) ownerState(ctx context.Context, dependent object, ref metav1.OwnerReference) (ownerState, error) {
	c.mu.Lock()
	owner, known := c.graph.get(ref.UID)
	gone := c.graph.isGone(ref.UID)
	c.mu.Unlock()
	if known && matches(owner, ref, dependent.namespace) {
		return stateOf(owner), nil
	}
	if known && owner.namespace != "" && owner.namespace != dependent.namespace {
		c.invalidNamespace(dependent, ref)
		return ownerDangling, nil
	}
	if gone {
		return ownerDangling, nil
	}
	r, ok := c.resources[refKind(ref)]
	if !ok {
		return 0, fmt.Errorf("%s names an owner of kind %s (%s), which the API server does not serve", describe(dependent), ref.Kind, ref.APIVersion)
	}
	namespace := ""
	if r.namespaced {
		if dependent.namespace == "" {
			c.invalidNamespace(dependent, ref)
			return ownerDangling, nil
		}
		namespace = dependent.namespace
	}
	live, err := c.metadata.Resource(r.gvr).Namespace(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ownerDangling, nil
	}
	if err != nil {
		return 0, fmt.Errorf("looking up the owner %s %s of %s: %w", ref.Kind, ref.Name, describe(dependent), err)
	}
	if live.UID != ref.UID {
		return ownerDangling, nil
	}
	return stateOf(object{finalizers: live.Finalizers, deleting: live.DeletionTimestamp != nil}), nil
}

// invalidNamespace records an event on a dependent whose owner reference
// names an object in another namespace, or a namespaced owner of a
// cluster-scoped object; such a reference counts as gone.
func (c *Controller) invalidNamespace(dependent object, ref metav1.OwnerReference) {
	c.recorder.Eventf(&corev1.ObjectReference{
		APIVersion: dependent.resource.GroupVersion().String(), Kind: dependent.kind.Kind,
		Namespace: dependent.namespace, Name: dependent.name, UID: dependent.uid,
	}, corev1.EventTypeWarning, eventInvalidNamespace, "ownerRef [%s/%s, namespace: %s, name: %s, uid: %s] does not exist in namespace %q",
		ref.APIVersion, ref.Kind, dependent.namespace, ref.Name, ref.UID, dependent.namespace)
}

// apply carries out a plan for a dependent. Writes are conditional on the
// resourceVersion the decision was made on, so a change the graph has not
// seen yet (an adoption, say) makes it fail and be decided again.
func (c *Controller) apply(ctx context.Context, obj object, a action) error {
	rv := obj.resourceVersion
	if a.patch {
		updated, err := c.patchMeta(ctx, obj, map[string]any{"ownerReferences": a.owners})
		if err != nil {
			return fmt.Errorf("updating the ownerReferences of %s: %w", describe(obj), err)
		}
		if updated == nil {
			return nil
		}
		rv = updated.ResourceVersion
	}
	if !a.remove {
		return nil
	}
	err := c.metadata.Resource(obj.resource).Namespace(obj.namespace).Delete(ctx, obj.name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &obj.uid, ResourceVersion: &rv},
		PropagationPolicy: &a.policy,
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting %s: %w", describe(obj), err)
	}
	c.log.Debug("deleted a dependent", "object", describe(obj), "propagation", a.policy)
	return nil
}

// removeFinalizer drops f from an owner and returns what it became, or nil
// when it is gone.
func (c *Controller) removeFinalizer(ctx context.Context, obj object, f string) (*object, error) {
	updated, err := c.patchMeta(ctx, obj, map[string]any{"finalizers": withoutFinalizer(obj.finalizers, f)})
	if err != nil {
		return nil, fmt.Errorf("removing finalizer %s from %s: %w", f, describe(obj), err)
	}
	if updated == nil {
		return nil, nil
	}
	obj.resourceVersion, obj.finalizers = updated.ResourceVersion, updated.Finalizers
	return &obj, nil
}

// patchMeta merges fields into the object's metadata, on the condition
// that its UID and resourceVersion are still those the graph holds. It
// returns nil when the object is gone.
func (c *Controller) patchMeta(ctx context.Context, obj object, fields map[string]any) (*metav1.PartialObjectMetadata, error) {
	fields["uid"] = obj.uid
	fields["resourceVersion"] = obj.resourceVersion
	patch, err := json.Marshal(map[string]any{"metadata": fields})
	if err != nil {
		return nil, err
	}
	updated, err := c.metadata.Resource(obj.resource).Namespace(obj.namespace).Patch(ctx, obj.name, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return updated, err
}
