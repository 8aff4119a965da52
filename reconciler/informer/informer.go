// Package informer holds what the reconcilers' shared informer factories
// have in common.
package informer

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// NewFactory is a shared informer factory whose caches drop managedFields:
// no controller reads them, and they are a fifth of a cached pod.
func NewFactory(client kubernetes.Interface, resync time.Duration) informers.SharedInformerFactory {
	return informers.NewSharedInformerFactoryWithOptions(client, resync, informers.WithTransform(StripManagedFields))
}

// StripManagedFields is a cache.TransformFunc that removes managedFields.
func StripManagedFields(obj any) (any, error) {
	target := obj
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		target = tombstone.Obj
	}
	if a, err := meta.Accessor(target); err == nil {
		a.SetManagedFields(nil)
	}
	return obj, nil
}
