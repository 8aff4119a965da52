package apiserver

import (
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/berth-io/berth/store/registry"
)

// fieldManagers holds one server-side-apply FieldManager per kind and
// subresource, built on first use from the structured-merge-diff schema
// client-go ships for every built-in type.
type fieldManagers struct {
	scheme    *runtime.Scheme
	converter managedfields.TypeConverter
	deduced   managedfields.TypeConverter
	defaulter runtime.ObjectDefaulter

	mu       sync.Mutex
	managers map[string]*managedfields.FieldManager
	// typed says, by kind, whether client-go has a schema for it.
	typed map[schema.GroupVersionKind]bool
}

type defaulterFunc func(runtime.Object)

func (f defaulterFunc) Default(obj runtime.Object) {
	if f != nil {
		f(obj)
	}
}

func newFieldManagers(reg *registry.Registry, defaults func(runtime.Object)) (*fieldManagers, error) {
	return &fieldManagers{
		scheme:    reg.Scheme(),
		converter: applyconfigurations.NewTypeConverter(reg.Scheme()),
		deduced:   managedfields.NewDeducedTypeConverter(),
		defaulter: defaulterFunc(defaults),
		managers:  map[string]*managedfields.FieldManager{},
		typed:     map[schema.GroupVersionKind]bool{},
	}, nil
}

// For returns the FieldManager of kind k's subresource ("" for the object).
func (m *fieldManagers) For(k *registry.Kind, subresource string) (*managedfields.FieldManager, error) {
	key := k.GVK.String() + "/" + subresource
	m.mu.Lock()
	defer m.mu.Unlock()
	if fm, ok := m.managers[key]; ok {
		return fm, nil
	}
	converter := m.deduced
	if m.hasSchema(k) {
		converter = m.converter
	}
	fm, err := managedfields.NewDefaultFieldManager(converter, sharingConvertor{m.scheme}, m.defaulter, m.scheme, k.GVK, k.GVK.GroupVersion(), subresource, resetFields(k, subresource))
	if err != nil {
		return nil, err
	}
	m.managers[key] = fm
	return fm, nil
}

// hasSchema reports whether client-go's structured-merge-diff schema
// knows kind k (every built-in type; not berth's own kinds, whose schema
// the field manager deduces from the objects). Callers hold m.mu.
func (m *fieldManagers) hasSchema(k *registry.Kind) bool {
	typed, ok := m.typed[k.GVK]
	if !ok {
		probe := k.New()
		probe.GetObjectKind().SetGroupVersionKind(k.GVK)
		_, err := m.converter.ObjectToTyped(probe)
		typed = err == nil
		m.typed[k.GVK] = typed
	}
	return typed
}

// CheckApplied refuses, with 400, an applied configuration of kind k that
// its schema does not accept: a field it does not declare, a value of the
// wrong type, two list elements with one key. The message is
// kube-apiserver's ("failed to create typed patch object (ns/name; gvk):
// .spec.replicas: expected numeric ..."); kube-apiserver answers it with
// 500, a bug (kubernetes/kubernetes#139253) whose proposed fix answers 400
// as here. Kinds without a schema pass; decoding checks them.
func (m *fieldManagers) CheckApplied(k *registry.Kind, applied runtime.Object) error {
	m.mu.Lock()
	typed := m.hasSchema(k)
	m.mu.Unlock()
	if !typed {
		return nil
	}
	if _, err := m.converter.ObjectToTyped(applied); err != nil {
		return appliedError(applied, err)
	}
	return nil
}

// appliedError is a 400 naming the applied object and what is wrong in it.
func appliedError(applied runtime.Object, err error) error {
	name := ""
	if a, aerr := meta.Accessor(applied); aerr == nil {
		name = a.GetNamespace() + "/" + a.GetName()
	}
	return apierrors.NewBadRequest(fmt.Sprintf("failed to create typed patch object (%s; %s): %v", name, applied.GetObjectKind().GroupVersionKind(), err))
}

// resetFields are the fields a writer of the subresource cannot own: the
// object's writers do not own status and status writers do not own spec.
func resetFields(k *registry.Kind, subresource string) map[fieldpath.APIVersion]fieldpath.Filter {
	if !k.HasStatus {
		return nil
	}
	path := "status"
	if subresource == "status" {
		path = "spec"
	}
	return map[fieldpath.APIVersion]fieldpath.Filter{
		fieldpath.APIVersion(k.GVK.GroupVersion().String()): fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie(path))),
	}
}
