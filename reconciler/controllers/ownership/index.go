package ownership

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// ControllerIndex is the name of the informer index that AddControllerIndex
// installs: objects by their controller's UID, orphans by namespace.
const ControllerIndex = "berth.io/controller"

// AddControllerIndex installs ControllerIndex on informer, unless it is
// already there (several controllers share one informer). It must run
// before the informer starts.
func AddControllerIndex(informer cache.SharedIndexInformer) error {
	if _, ok := informer.GetIndexer().GetIndexers()[ControllerIndex]; ok {
		return nil
	}
	return informer.AddIndexers(cache.Indexers{ControllerIndex: func(obj any) ([]string, error) {
		o, ok := obj.(metav1.Object)
		if !ok {
			return nil, nil
		}
		if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
			return []string{ownedKey(string(ref.UID))}, nil
		}
		return []string{orphanKey(o.GetNamespace())}, nil
	}})
}

// Controlled returns, from an indexer with ControllerIndex, the objects
// whose controller is owner and, when withOrphans, the objects in owner's
// namespace that have no controller (those it may adopt).
func Controlled[T any](indexer cache.Indexer, owner metav1.Object, withOrphans bool) ([]T, error) {
	keys := []string{ownedKey(string(owner.GetUID()))}
	if withOrphans {
		keys = append(keys, orphanKey(owner.GetNamespace()))
	}
	var out []T
	for _, key := range keys {
		objs, err := indexer.ByIndex(ControllerIndex, key)
		if err != nil {
			return nil, fmt.Errorf("listing objects of %s/%s from the informer index: %w", owner.GetNamespace(), owner.GetName(), err)
		}
		for _, o := range objs {
			if t, ok := o.(T); ok {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

func ownedKey(uid string) string        { return "uid/" + uid }
func orphanKey(namespace string) string { return "orphan/" + namespace }
