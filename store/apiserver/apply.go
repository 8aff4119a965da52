package apiserver

import (
	"errors"
	"net/http"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"github.com/berth-io/berth/store/storage"
)

// applyTo merges applied into the object at the call's key as manager,
// creating the object if it does not exist, and returns the result with
// the HTTP status to answer (201 for a creation, else 200).
//
// Whether the object exists is asked of the watch cache, not etcd: a
// stale answer costs a second try (a creation that fails, for a taken key
// or an applied configuration only valid as a change, applies to the
// object if etcd has it; an apply to an object etcd no longer has creates
// it), never a wrong result. A dry run asks etcd, since no write would
// catch a stale answer.
func (c *call) applyTo(fm *managedfields.FieldManager, applied runtime.Object, manager string, force bool) (runtime.Object, int, error) {
	merge := func(current runtime.Object) (runtime.Object, error) {
		return fm.Apply(current, applied, manager, force)
	}
	create := func() (runtime.Object, int, error) {
		live := c.kind.New()
		a, _ := meta.Accessor(live)
		a.SetName(c.info.Name)
		a.SetNamespace(c.info.Namespace)
		obj, err := fm.Apply(live, applied, manager, force)
		if err != nil {
			return nil, 0, err
		}
		created, err := c.createObject(obj, func(obj runtime.Object) (runtime.Object, error) { return obj, nil })
		return created, http.StatusCreated, err
	}
	update := func(cached runtime.Object) (runtime.Object, int, error) {
		updated, err := c.mutateFrom(cached, merge)
		return updated, http.StatusOK, err
	}
	switch {
	case c.info.Subresource != "":
		updated, err := c.mutate(merge)
		return updated, http.StatusOK, err
	case c.dryRun():
		if _, err := c.s.cfg.Store.Get(c.ctx, c.key()); errors.Is(err, storage.ErrNotFound) {
			return create()
		}
		return update(nil)
	}
	cached, exists := c.cache.Get(c.key())
	if !exists {
		obj, code, err := create()
		if err == nil {
			return obj, code, nil
		}
		// The creation may have failed (taken key, or an applied
		// configuration only valid as a change) because the cache is
		// behind: etcd decides.
		stored, getErr := c.s.cfg.Store.Get(c.ctx, c.key())
		if getErr != nil {
			return obj, code, err
		}
		cached = stored
	}
	obj, code, err := update(cached)
	if exists && errors.Is(err, storage.ErrNotFound) {
		return create() // deleted since the cache saw it
	}
	return obj, code, err
}
