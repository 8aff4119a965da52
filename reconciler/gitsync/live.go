package gitsync

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// sourceIndex indexes live objects by their SourceLabel value.
const sourceIndex = "berth.io/source"

// serviceIndex indexes EndpointSlices by "namespace/service".
const serviceIndex = "service"

var endpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}

// liveCache watches, for every resource some source applied, the objects
// that carry SourceLabel (and every EndpointSlice once a Service is
// applied), so that health and drift are read from memory and re-evaluated
// as soon as an object changes.
type liveCache struct {
	client  dynamic.Interface
	changed func(sourceKey string)

	mu        sync.Mutex
	ctx       context.Context
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
}

func newLiveCache(ctx context.Context, client dynamic.Interface, changed func(sourceKey string)) *liveCache {
	return &liveCache{client: client, changed: changed, ctx: ctx, informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{}}
}

// ensure starts the informers of resources that are not watched yet and
// waits until their caches are filled.
func (l *liveCache) ensure(resources map[schema.GroupVersionResource]bool) error {
	var started []cache.InformerSynced
	l.mu.Lock()
	for gvr := range resources {
		if _, ok := l.informers[gvr]; ok {
			continue
		}
		inf := l.start(gvr)
		l.informers[gvr] = inf
		started = append(started, inf.HasSynced)
		if gvr.GroupResource() == (schema.GroupResource{Resource: "services"}) {
			if _, ok := l.informers[endpointSlices]; !ok {
				es := l.start(endpointSlices)
				l.informers[endpointSlices] = es
				started = append(started, es.HasSynced)
			}
		}
	}
	l.mu.Unlock()
	if len(started) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(l.ctx, time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), started...) {
		return fmt.Errorf("the watches of the applied kinds did not start within a minute")
	}
	return nil
}

func (l *liveCache) start(gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	var inf cache.SharedIndexInformer
	if gvr == endpointSlices {
		inf = dynamicinformer.NewFilteredDynamicInformer(l.client, gvr, metav1.NamespaceAll, 0,
			cache.Indexers{serviceIndex: func(obj any) ([]string, error) {
				u := obj.(*unstructured.Unstructured)
				if svc := u.GetLabels()["kubernetes.io/service-name"]; svc != "" {
					return []string{u.GetNamespace() + "/" + svc}, nil
				}
				return nil, nil
			}}, nil).Informer()
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    l.sliceChanged,
			UpdateFunc: func(_, cur any) { l.sliceChanged(cur) },
			DeleteFunc: l.sliceChanged,
		})
	} else {
		inf = dynamicinformer.NewFilteredDynamicInformer(l.client, gvr, metav1.NamespaceAll, 0,
			cache.Indexers{sourceIndex: func(obj any) ([]string, error) {
				if v := obj.(*unstructured.Unstructured).GetLabels()[SourceLabel]; v != "" {
					return []string{v}, nil
				}
				return nil, nil
			}},
			func(o *metav1.ListOptions) { o.LabelSelector = SourceLabel }).Informer()
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    l.objectChanged,
			UpdateFunc: func(_, cur any) { l.objectChanged(cur) },
			DeleteFunc: l.objectChanged,
		})
	}
	go inf.Run(l.ctx.Done())
	return inf
}

func (l *liveCache) objectChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if key, ok := sourceKey(u.GetLabels()[SourceLabel]); ok {
			l.changed(key)
		}
	}
}

// sliceChanged re-evaluates the source of the Service an EndpointSlice
// belongs to.
func (l *liveCache) sliceChanged(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	l.mu.Lock()
	services := l.informers[schema.GroupVersionResource{Version: "v1", Resource: "services"}]
	l.mu.Unlock()
	if services == nil {
		return
	}
	svc, exists, err := services.GetIndexer().GetByKey(u.GetNamespace() + "/" + u.GetLabels()["kubernetes.io/service-name"])
	if err != nil || !exists {
		return
	}
	l.objectChanged(svc)
}

// objects returns the watched objects of gvr that carry the label value;
// they are the cache's own and must not be modified.
func (l *liveCache) objects(gvr schema.GroupVersionResource, label string) []*unstructured.Unstructured {
	l.mu.Lock()
	inf := l.informers[gvr]
	l.mu.Unlock()
	if inf == nil {
		return nil
	}
	items, err := inf.GetIndexer().ByIndex(sourceIndex, label)
	if err != nil {
		return nil
	}
	out := make([]*unstructured.Unstructured, 0, len(items))
	for _, it := range items {
		out = append(out, it.(*unstructured.Unstructured))
	}
	return out
}

// readyEndpoints counts the ready endpoints of Service namespace/name.
func (l *liveCache) readyEndpoints(namespace, name string) int {
	l.mu.Lock()
	inf := l.informers[endpointSlices]
	l.mu.Unlock()
	if inf == nil {
		return 0
	}
	items, _ := inf.GetIndexer().ByIndex(serviceIndex, namespace+"/"+name)
	n := 0
	for _, it := range items {
		eps, _, _ := unstructured.NestedSlice(it.(*unstructured.Unstructured).Object, "endpoints")
		for _, ep := range eps {
			m, _ := ep.(map[string]any)
			if ready, found, _ := unstructured.NestedBool(m, "conditions", "ready"); found && !ready {
				continue
			}
			addrs, _, _ := unstructured.NestedStringSlice(m, "addresses")
			n += len(addrs)
		}
	}
	return n
}

// sourceKey turns a SourceLabel value "<namespace>.<name>" into the
// queue key "<namespace>/<name>" (namespaces have no dots).
func sourceKey(label string) (string, bool) {
	ns, name, ok := strings.Cut(label, ".")
	if !ok || ns == "" || name == "" {
		return "", false
	}
	return ns + "/" + name, true
}
