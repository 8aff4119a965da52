package namespace

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
)

// errContentRemaining means the namespace still holds objects (waiting for
// their finalizers or grace periods); the sync is retried with back-off.
type errContentRemaining struct{ summary string }

func (e errContentRemaining) Error() string { return e.summary }

// Waiting marks the error as routine for the worker's log.
func (e errContentRemaining) Waiting() bool { return true }

// sync empties the terminating namespace name and finalizes it once
// nothing is left. It may run any number of times.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !ours(cached) {
		return nil
	}
	// Read it fresh: deleting content is not something to do on a stale
	// copy, and the status write below needs the latest version.
	ns, err := c.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading namespace %s: %w", name, err)
	}
	if !ours(ns) {
		return nil
	}
	p := c.deleteContent(ctx, name)
	if conds, changed := conditions(ns.Status.Conditions, p, c.now()); changed {
		updated := ns.DeepCopy()
		updated.Status.Conditions = conds
		if ns, err = c.client.CoreV1().Namespaces().UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("writing the deletion conditions of namespace %s: %w", name, err)
		}
	}
	if len(p.deleteErrors) > 0 {
		c.recorder.Eventf(ns, corev1.EventTypeWarning, "FailedToDeleteContent", "Deleting the content of namespace %s: %v", name, p.deleteErrors)
	}
	if !p.done() {
		return errContentRemaining{fmt.Sprintf("discovery: %q, parsing: %q, errors: %v, remaining: %v, finalizers: %v",
			p.discovery, p.parsing, p.deleteErrors, p.remaining, p.finalizers)}
	}
	if _, err := c.client.CoreV1().Namespaces().Finalize(ctx, finalized(ns), metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalizing namespace %s: %w", name, err)
	}
	c.log.Info("namespace emptied and finalized", "namespace", name)
	return nil
}

// deleteContent deletes every object in namespace and counts what is left.
func (c *Controller) deleteContent(ctx context.Context, namespace string) progress {
	p := progress{remaining: map[string]int{}, finalizers: map[string]int{}}
	lists, err := c.discover()
	if err != nil {
		// A partial failure still lists the groups that answered.
		p.discovery = err.Error()
		var groups *discovery.ErrGroupDiscoveryFailed
		if errors.As(err, &groups) {
			p.discovery = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(groups.Groups), err)
		}
	}
	ts, parseErrs := targets(lists)
	if len(parseErrs) > 0 {
		p.parsing = errors.Join(parseErrs...).Error()
	}
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	for _, t := range ts {
		resource := c.meta.Resource(t.gvr).Namespace(namespace)
		name := resourceName(t.gvr)
		if t.collection {
			err := resource.DeleteCollection(ctx, opts, metav1.ListOptions{})
			if err == nil || apierrors.IsNotFound(err) {
				c.count(ctx, &p, t, namespace)
				continue
			}
			if !apierrors.IsMethodNotSupported(err) {
				p.deleteErrors = append(p.deleteErrors, fmt.Sprintf("deleting %s: %v", name, err))
				continue
			}
		}
		list, err := resource.List(ctx, metav1.ListOptions{})
		if err != nil {
			p.deleteErrors = append(p.deleteErrors, fmt.Sprintf("listing %s: %v", name, err))
			continue
		}
		for _, item := range list.Items {
			if item.DeletionTimestamp != nil {
				continue
			}
			if err := resource.Delete(ctx, item.Name, opts); err != nil && !apierrors.IsNotFound(err) {
				p.deleteErrors = append(p.deleteErrors, fmt.Sprintf("deleting %s %s: %v", name, item.Name, err))
			}
		}
		c.count(ctx, &p, t, namespace)
	}
	return p
}

// count adds what is left of t in namespace to p.
func (c *Controller) count(ctx context.Context, p *progress, t target, namespace string) {
	name := resourceName(t.gvr)
	list, err := c.meta.Resource(t.gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		p.deleteErrors = append(p.deleteErrors, fmt.Sprintf("listing %s: %v", name, err))
		return
	}
	if len(list.Items) > 0 {
		p.remaining[name] += len(list.Items)
	}
	for _, item := range list.Items {
		for _, f := range item.Finalizers {
			p.finalizers[f]++
		}
	}
}
