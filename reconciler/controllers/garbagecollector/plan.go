package garbagecollector

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// ownerState is what one of a dependent's owner references points at.
type ownerState int

const (
	// ownerSolid exists and is not deleting its dependents.
	ownerSolid ownerState = iota
	// ownerDangling is gone, or the name now belongs to another UID.
	ownerDangling
	// ownerWaiting is being deleted in the foreground and waits for its
	// dependents.
	ownerWaiting
)

// stateOf classifies an owner that exists.
func stateOf(owner object) ownerState {
	if owner.deletingDependents() {
		return ownerWaiting
	}
	return ownerSolid
}

// matches reports whether owner is the object ref names when ref sits on
// a dependent in dependentNamespace ("" for a cluster-scoped one): the
// same UID, name and group/kind, and a namespaced owner only in the
// dependent's own namespace.
func matches(owner object, ref metav1.OwnerReference, dependentNamespace string) bool {
	return owner.uid == ref.UID && owner.name == ref.Name && owner.kind == refKind(ref) &&
		(owner.namespace == "" || owner.namespace == dependentNamespace)
}

// refKind is the group/kind an owner reference names; the version does not
// matter for identity.
func refKind(ref metav1.OwnerReference) schema.GroupKind {
	gv, _ := schema.ParseGroupVersion(ref.APIVersion)
	return schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
}

// action is what the collector does to one dependent: first, if patch,
// replace its ownerReferences with owners; then, if remove, delete it with
// policy.
type action struct {
	patch  bool
	owners []metav1.OwnerReference
	remove bool
	policy metav1.DeletionPropagation
}

// planDependent decides for an object that is not being deleted, given the
// state of each of its owners by UID, as kube's garbage collector does:
//
//   - with an owner still solid it stays, but drops its references to
//     owners that are gone or waiting for it;
//   - when owners wait for it and it has dependents of its own, it goes in
//     the foreground, so that those go first (if one of them is itself
//     waiting, it first stops blocking its owners, breaking the cycle);
//   - otherwise it goes, in the background unless its own finalizers ask
//     for orphan or foreground propagation.
func planDependent(obj object, states map[types.UID]ownerState, hasDependents, dependentWaiting bool) action {
	var solid, waiting bool
	var keep []metav1.OwnerReference
	for _, ref := range obj.owners {
		switch states[ref.UID] {
		case ownerSolid:
			solid = true
			keep = append(keep, ref)
		case ownerWaiting:
			waiting = true
		}
	}
	switch {
	case solid && len(keep) == len(obj.owners):
		return action{}
	case solid:
		return action{patch: true, owners: keep}
	case waiting && hasDependents:
		a := action{remove: true, policy: metav1.DeletePropagationForeground}
		if dependentWaiting {
			a.patch, a.owners = true, unblocked(obj.owners)
		}
		return a
	case slices.Contains(obj.finalizers, metav1.FinalizerOrphanDependents):
		return action{remove: true, policy: metav1.DeletePropagationOrphan}
	case slices.Contains(obj.finalizers, metav1.FinalizerDeleteDependents):
		return action{remove: true, policy: metav1.DeletePropagationForeground}
	default:
		return action{remove: true, policy: metav1.DeletePropagationBackground}
	}
}

// unblocked is refs with blockOwnerDeletion turned off.
func unblocked(refs []metav1.OwnerReference) []metav1.OwnerReference {
	out := slices.Clone(refs)
	for i := range out {
		if blocks(out[i]) {
			off := false
			out[i].BlockOwnerDeletion = &off
		}
	}
	return out
}

// withoutOwner is refs without those naming uid.
func withoutOwner(refs []metav1.OwnerReference, uid types.UID) []metav1.OwnerReference {
	return slices.DeleteFunc(slices.Clone(refs), func(r metav1.OwnerReference) bool { return r.UID == uid })
}

// blockingDependents are the dependents that keep owner, deleted in the
// foreground, from going: those whose reference to it sets
// blockOwnerDeletion.
func blockingDependents(owner object, dependents []object) []object {
	var out []object
	for _, d := range dependents {
		if i := ownerIndex(d.owners, owner.uid); i >= 0 && blocks(d.owners[i]) && matches(owner, d.owners[i], d.namespace) {
			out = append(out, d)
		}
	}
	return out
}

// withoutFinalizer is finalizers without f.
func withoutFinalizer(finalizers []string, f string) []string {
	return slices.DeleteFunc(slices.Clone(finalizers), func(have string) bool { return have == f })
}
