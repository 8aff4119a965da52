// Package garbagecollector is the garbage collector: it deletes objects
// whose owners (metadata.ownerReferences) are all gone, and carries out
// the foreground and orphan propagation policies the API server asks for
// with finalizers, as kube-controller-manager's does.
//
// It watches the metadata (PartialObjectMetadata) of every resource the
// API server can list, watch and delete, and keeps a graph of owners and
// dependents by UID (graph.go). An owner reference counts only if the UID
// matches: an owner re-created under the same name is a different owner.
//
//   - Background: an object whose owners are all gone is deleted.
//   - Foreground: an owner being deleted with the foregroundDeletion
//     finalizer has its dependents deleted, and loses the finalizer (and so
//     goes) once no dependent with blockOwnerDeletion is left.
//   - Orphan: an owner being deleted with the orphan finalizer is removed
//     from its dependents' ownerReferences, then loses the finalizer.
//
// The decisions are the pure functions of plan.go; sync.go does the I/O.
package garbagecollector

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/berth-io/berth/reconciler/worker"
)

// ignoredResources are never collected: events, as in kube-controller-manager
// (there are many, they change often, and they carry no ownerReferences).
var ignoredResources = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// discoveryRetry is the pause between attempts to discover the resources.
const discoveryRetry = time.Second

// Options tune the collector; the zero value is the default.
type Options struct {
	// Log receives the collector's logs (slog.Default() when nil).
	Log *slog.Logger
}

// resource is a kind the collector watches.
type resource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// Controller is the garbage collector. Build it with New, then call Run
// once.
type Controller struct {
	discovery discovery.DiscoveryInterface
	metadata  metadata.Interface
	factory   metadatainformer.SharedInformerFactory
	recorder  record.EventRecorder
	queue     workqueue.TypedRateLimitingInterface[types.UID]
	log       *slog.Logger

	// resources is set by Run before any worker starts and not changed
	// afterwards.
	resources map[schema.GroupKind]resource

	mu    sync.Mutex
	graph *graph
}

// New builds the collector. client is used for discovery, metadataClient
// for reads and writes of any resource, factory for the metadata informers
// Run adds (it may be shared; Run starts it); recorder records events on
// objects with invalid owner references. Both clients should be the
// controller manager's identity.
func New(client kubernetes.Interface, metadataClient metadata.Interface, factory metadatainformer.SharedInformerFactory, recorder record.EventRecorder, opts Options) *Controller {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	return &Controller{
		discovery: client.Discovery(),
		metadata:  metadataClient,
		factory:   factory,
		recorder:  recorder,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: "garbagecollector"}),
		log:   log.With("controller", "garbagecollector"),
		graph: newGraph(),
	}
}

// Run discovers the resources to watch, starts their metadata informers,
// waits until the graph holds every object, then collects with workers
// goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	resources, err := c.discover(ctx)
	if err != nil {
		return
	}
	c.resources = resources
	var synced []cache.InformerSynced
	for gk, r := range resources {
		informer := c.factory.ForResource(r.gvr).Informer()
		reg, err := informer.AddEventHandler(c.handlers(r.gvr, gk))
		if err != nil {
			c.log.Error("watching a resource", "resource", r.gvr, "err", err)
			return
		}
		defer func() { _ = informer.RemoveEventHandler(reg) }()
		synced = append(synced, reg.HasSynced)
	}
	c.factory.Start(ctx.Done())
	worker.Run(ctx, c.queue, workers, c.log, "uid", c.sync, synced...)
}

// discover asks the API server for its resources until it answers or ctx
// ends. A partial answer (some group failed) is used as it is.
func (c *Controller) discover(ctx context.Context) (map[schema.GroupKind]resource, error) {
	for {
		lists, err := c.discovery.ServerPreferredResources()
		if err == nil || (discovery.IsGroupDiscoveryFailedError(err) && len(lists) > 0) {
			if err != nil {
				c.log.Warn("some API groups could not be discovered; not collecting them", "err", err)
			}
			return deletableResources(lists), nil
		}
		c.log.Warn("discovering resources; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(discoveryRetry):
		}
	}
}

// deletableResources are the resources the collector can watch and
// delete, by kind: top-level (not subresources), with the list, watch and
// delete verbs, and not ignored.
func deletableResources(lists []*metav1.APIResourceList) map[schema.GroupKind]resource {
	out := map[schema.GroupKind]resource{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			verbs := []string(r.Verbs)
			if strings.Contains(r.Name, "/") || ignoredResources[gv.WithResource(r.Name).GroupResource()] ||
				!slices.Contains(verbs, "list") || !slices.Contains(verbs, "watch") || !slices.Contains(verbs, "delete") {
				continue
			}
			out[gv.WithKind(r.Kind).GroupKind()] = resource{gvr: gv.WithResource(r.Name), namespaced: r.Namespaced}
		}
	}
	return out
}

// Transform trims a cached object to what the collector reads (name,
// namespace, UID, resourceVersion, ownerReferences, finalizers and
// deletionTimestamp). Given to metadatainformer.WithTransform, it makes a
// metadata informer factory that only the collector uses hold a fraction
// of the memory: no labels, annotations or managedFields.
func Transform(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		OwnerReferences: m.OwnerReferences, Finalizers: m.Finalizers, DeletionTimestamp: m.DeletionTimestamp,
	}}, nil
}

// handlers keep the graph up to date with the objects of one resource and
// queue what each change calls for.
func (c *Controller) handlers(gvr schema.GroupVersionResource, kind schema.GroupKind) cache.ResourceEventHandlerFuncs {
	observe := func(obj any) {
		m, err := meta.Accessor(obj)
		if err != nil {
			c.log.Error("object without metadata", "resource", gvr, "err", err)
			return
		}
		o := object{
			resource: gvr, kind: kind,
			namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUID(),
			resourceVersion: m.GetResourceVersion(),
			owners:          m.GetOwnerReferences(),
			finalizers:      m.GetFinalizers(),
			deleting:        m.GetDeletionTimestamp() != nil,
		}
		c.mu.Lock()
		work := c.graph.observe(o)
		c.mu.Unlock()
		c.enqueue(work)
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, cur any) { observe(cur) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			m, err := meta.Accessor(obj)
			if err != nil {
				c.log.Error("deleted object without metadata", "resource", gvr, "err", err)
				return
			}
			c.mu.Lock()
			work := c.graph.forget(m.GetUID())
			c.mu.Unlock()
			c.enqueue(work)
		},
	}
}

func (c *Controller) enqueue(uids []types.UID) {
	for _, uid := range uids {
		c.queue.Add(uid)
	}
}

// describe names an object for logs and errors.
func describe(o object) string {
	if o.namespace == "" {
		return fmt.Sprintf("%s %s", o.resource.Resource, o.name)
	}
	return fmt.Sprintf("%s %s/%s", o.resource.Resource, o.namespace, o.name)
}
