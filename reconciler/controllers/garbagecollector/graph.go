package garbagecollector

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/lru"
)

// goneCapacity bounds how many deleted UIDs the graph remembers; an owner
// it has forgotten is looked up on the API server instead.
const goneCapacity = 100_000

// object is what the collector knows of one object: who it is, whom it
// names as owners, and how it is being deleted.
type object struct {
	resource        schema.GroupVersionResource
	kind            schema.GroupKind
	namespace, name string
	uid             types.UID
	resourceVersion string
	owners          []metav1.OwnerReference
	finalizers      []string
	deleting        bool // it has a deletionTimestamp
}

// orphaning reports whether the object is being deleted with the orphan
// finalizer: its dependents lose their reference to it first.
func (o *object) orphaning() bool {
	return o.deleting && slices.Contains(o.finalizers, metav1.FinalizerOrphanDependents)
}

// deletingDependents reports whether the object is being deleted in the
// foreground: it stays until its blocking dependents are gone.
func (o *object) deletingDependents() bool {
	return o.deleting && slices.Contains(o.finalizers, metav1.FinalizerDeleteDependents)
}

// graph holds every object the collector watches, by UID, and the
// dependents naming each owner UID (whether or not the owner is known).
// It does no I/O and is not safe for concurrent use.
type graph struct {
	objects    map[types.UID]*object
	dependents map[types.UID]map[types.UID]struct{}
	gone       *lru.Cache // UIDs seen deleted; a UID is never reused
}

func newGraph() *graph {
	return &graph{
		objects:    map[types.UID]*object{},
		dependents: map[types.UID]map[types.UID]struct{}{},
		gone:       lru.New(goneCapacity),
	}
}

// observe records an added or updated object and returns the UIDs whose
// sync the change may call for: the object itself when it is deleted with
// a propagation finalizer or names an owner the graph does not hold or
// that is deleting its dependents; and owners deleting their dependents
// that it stopped naming or blocking.
func (g *graph) observe(obj object) []types.UID {
	var work []types.UID
	old := g.objects[obj.uid]
	g.objects[obj.uid] = &obj
	if old != nil {
		for _, ref := range old.owners {
			i := ownerIndex(obj.owners, ref.UID)
			if i < 0 {
				g.unlink(ref.UID, obj.uid)
			}
			if i < 0 || blocks(ref) && !blocks(obj.owners[i]) {
				work = append(work, g.waitingOwner(ref.UID)...)
			}
		}
	}
	for _, ref := range obj.owners {
		g.link(ref.UID, obj.uid)
	}
	if obj.orphaning() || obj.deletingDependents() || g.needsOwnerCheck(&obj) {
		work = append(work, obj.uid)
	}
	return work
}

// forget removes a deleted object and returns the UIDs to sync: its
// dependents, whose owner may now be gone, and its owners that are
// deleting their dependents, which may now be free to go.
func (g *graph) forget(uid types.UID) []types.UID {
	g.gone.Add(uid, struct{}{})
	obj, ok := g.objects[uid]
	if !ok {
		return nil
	}
	delete(g.objects, uid)
	var work []types.UID
	for d := range g.dependents[uid] {
		work = append(work, d)
	}
	for _, ref := range obj.owners {
		work = append(work, g.waitingOwner(ref.UID)...)
		g.unlink(ref.UID, uid)
	}
	return work
}

// get returns a copy of the object with uid.
func (g *graph) get(uid types.UID) (object, bool) {
	if o, ok := g.objects[uid]; ok {
		return *o, true
	}
	return object{}, false
}

// isGone reports whether the object with uid was seen deleted.
func (g *graph) isGone(uid types.UID) bool {
	_, ok := g.gone.Get(uid)
	return ok
}

// dependentsOf returns copies of the objects that name uid as an owner.
func (g *graph) dependentsOf(uid types.UID) []object {
	var out []object
	for d := range g.dependents[uid] {
		if o, ok := g.objects[d]; ok {
			out = append(out, *o)
		}
	}
	return out
}

// needsOwnerCheck reports whether one of obj's owners is unknown to the
// graph or deleting its dependents (so obj may have to go).
func (g *graph) needsOwnerCheck(obj *object) bool {
	if obj.deleting {
		return false
	}
	for _, ref := range obj.owners {
		owner, ok := g.objects[ref.UID]
		if !ok || owner.deletingDependents() {
			return true
		}
	}
	return false
}

// waitingOwner is uid when that object is deleting its dependents.
func (g *graph) waitingOwner(uid types.UID) []types.UID {
	if o, ok := g.objects[uid]; ok && o.deletingDependents() {
		return []types.UID{uid}
	}
	return nil
}

func (g *graph) link(owner, dependent types.UID) {
	set, ok := g.dependents[owner]
	if !ok {
		set = map[types.UID]struct{}{}
		g.dependents[owner] = set
	}
	set[dependent] = struct{}{}
}

func (g *graph) unlink(owner, dependent types.UID) {
	set := g.dependents[owner]
	delete(set, dependent)
	if len(set) == 0 {
		delete(g.dependents, owner)
	}
}

func ownerIndex(refs []metav1.OwnerReference, uid types.UID) int {
	return slices.IndexFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == uid })
}

// blocks reports whether the reference holds its owner's foreground
// deletion until the dependent is gone.
func blocks(ref metav1.OwnerReference) bool {
	return ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
}
