package apiserver

import (
	"fmt"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/store/registry"
	"github.com/berth-io/berth/store/watchcache"
)

// attrsFor returns what selectors of kind k match on: labels, and the
// fields metadata.name, metadata.namespace plus the kind's own. Empty
// fields are left out (a selector reads a missing field as empty), which
// keeps the watch cache small: most of a pod's selectable fields are empty.
func attrsFor(k *registry.Kind) watchcache.AttrFunc {
	return func(obj runtime.Object) (labels.Set, fields.Set) {
		a, err := meta.Accessor(obj)
		if err != nil {
			return nil, nil
		}
		f := fields.Set{"metadata.name": a.GetName()}
		if k.Namespaced {
			f["metadata.namespace"] = a.GetNamespace()
		}
		if k.Fields != nil {
			for key, v := range k.Fields(obj) {
				if v != "" {
					f[key] = v
				}
			}
		}
		return labels.Set(a.GetLabels()), f
	}
}

// filterFrom reads labelSelector and fieldSelector, rejecting fields the
// kind cannot select on, as kube-apiserver does.
func filterFrom(k *registry.Kind, q url.Values, namespace string) (watchcache.Filter, error) {
	f := watchcache.Filter{Namespace: namespace}
	if s := q.Get("labelSelector"); s != "" {
		sel, err := labels.Parse(s)
		if err != nil {
			return f, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		f.Label = sel
	}
	if s := q.Get("fieldSelector"); s != "" {
		sel, err := fields.ParseSelector(s)
		if err != nil {
			return f, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		known := knownFields(k)
		for _, req := range sel.Requirements() {
			if !known[req.Field] {
				return f, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
		f.Field = sel
	}
	return f, nil
}

func knownFields(k *registry.Kind) map[string]bool {
	known := map[string]bool{"metadata.name": true}
	if k.Namespaced {
		known["metadata.namespace"] = true
	}
	if k.Fields != nil {
		for key := range k.Fields(k.New()) {
			known[key] = true
		}
	}
	return known
}
