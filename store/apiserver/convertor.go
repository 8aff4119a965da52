package apiserver

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// sharingConvertor is the scheme as the field managers' object convertor,
// without the deep copies runtime.Scheme.ConvertToVersion makes of an
// object already in the version asked for, and of the object it has just
// made from an unstructured one. The field managers only read the objects
// they convert (live, new, and the typed result of a merge, which is
// theirs), so those copies, of a Pod's or Deployment's whole spec on every
// write, bought nothing. Objects are never changed: a typed object is
// shared only when it already names the version asked for.
type sharingConvertor struct{ *runtime.Scheme }

// ConvertToVersion converts in to target, sharing fields with in where it can.
func (c sharingConvertor) ConvertToVersion(in runtime.Object, target runtime.GroupVersioner) (runtime.Object, error) {
	if _, isUnstructured := in.(runtime.Unstructured); isUnstructured {
		return c.UnsafeConvertToVersion(in, target)
	}
	if gvk := in.GetObjectKind().GroupVersionKind(); !gvk.Empty() {
		if want, ok := target.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk}); ok && want == gvk {
			return c.UnsafeConvertToVersion(in, target)
		}
	}
	return c.Scheme.ConvertToVersion(in, target)
}
