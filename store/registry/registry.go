// Package registry describes the kinds the API server serves. Adding a kind
// is one Kind value: its Go type, names, scope and the few hooks where kinds
// differ (selectable fields, table columns).
package registry

import (
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Verbs every writable kind supports.
var allVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// Kind is one served resource.
type Kind struct {
	GVK        schema.GroupVersionKind
	Resource   string // plural, lower case
	Singular   string
	ShortNames []string
	Categories []string
	Namespaced bool
	// New and NewList return empty objects of the kind and its list.
	New     func() runtime.Object
	NewList func() runtime.Object
	// HasStatus: a status subresource exists; writes to the object keep
	// the stored status and writes to status keep everything else.
	HasStatus bool
	// StatusOnCreate: the status a create carries is kept (a kubelet
	// registers its Node with its status); otherwise it is cleared.
	StatusOnCreate bool
	// Subresources beyond status, e.g. "scale", "binding", "eviction".
	Subresources []string
	// ReadOnly kinds answer writes with 405 (RBAC lives in files).
	ReadOnly bool
	// Virtual kinds are not stored: create answers from a handler (reviews).
	Virtual bool
	// Fields adds the kind's selectable fields to metadata.name/namespace.
	Fields func(obj runtime.Object) fields.Set
	// Columns and Cells make the kind's Table (kubectl get), one cell per
	// column. Nil means the default Name and Age.
	Columns []metav1.TableColumnDefinition
	Cells   func(obj runtime.Object) []any
}

// GroupResource is the kind's group and resource, as errors name it.
func (k *Kind) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: k.GVK.Group, Resource: k.Resource}
}

// GVR is the kind's group, version and resource.
func (k *Kind) GVR() schema.GroupVersionResource {
	return k.GVK.GroupVersion().WithResource(k.Resource)
}

// Verbs lists what the resource supports, for discovery.
func (k *Kind) Verbs() []string {
	switch {
	case k.Virtual:
		return []string{"create"}
	case k.ReadOnly:
		return []string{"get", "list", "watch"}
	}
	return allVerbs
}

// KeyPrefix is the etcd prefix of every object of the kind.
func (k *Kind) KeyPrefix() string {
	group := k.GVK.Group
	if group == "" {
		group = "core"
	}
	return "/registry/" + group + "/" + k.Resource + "/"
}

// Key is the etcd key of one object; namespace is ignored for cluster-scoped kinds.
func (k *Kind) Key(namespace, name string) string {
	if k.Namespaced {
		return k.KeyPrefix() + namespace + "/" + name
	}
	return k.KeyPrefix() + name
}

// HasSubresource reports whether sub is served for the kind.
func (k *Kind) HasSubresource(sub string) bool {
	if sub == "status" {
		return k.HasStatus
	}
	for _, s := range k.Subresources {
		if s == sub {
			return true
		}
	}
	return false
}

// Registry holds the served kinds.
type Registry struct {
	scheme *runtime.Scheme
	kinds  map[schema.GroupVersionResource]*Kind
	byKind map[schema.GroupVersionKind]*Kind
}

// New returns an empty Registry over scheme.
func New(scheme *runtime.Scheme) *Registry {
	return &Registry{scheme: scheme, kinds: map[schema.GroupVersionResource]*Kind{}, byKind: map[schema.GroupVersionKind]*Kind{}}
}

// Scheme is the runtime scheme every served type is registered in.
func (r *Registry) Scheme() *runtime.Scheme { return r.scheme }

// Add registers k. Its types must already be in the scheme.
func (r *Registry) Add(k *Kind) error {
	if !r.scheme.Recognizes(k.GVK) {
		return fmt.Errorf("registry: %s is not in the scheme", k.GVK)
	}
	if _, dup := r.kinds[k.GVR()]; dup {
		return fmt.Errorf("registry: %s registered twice", k.GVR())
	}
	if k.Singular == "" {
		return fmt.Errorf("registry: %s has no singular name", k.GVR())
	}
	r.kinds[k.GVR()] = k
	r.byKind[k.GVK] = k
	return nil
}

// Lookup finds the kind served at group/version/resource.
func (r *Registry) Lookup(gvr schema.GroupVersionResource) (*Kind, bool) {
	k, ok := r.kinds[gvr]
	return k, ok
}

// ForKind finds the kind with GroupVersionKind gvk.
func (r *Registry) ForKind(gvk schema.GroupVersionKind) (*Kind, bool) {
	k, ok := r.byKind[gvk]
	return k, ok
}

// Kinds returns every kind, sorted by group, version and resource.
func (r *Registry) Kinds() []*Kind {
	out := make([]*Kind, 0, len(r.kinds))
	for _, k := range r.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].GVR(), out[j].GVR()
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Resource < b.Resource
	})
	return out
}

// GroupVersions returns every served group/version, sorted.
func (r *Registry) GroupVersions() []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var out []schema.GroupVersion
	for _, k := range r.Kinds() {
		gv := k.GVK.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	return out
}
