package gitsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync/health"
	"github.com/berth-io/berth/reconciler/gitsync/manifest"
	"github.com/berth-io/berth/reconciler/gitsync/plan"
	"github.com/berth-io/berth/reconciler/gitsync/validate"
)

// applyOutcome is what applying a commit did.
type applyOutcome struct {
	applied     []Applied
	errors      []berthv1alpha1.SyncError
	pruned      int
	unchanged   int
	pruneFailed bool
}

// ServiceAccountUser is the user name a ServiceAccount authenticates as
// (Kubernetes' convention), which gitsync impersonates.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// apply applies a validated commit: every object with server-side apply as
// the source's ServiceAccount, step by step in plan order, then prunes
// the source's objects that left git. Nothing is applied when an object's
// kind is not served or the plan has errors; nothing is pruned when an
// apply failed.
func (c *Controller) apply(ctx context.Context, src *berthv1alpha1.GitSource, commit string, report *validate.Report, st *sourceState, status *berthv1alpha1.GitSourceStatus) applyOutcome {
	var out applyOutcome
	label := SourceLabelValue(src.Namespace, src.Name)
	desired := make([]*unstructured.Unstructured, 0, len(report.Objects))
	entries := make([]Applied, 0, len(report.Objects))
	for _, o := range report.Objects {
		m, err := c.mapping(o.GVK)
		if err != nil {
			out.errors = append(out.errors, syncError(o, "", fmt.Sprintf("the API server does not serve kind %s in %s: %v", o.GVK.Kind, o.GVK.GroupVersion(), err)))
			continue
		}
		u := o.Object.DeepCopy()
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if u.GetNamespace() == "" {
				u.SetNamespace(src.Namespace)
			}
		} else {
			u.SetNamespace("")
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[SourceLabel] = label
		u.SetLabels(labels)
		annotations := u.GetAnnotations()
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[FileAnnotation] = o.Pos.File
		delete(annotations, CommitAnnotation)
		u.SetAnnotations(annotations)
		digest, err := digestOf(u)
		if err != nil {
			out.errors = append(out.errors, syncError(o, "", err.Error()))
			continue
		}
		desired = append(desired, u)
		entries = append(entries, Applied{Desired: u, Ref: plan.RefOf(u), File: o.Pos.File, resource: m.Resource, digest: digest})
	}
	if len(out.errors) > 0 {
		return out
	}
	kinds := map[schema.GroupVersionResource]bool{}
	for _, e := range entries {
		kinds[e.resource] = true
	}
	before := c.inventoryEntries(st, status)
	for _, e := range before {
		kinds[e.resource] = true
	}
	if err := c.live.ensure(kinds); err != nil {
		out.errors = append(out.errors, berthv1alpha1.SyncError{Message: err.Error()})
		return out
	}
	// What carries the source's label now, plus what the source applied
	// last (the watch may not have seen its latest writes yet; prune
	// checks the label before deleting).
	var liveRefs []plan.Ref
	liveOwned := map[string]string{}
	for gvr := range kinds {
		for _, u := range c.live.objects(gvr, label) {
			ref := plan.RefOf(u)
			liveRefs = append(liveRefs, ref)
			liveOwned[ref.ID()] = ownedFields(u)
		}
	}
	for _, e := range before {
		liveRefs = append(liveRefs, e.Ref)
	}
	// An object the last apply sent exactly as now, of which gitsync still
	// owns exactly the fields that apply gave it (nobody took one over, as
	// kubectl edit or scale do), is not sent again: it keeps the commit it
	// was applied from. Anything else is applied, which also puts back
	// what drifted.
	previous := map[string]Applied{}
	for _, e := range st.desired {
		previous[e.Ref.ID()] = e
	}
	for i := range entries {
		e := &entries[i]
		if prev, ok := previous[e.Ref.ID()]; ok && prev.digest == e.digest && prev.owned != "" && liveOwned[e.Ref.ID()] == prev.owned {
			e.unchanged, e.owned = true, prev.owned
			out.unchanged++
		}
		// The object as gitsync means it, commit included; an unchanged one
		// keeps the commit it was last sent with in the cluster.
		annotations := e.Desired.GetAnnotations()
		annotations[CommitAnnotation] = commit
		e.Desired.SetAnnotations(annotations)
	}
	p, planErrs := plan.Make(desired, liveRefs, src.Spec.PruneEnabled())
	for _, e := range planErrs {
		out.errors = append(out.errors, syncError(report.Objects[e.Index], e.Field, e.Message))
	}
	if len(out.errors) > 0 {
		return out
	}

	client, err := c.impersonating(ServiceAccountUser(src.Namespace, src.Spec.ServiceAccountName))
	if err != nil {
		out.errors = append(out.errors, berthv1alpha1.SyncError{Message: err.Error()})
		return out
	}
	for _, step := range p.Steps {
		out.errors = append(out.errors, c.applyStep(ctx, client, step, entries, report.Objects)...)
		if len(out.errors) > 0 {
			return out // later steps may depend on what failed
		}
	}
	// The inventory lists objects in the order they were applied.
	out.applied = make([]Applied, 0, len(entries))
	for _, step := range p.Steps {
		for _, i := range step {
			out.applied = append(out.applied, entries[i])
		}
	}

	for _, ref := range p.Prune {
		if err := c.prune(ctx, client, ref, label); err != nil {
			out.pruneFailed = true
			out.errors = append(out.errors, berthv1alpha1.SyncError{Object: ref.String(), Message: "pruning: " + err.Error()})
			continue
		}
		out.pruned++
	}
	return out
}

// applyStep applies entries[step...] concurrently.
func (c *Controller) applyStep(ctx context.Context, client dynamic.Interface, step []int, entries []Applied, objs []*manifest.Object) []berthv1alpha1.SyncError {
	var (
		mu   sync.Mutex
		errs []berthv1alpha1.SyncError
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range min(c.opts.ApplyWorkers, len(step)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if entries[i].unchanged {
					continue
				}
				got, err := applyOne(ctx, client, entries[i])
				if got != nil {
					entries[i].owned = ownedFields(got)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, syncError(objs[i], "", err.Error()))
					mu.Unlock()
				}
			}
		}()
	}
	for _, i := range step {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// applyOne applies e and returns the object the API server answered with.
func applyOne(ctx context.Context, client dynamic.Interface, e Applied) (*unstructured.Unstructured, error) {
	data, err := e.Desired.MarshalJSON()
	if err != nil {
		return nil, err
	}
	force := true
	var r dynamic.ResourceInterface = client.Resource(e.resource)
	if ns := e.Desired.GetNamespace(); ns != "" {
		r = client.Resource(e.resource).Namespace(ns)
	}
	return r.Patch(ctx, e.Desired.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
}

// ownedFields identifies the fields gitsync's apply owns in u (its
// managedFields entry, time included); "" when it owns none.
func ownedFields(u *unstructured.Unstructured) string {
	for _, m := range u.GetManagedFields() {
		if m.Manager == FieldManager && m.Operation == metav1.ManagedFieldsOperationApply && m.Subresource == "" && m.FieldsV1 != nil {
			t := ""
			if m.Time != nil {
				t = m.Time.UTC().String()
			}
			return m.APIVersion + "|" + t + "|" + string(m.FieldsV1.Raw)
		}
	}
	return ""
}

// prune deletes ref if it still carries the source's label.
func (c *Controller) prune(ctx context.Context, client dynamic.Interface, ref plan.Ref, label string) error {
	m, err := c.mapping(ref.GVK)
	if err != nil {
		return err
	}
	var r, read dynamic.ResourceInterface = client.Resource(m.Resource), c.dynamic.Resource(m.Resource)
	if ref.Namespace != "" {
		r, read = client.Resource(m.Resource).Namespace(ref.Namespace), c.dynamic.Resource(m.Resource).Namespace(ref.Namespace)
	}
	live, err := read.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if live.GetLabels()[SourceLabel] != label {
		return nil // someone took it over: not ours to delete
	}
	background := metav1.DeletePropagationBackground
	err = r.Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &background, Preconditions: &metav1.Preconditions{UID: ptrTo(live.GetUID())}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

func ptrTo[T any](v T) *T { return &v }

// mapping finds where kind gvk is served, refreshing discovery once when
// it is not known (a kind added since).
func (c *Controller) mapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return m, err
}

// inventoryEntries is what the source applied: the objects of the last
// apply, or after a restart the inventory in status (without desired
// objects). Entries whose kind is no longer served are left out.
func (c *Controller) inventoryEntries(st *sourceState, status *berthv1alpha1.GitSourceStatus) []Applied {
	if st.desired != nil || status == nil {
		return st.desired
	}
	out := make([]Applied, 0, len(status.Inventory))
	for _, inv := range status.Inventory {
		gvk := schema.FromAPIVersionAndKind(inv.APIVersion, inv.Kind)
		m, err := c.mapping(gvk)
		if err != nil {
			continue
		}
		out = append(out, Applied{Ref: plan.Ref{GVK: gvk, Namespace: inv.Namespace, Name: inv.Name}, File: inv.File, resource: m.Resource})
	}
	return out
}

// observe evaluates the health of what the source applied, fills the
// inventory and asks the Observe hook for drift.
func (c *Controller) observe(ctx context.Context, a *attempt) []Applied {
	entries := c.inventoryEntries(a.st, a.status)
	if len(entries) == 0 {
		a.status.Inventory = nil
		if a.status.LastAppliedCommit != "" {
			a.status.Health = berthv1alpha1.HealthHealthy
		}
		return nil
	}
	label := SourceLabelValue(a.src.Namespace, a.src.Name)
	kinds := map[schema.GroupVersionResource]bool{}
	services := false
	for _, e := range entries {
		kinds[e.resource] = true
		services = services || e.Ref.GVK.GroupKind() == schema.GroupKind{Kind: "Service"}
	}
	if err := c.live.ensure(kinds); err != nil {
		c.log.Info("cannot evaluate health", "source", a.src.Namespace+"/"+a.src.Name, "err", err)
		return entries
	}
	index := map[string]*unstructured.Unstructured{}
	for gvr := range kinds {
		for _, u := range c.live.objects(gvr, label) {
			index[gvr.String()+"/"+u.GetNamespace()+"/"+u.GetName()] = u
		}
	}
	var endpoints health.Endpoints
	if services {
		endpoints = c.live.readyEndpoints
	}
	out := make([]Applied, len(entries))
	results := make([]health.Result, len(entries))
	inventory := make([]berthv1alpha1.InventoryEntry, len(entries))
	for i, e := range entries {
		e.Live = index[e.resource.String()+"/"+e.Ref.Namespace+"/"+e.Ref.Name]
		e.Health = a.st.healthOf(e.Live, endpoints)
		out[i], results[i] = e, e.Health
		inventory[i] = berthv1alpha1.InventoryEntry{
			APIVersion: e.Ref.GVK.GroupVersion().String(), Kind: e.Ref.GVK.Kind, Namespace: e.Ref.Namespace, Name: e.Ref.Name,
			File: e.File, Health: e.Health.Status, Message: e.Health.Message,
		}
	}
	a.status.Inventory = inventory
	a.status.Health = health.Aggregate(results)
	if h := c.opts.Hooks.Observe; h != nil {
		a.status.Drift = h(ctx, a.src, out)
	}
	return out
}

// digestOf identifies an object's desired content.
func digestOf(u *unstructured.Unstructured) (string, error) {
	data, err := json.Marshal(u.Object)
	if err != nil {
		return "", fmt.Errorf("encoding the object: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func syncError(o *manifest.Object, field, message string) berthv1alpha1.SyncError {
	pos := o.Pos
	if field != "" {
		pos = o.FieldPosition(field)
	}
	return berthv1alpha1.SyncError{File: pos.File, Line: pos.Line, Column: pos.Column, Object: o.String(), Field: field, Message: message}
}
