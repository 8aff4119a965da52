package apiserver

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/store/kinds"
	"github.com/berth-io/berth/store/registry"
)

var defaultColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
	{Name: "Age", Type: "string", Description: "Time since the object was created."},
}

func defaultCells(obj runtime.Object) []any {
	a, _ := meta.Accessor(obj)
	return []any{a.GetName(), kinds.Age(a.GetCreationTimestamp())}
}

// table renders objs as the Table kubectl get prints. includeObject is
// None, Object or (the default) Metadata.
func (s *Server) table(k *registry.Kind, objs []runtime.Object, lm metav1.ListMeta, includeObject string) *metav1.Table {
	cols, cells := k.Columns, k.Cells
	if cols == nil {
		cols, cells = defaultColumns, defaultCells
	}
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"}, ListMeta: lm, ColumnDefinitions: cols, Rows: make([]metav1.TableRow, 0, len(objs))}
	for _, o := range objs {
		row := metav1.TableRow{Cells: cells(o)}
		switch includeObject {
		case "None":
		case "Object":
			row.Object.Object = o
		default:
			row.Object.Object = partialMetadata(o)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// partialMetadata is obj's metadata alone (as=PartialObjectMetadata).
func partialMetadata(obj runtime.Object) *metav1.PartialObjectMetadata {
	a, _ := meta.Accessor(obj)
	out := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"}}
	if om, ok := a.(*metav1.ObjectMeta); ok {
		out.ObjectMeta = *om
	} else {
		out.ObjectMeta = metav1.ObjectMeta{Name: a.GetName(), Namespace: a.GetNamespace(), UID: a.GetUID(), ResourceVersion: a.GetResourceVersion(),
			Labels: a.GetLabels(), Annotations: a.GetAnnotations(), CreationTimestamp: a.GetCreationTimestamp(), OwnerReferences: a.GetOwnerReferences(),
			Finalizers: a.GetFinalizers(), DeletionTimestamp: a.GetDeletionTimestamp(), Generation: a.GetGeneration()}
	}
	return out
}

func metadataList(objs []runtime.Object, lm metav1.ListMeta) *metav1.PartialObjectMetadataList {
	out := &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadataList"}, ListMeta: lm}
	out.Items = make([]metav1.PartialObjectMetadata, len(objs))
	for i, o := range objs {
		out.Items[i] = *partialMetadata(o)
	}
	return out
}
