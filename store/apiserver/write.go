package apiserver

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/store/storage"
)

// create serves POST on a collection (and the POST subresources).
func (c *call) create() {
	switch c.info.Subresource {
	case "binding":
		c.bind()
		return
	case "eviction":
		c.evict()
		return
	case "token":
		c.token()
		return
	case "":
		if c.info.Name != "" {
			c.fail(methodNotAllowed("create", c.kind.GroupResource()))
			return
		}
	default:
		c.fail(methodNotAllowed("create", c.kind.GroupResource()))
		return
	}
	obj, err := c.decodeBody(c.kind.New())
	if err != nil {
		c.fail(err)
		return
	}
	manager := c.fieldManager()
	created, err := c.createObject(obj, func(obj runtime.Object) (runtime.Object, error) {
		return c.trackFields(c.kind.New(), obj, manager)
	})
	if err != nil {
		c.fail(err)
		return
	}
	c.respond(http.StatusCreated, created)
}

// decodeBody reads and decodes the body as an object of the call's kind.
func (c *call) decodeBody(into runtime.Object) (runtime.Object, error) {
	mediaType, err := bodyType(c.r)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	data, err := c.readBody()
	if err != nil {
		return nil, err
	}
	gvks, _, err := c.s.scheme.ObjectKinds(into)
	if err != nil {
		return nil, err
	}
	return c.decodeInto(data, mediaType, gvks[0], into)
}

// createObject runs the create pipeline: server-owned metadata, defaults,
// admission, validation, managed fields (track), then the write.
func (c *call) createObject(obj runtime.Object, track NextFunc) (runtime.Object, error) {
	a, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	if err := c.checkNamespace(a); err != nil {
		return nil, err
	}
	if a.GetResourceVersion() != "" {
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	generated := a.GetName() == "" && a.GetGenerateName() != ""
	newMeta(a, time.Now())
	prepareForCreate(c.kind, obj)
	c.s.defaults(obj)
	for attempt := 0; ; attempt++ {
		if generated {
			a.SetName(a.GetGenerateName() + randomSuffix())
		}
		c.info.Name = a.GetName()
		finish, err := c.admit(Create, obj, nil)
		if err != nil {
			return nil, err
		}
		if errs := c.s.validate(obj); len(errs) > 0 {
			finish(false)
			return nil, apierrors.NewInvalid(c.kind.GVK.GroupKind(), a.GetName(), errs)
		}
		if obj, err = track(obj); err != nil {
			finish(false)
			return nil, err
		}
		if c.dryRun() {
			finish(false)
			return obj, nil
		}
		err = c.s.cfg.Store.Create(c.ctx, c.kind.Key(a.GetNamespace(), a.GetName()), obj)
		finish(err == nil)
		if err == nil {
			return obj, nil
		}
		if errors.Is(err, storage.ErrExists) && generated && attempt < 3 {
			if a, err = meta.Accessor(obj); err != nil {
				return nil, err
			}
			continue
		}
		return nil, err
	}
}

// checkNamespace makes the object's namespace agree with the URL's.
func (c *call) checkNamespace(a metav1.Object) error {
	if !c.kind.Namespaced {
		a.SetNamespace("")
		return nil
	}
	switch ns := a.GetNamespace(); {
	case ns == "":
		a.SetNamespace(c.info.Namespace)
	case c.info.Namespace != "" && ns != c.info.Namespace:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if a.GetNamespace() == "" {
		return apierrors.NewBadRequest("the server rejected our request: a namespace is required for " + c.kind.Resource)
	}
	return nil
}

func (c *call) admit(op Operation, obj, old runtime.Object) (func(bool), error) {
	noop := func(bool) {}
	if c.s.cfg.Admission == nil {
		return noop, nil
	}
	subject := obj
	if subject == nil {
		subject = old
	}
	a, _ := meta.Accessor(subject)
	req := &AdmissionRequest{Operation: op, Kind: c.kind, Subresource: c.info.Subresource, Namespace: a.GetNamespace(),
		Name: a.GetName(), Object: obj, Old: old, User: c.user, DryRun: c.dryRun()}
	finish, err := c.s.cfg.Admission.Admit(c.ctx, req)
	if finish == nil {
		finish = noop
	}
	return finish, err
}

// update serves PUT on an object or its status, scale or finalize.
func (c *call) update() {
	if c.info.Subresource == "scale" {
		c.updateScale(nil)
		return
	}
	obj, err := c.decodeBody(c.kind.New())
	if err != nil {
		c.fail(err)
		return
	}
	a, err := meta.Accessor(obj)
	if err != nil {
		c.fail(err)
		return
	}
	if a.GetName() != c.info.Name {
		c.fail(apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", a.GetName(), c.info.Name)))
		return
	}
	if err := c.checkNamespace(a); err != nil {
		c.fail(err)
		return
	}
	manager := c.fieldManager()
	updated, err := c.mutate(func(current runtime.Object) (runtime.Object, error) {
		next := obj.DeepCopyObject()
		if c.info.Subresource == "finalize" {
			ns, cur := next.(*corev1.Namespace), current.(*corev1.Namespace)
			cur.Spec.Finalizers = ns.Spec.Finalizers
			next = cur
		}
		return c.trackFields(current, next, manager)
	})
	if err != nil {
		c.fail(err)
		return
	}
	c.respond(http.StatusOK, updated)
}

// trackFields records manager's changes in managedFields.
func (c *call) trackFields(current, next runtime.Object, manager string) (runtime.Object, error) {
	fm, err := c.s.managers.For(c.kind, statusOnly(c.info.Subresource))
	if err != nil {
		return nil, err
	}
	return fm.UpdateNoErrors(current, next, manager), nil
}

func statusOnly(sub string) string {
	if sub == "status" {
		return sub
	}
	return ""
}

// NextFunc computes an object's next state from a private copy of its current one.
type NextFunc func(current runtime.Object) (runtime.Object, error)

// mutate runs the update pipeline on the object at the call's key: next
// computes the new state, then server-owned fields are kept, defaults,
// admission and validation run, and the result is written with
// compare-and-swap (or only computed, in a dry run).
func (c *call) mutate(next NextFunc) (runtime.Object, error) {
	var cached runtime.Object
	if !c.dryRun() {
		cached, _ = c.cache.Get(c.key())
	}
	return c.mutateFrom(cached, next)
}

// mutateFrom is mutate starting from cached, a possibly stale copy of the
// object (nil: read it from etcd).
func (c *call) mutateFrom(cached runtime.Object, next NextFunc) (runtime.Object, error) {
	key := c.key()
	var finish func(bool)
	settle := func(stored bool) {
		if finish != nil {
			finish(stored)
			finish = nil
		}
	}
	try := func(current runtime.Object) (runtime.Object, error) {
		settle(false)
		obj, err := next(current.DeepCopyObject())
		if err != nil {
			return nil, err
		}
		if err := c.prepareUpdate(obj, current); err != nil {
			return nil, err
		}
		if finish, err = c.admit(Update, obj, current); err != nil {
			return nil, err
		}
		// A binding only sets spec.nodeName, which pod updates may not.
		if c.info.Subresource == "binding" {
			return obj, nil
		}
		if errs := c.s.validateUpdate(obj, current); len(errs) > 0 {
			a, _ := meta.Accessor(obj)
			return nil, apierrors.NewInvalid(c.kind.GVK.GroupKind(), a.GetName(), errs)
		}
		return obj, nil
	}
	if c.dryRun() {
		current, err := c.s.cfg.Store.Get(c.ctx, key)
		if err != nil {
			return nil, err
		}
		obj, err := try(current)
		settle(false)
		return obj, err
	}
	obj, err := c.s.cfg.Store.GuaranteedUpdate(c.ctx, key, cached, try)
	settle(err == nil)
	if err != nil {
		return nil, err
	}
	return c.finishDeletion(obj)
}

// prepareUpdate keeps what the writer of this (sub)resource may not change.
func (c *call) prepareUpdate(obj, current runtime.Object) error {
	a, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	cur, _ := meta.Accessor(current)
	if rv := a.GetResourceVersion(); rv != "" && rv != cur.GetResourceVersion() {
		return apierrors.NewConflict(c.kind.GroupResource(), cur.GetName(), errors.New(objectModified))
	}
	if uid := a.GetUID(); uid != "" && uid != cur.GetUID() {
		return apierrors.NewConflict(c.kind.GroupResource(), cur.GetName(), fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", uid, cur.GetUID()))
	}
	a.SetResourceVersion(cur.GetResourceVersion())
	a.SetUID(cur.GetUID())
	a.SetName(cur.GetName())
	a.SetNamespace(cur.GetNamespace())
	a.SetCreationTimestamp(cur.GetCreationTimestamp())
	a.SetDeletionTimestamp(cur.GetDeletionTimestamp())
	a.SetDeletionGracePeriodSeconds(cur.GetDeletionGracePeriodSeconds())
	a.SetGeneration(cur.GetGeneration())
	a.SetSelfLink("")
	if cur.GetDeletionTimestamp() != nil && len(a.GetFinalizers()) > len(cur.GetFinalizers()) {
		return apierrors.NewForbidden(c.kind.GroupResource(), cur.GetName(), errors.New("no new finalizers can be added if the object is being deleted"))
	}
	switch c.info.Subresource {
	case "status":
		copyField(obj, current, "Spec")
	case "binding":
		// A binding sets spec.nodeName and the PodScheduled condition.
	default:
		if c.kind.HasStatus {
			copyField(obj, current, "Status")
		}
		c.s.defaults(obj)
	}
	if specChanged(obj, current) {
		a.SetGeneration(cur.GetGeneration() + 1)
	}
	return nil
}

const objectModified = "the object has been modified; please apply your changes to the latest version and try again"

// finishDeletion removes an object whose deletion was waiting only for
// finalizers that are now gone.
func (c *call) finishDeletion(obj runtime.Object) (runtime.Object, error) {
	a, err := meta.Accessor(obj)
	if err != nil || a.GetDeletionTimestamp() == nil || len(a.GetFinalizers()) > 0 {
		return obj, err
	}
	if g := a.GetDeletionGracePeriodSeconds(); g != nil && *g > 0 {
		return obj, nil
	}
	if ns, ok := obj.(*corev1.Namespace); ok && len(ns.Spec.Finalizers) > 0 {
		return obj, nil
	}
	deleted, err := c.s.cfg.Store.Delete(c.ctx, c.kind.Key(a.GetNamespace(), a.GetName()), obj, nil)
	if errors.Is(err, storage.ErrNotFound) {
		return obj, nil
	}
	if err == nil {
		c.released(deleted)
	}
	return deleted, err
}

func (c *call) released(obj runtime.Object) {
	if c.s.cfg.Admission != nil {
		c.s.cfg.Admission.Released(c.ctx, c.kind, obj)
	}
}

// randomSuffix is what generateName appends: five characters that avoid
// vowels and look-alike digits, as kube-apiserver's generator does.
func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
