// Package namespace is the namespace controller: when a namespace is
// deleted (phase Terminating, spec.finalizers still holding "kubernetes")
// it deletes every object in it, of every namespaced resource the API
// server's discovery lists, waits until they are gone (retrying with
// back-off while finalizers or grace periods hold some), and then removes
// the "kubernetes" finalizer through the namespace's finalize subresource,
// after which the API server deletes the namespace. Its progress shows in
// the namespace's deletion conditions (NamespaceContentRemaining, ...), as
// in Kubernetes. The pure decisions are in plan.go; sync.go does the I/O.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/berth-io/berth/reconciler/worker"
)

// Options tune the controller; the zero value is the default.
type Options struct {
	// Discover lists the namespaced resources to empty
	// (client.Discovery().ServerPreferredNamespacedResources when nil).
	Discover func() ([]*metav1.APIResourceList, error)
	// Log receives the controller's logs (slog.Default() when nil).
	Log *slog.Logger
}

// Controller is the namespace controller. Build it with New before the
// informer factory starts, then call Run.
type Controller struct {
	client   kubernetes.Interface
	meta     metadata.Interface
	nsLister corelisters.NamespaceLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	discover func() ([]*metav1.APIResourceList, error)
	log      *slog.Logger
	now      func() time.Time
}

// New builds the controller on factory's Namespace informer. meta lists and
// deletes the objects of any resource; both clients should be the
// controller manager's identity. recorder records failed deletions on the
// namespace.
func New(client kubernetes.Interface, meta metadata.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	if meta == nil {
		return nil, errors.New("namespace controller: a metadata client is required")
	}
	informer := factory.Core().V1().Namespaces()
	c := &Controller{
		client:   client,
		meta:     meta,
		nsLister: informer.Lister(),
		synced:   informer.Informer().HasSynced,
		// kube-controller-manager's back-off for namespaces: from 5ms,
		// doubling up to a minute while content remains.
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"},
		),
		recorder: recorder,
		discover: opts.Discover,
		log:      opts.Log,
		now:      time.Now,
	}
	if c.discover == nil {
		c.discover = client.Discovery().ServerPreferredNamespacedResources
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "namespace")
	if _, err := informer.Informer().AddEventHandler(cache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			ns, ok := obj.(*corev1.Namespace)
			return ok && ours(ns)
		},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		},
	}); err != nil {
		return nil, fmt.Errorf("namespace controller: watching namespaces: %w", err)
	}
	return c, nil
}

// Run waits for the informer's cache, then empties terminating namespaces
// with workers goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	worker.Run(ctx, c.queue, workers, c.log, "namespace", c.sync, c.synced)
}

func (c *Controller) enqueue(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}
