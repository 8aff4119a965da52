package endpointslice

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// errStaleSlices means the informer has not yet shown the controller's own
// latest slice writes; acting now could write twice.
var errStaleSlices = errors.New("the EndpointSlice cache is older than this controller's last writes; waiting for it")

// sync brings the slices of the Service at key in line with the pods it
// selects. It looks only at the current state, so it may run any number of
// times.
func (c *Controller) sync(_ context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return fmt.Errorf("bad queue key %q: %w", key, err)
	}
	svc, err := c.serviceLister.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		// Its slices go with it: the garbage collector follows their
		// ownerReferences.
		c.triggerTimes.DeleteService(namespace, name)
		c.reconciler.DeleteService(namespace, name)
		c.tracker.DeleteService(namespace, name)
		return nil
	}
	if err != nil {
		return err
	}
	if !hasEndpoints(svc) {
		return nil
	}
	pods, err := c.podLister.Pods(namespace).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		c.warn(svc, "FailedToListPods", "listing Pods", err)
		return err
	}
	slices, err := c.sliceLister.EndpointSlices(namespace).List(slicesOf(name))
	if err != nil {
		c.warn(svc, "FailedToListEndpointSlices", "listing Endpoint Slices", err)
		return err
	}
	slices = live(slices)
	if c.tracker.StaleSlices(svc, slices) {
		return errStaleSlices
	}
	trigger := c.triggerTimes.ComputeEndpointLastChangeTriggerTime(namespace, svc, pods)
	if err := c.reconciler.Reconcile(c.logr, svc, pods, slices, trigger); err != nil {
		c.warn(svc, "FailedToUpdateEndpointSlices", "updating Endpoint Slices", err)
		return err
	}
	return nil
}
