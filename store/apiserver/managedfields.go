package apiserver

import (
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
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
	converter := m.converter
	probe := k.New()
	probe.GetObjectKind().SetGroupVersionKind(k.GVK)
	if _, err := converter.ObjectToTyped(probe); err != nil {
		converter = m.deduced
	}
	fm, err := managedfields.NewDefaultFieldManager(converter, m.scheme, m.defaulter, m.scheme, k.GVK, k.GVK.GroupVersion(), subresource, resetFields(k, subresource))
	if err != nil {
		return nil, err
	}
	m.managers[key] = fm
	return fm, nil
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
