package apiserver

import (
	"reflect"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berth-io/berth/store/registry"
)

// The generic parts of every kind's strategy, by convention over the
// k8s.io/api types: an object's desired state is its Spec field and its
// observed state its Status field.

// prepareForCreate clears status the client may not set and starts the
// generation at 1 for kinds with a spec.
func prepareForCreate(k *registry.Kind, obj runtime.Object) {
	if k.HasStatus && !k.StatusOnCreate {
		if f := structField(obj, "Status"); f.IsValid() && f.CanSet() {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	if structField(obj, "Spec").IsValid() {
		if a, err := meta.Accessor(obj); err == nil {
			a.SetGeneration(1)
		}
	}
}

// copyField sets dst's named top-level field to src's.
func copyField(dst, src runtime.Object, name string) {
	d, s := structField(dst, name), structField(src, name)
	if d.IsValid() && s.IsValid() && d.CanSet() {
		d.Set(s)
	}
}

// specChanged reports whether the desired state differs.
func specChanged(obj, old runtime.Object) bool {
	a, b := structField(obj, "Spec"), structField(old, "Spec")
	if !a.IsValid() || !b.IsValid() {
		return false
	}
	return !equality.Semantic.DeepEqual(a.Interface(), b.Interface())
}

func structField(obj runtime.Object, name string) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName(name)
}

func (s *Server) defaults(obj runtime.Object) {
	if s.cfg.Strategy.Default != nil {
		s.cfg.Strategy.Default(obj)
	}
}

func (s *Server) validate(obj runtime.Object) field.ErrorList {
	if s.cfg.Strategy.Validate == nil {
		return nil
	}
	return s.cfg.Strategy.Validate(obj)
}

func (s *Server) validateUpdate(obj, old runtime.Object) field.ErrorList {
	if s.cfg.Strategy.ValidateUpdate == nil {
		return nil
	}
	return s.cfg.Strategy.ValidateUpdate(obj, old)
}
