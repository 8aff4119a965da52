// Package ownership decides which objects a controller owns through
// controller ownerReferences, as Kubernetes controllers do: an owner adopts
// orphans that match its selector and releases the objects it controls that
// stopped matching. The decision is a pure function (Plan); Adopt and
// Release build the patches that carry it out.
//
// The ReplicaSet controller claims pods with it and the Deployment
// controller claims ReplicaSets.
package ownership

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Claim is what an owner should do with the objects it looked at.
type Claim[T metav1.Object] struct {
	// Owned are the objects the owner already controls and keeps.
	Owned []T
	// Adopt are orphans that match the selector; the owner becomes their
	// controller once the adoption patch succeeds.
	Adopt []T
	// Release are objects the owner controls that no longer match.
	Release []T
}

// Plan sorts objs by what owner (whose selector is selector) should do with
// each. Objects controlled by someone else are ignored. An owner being
// deleted adopts nothing and releases nothing; an object being deleted is
// never adopted. An empty selector matches nothing (a controller with one
// would otherwise take every object in the namespace).
func Plan[T metav1.Object](owner metav1.Object, selector labels.Selector, objs []T) Claim[T] {
	var c Claim[T]
	ownerDeleting := owner.GetDeletionTimestamp() != nil
	for _, o := range objs {
		matches := !selector.Empty() && selector.Matches(labels.Set(o.GetLabels()))
		ref := metav1.GetControllerOfNoCopy(o)
		switch {
		case ref != nil && ref.UID != owner.GetUID():
			// Someone else's.
		case ref != nil && matches:
			c.Owned = append(c.Owned, o)
		case ref != nil && !ownerDeleting:
			c.Release = append(c.Release, o)
		case ref == nil && matches && !ownerDeleting && o.GetDeletionTimestamp() == nil:
			c.Adopt = append(c.Adopt, o)
		}
	}
	return c
}

// AdoptPatch is the strategic merge patch that makes owner (of kind gvk) the
// controller of obj. It names obj's UID so that it cannot land on a
// re-created object of the same name.
func AdoptPatch(owner metav1.Object, gvk schema.GroupVersionKind, obj metav1.Object) []byte {
	ref := metav1.NewControllerRef(owner, gvk)
	return patch(map[string]any{
		"ownerReferences": []metav1.OwnerReference{*ref},
		"uid":             obj.GetUID(),
	})
}

// ReleasePatch is the strategic merge patch that removes owner's reference
// from obj, leaving any other ownerReferences alone.
func ReleasePatch(owner metav1.Object, obj metav1.Object) []byte {
	return patch(map[string]any{
		"ownerReferences": []map[string]any{{"$patch": "delete", "uid": owner.GetUID()}},
		"uid":             obj.GetUID(),
	})
}

// PatchType is the patch type of AdoptPatch and ReleasePatch.
const PatchType = types.StrategicMergePatchType

// patch wraps metadata fields in a patch body. The values are strings,
// booleans and UIDs, so marshalling cannot fail.
func patch(metadata map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"metadata": metadata})
	return b
}
