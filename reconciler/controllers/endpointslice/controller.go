// Package endpointslice is the EndpointSlice controller: for every Service
// with a selector it keeps EndpointSlices (at most MaxEndpointsPerSlice
// endpoints each, labelled managed-by endpointslice-controller.k8s.io)
// listing the selected pods' addresses with their ready, serving and
// terminating conditions, nodeName and zone, and ports resolved from named
// container ports. Only slices whose content changes are written.
//
// The slice arithmetic is k8s.io/endpointslice, the reconciler
// kube-controller-manager itself runs, so the slices match Kubernetes'
// exactly; this package feeds it from informers (sync.go) and decides which
// Services and slices it looks at (selection.go).
package endpointslice

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	endpointslicerec "k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"

	"github.com/berth-io/berth/reconciler/worker"
)

// ControllerName is the value of the endpointslice.kubernetes.io/managed-by
// label on the slices this controller owns (kube-controller-manager's).
const ControllerName = "endpointslice-controller.k8s.io"

// DefaultMaxEndpointsPerSlice is kube-controller-manager's default
// --max-endpoints-per-slice.
const DefaultMaxEndpointsPerSlice = 100

// sliceChangeDelay is how long a change to one of our own slices waits
// before its Service is synced, so that our own writes coming back through
// the informer do not each cause a sync (kube-controller-manager's value).
const sliceChangeDelay = time.Second

// Options tune the controller; the zero value is kube-controller-manager's
// default.
type Options struct {
	// MaxEndpointsPerSlice caps the endpoints in one slice
	// (DefaultMaxEndpointsPerSlice when 0).
	MaxEndpointsPerSlice int32
	// BatchPeriod delays the sync a pod change causes, so that changes to
	// many pods of one Service land in one write (0: sync at once).
	BatchPeriod time.Duration
	// Log receives the controller's logs (slog.Default() when nil).
	Log *slog.Logger
}

// Controller is the EndpointSlice controller. Build it with New before the
// informer factory starts, then call Run.
type Controller struct {
	serviceLister corelisters.ServiceLister
	podLister     corelisters.PodLister
	sliceLister   discoverylisters.EndpointSliceLister
	synced        []cache.InformerSynced
	queue         workqueue.TypedRateLimitingInterface[string]
	recorder      record.EventRecorder
	reconciler    *endpointslicerec.Reconciler
	tracker       *endpointsliceutil.EndpointSliceTracker
	triggerTimes  *endpointsliceutil.TriggerTimeTracker
	batchPeriod   time.Duration
	log           *slog.Logger
	logr          logr.Logger
}

// New builds the controller on factory's Service, Pod, Node and
// EndpointSlice informers. recorder records events on Services; client
// should be the controller manager's identity.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	services := factory.Core().V1().Services()
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	slices := factory.Discovery().V1().EndpointSlices()
	maxPerSlice := opts.MaxEndpointsPerSlice
	if maxPerSlice <= 0 {
		maxPerSlice = DefaultMaxEndpointsPerSlice
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("controller", "endpointslice")
	c := &Controller{
		serviceLister: services.Lister(),
		podLister:     pods.Lister(),
		sliceLister:   slices.Lister(),
		synced: []cache.InformerSynced{
			services.Informer().HasSynced, pods.Informer().HasSynced,
			nodes.Informer().HasSynced, slices.Informer().HasSynced,
		},
		// kube-controller-manager's limits: per Service exponential back-off
		// from 1s to 1000s, and 10 syncs a second overall (burst 100).
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, 1000*time.Second),
				&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpointslice"},
		),
		recorder:     recorder,
		tracker:      endpointsliceutil.NewEndpointSliceTracker(),
		triggerTimes: endpointsliceutil.NewTriggerTimeTracker(),
		batchPeriod:  opts.BatchPeriod,
		log:          log,
		logr:         logr.FromSlogHandler(log.Handler()),
	}
	// No topology cache: berth does not compute topology-aware hints.
	c.reconciler = endpointslicerec.NewReconciler(client, nodes.Lister(), maxPerSlice, c.tracker, nil, recorder, ControllerName)
	handlers := []struct {
		what     string
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandler
	}{
		{"services", services.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueService,
			UpdateFunc: func(_, cur any) { c.enqueueService(cur) },
			DeleteFunc: c.enqueueService,
		}},
		{"pods", pods.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { c.podChanged(nil, obj) },
			UpdateFunc: c.podChanged,
			DeleteFunc: func(obj any) { c.podChanged(obj, nil) },
		}},
		{"endpointslices", slices.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.sliceAdded,
			UpdateFunc: c.sliceUpdated,
			DeleteFunc: c.sliceDeleted,
		}},
	}
	for _, h := range handlers {
		if _, err := h.informer.AddEventHandler(h.handler); err != nil {
			return nil, fmt.Errorf("endpointslice controller: watching %s: %w", h.what, err)
		}
	}
	return c, nil
}

// Run waits for the informers' caches, then syncs Services with workers
// goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	worker.Run(ctx, c.queue, workers, c.log, "service", c.sync, c.synced...)
}

func (c *Controller) enqueueService(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key service", "err", err)
		return
	}
	c.queue.Add(key)
}

// podChanged wakes the Services whose endpoints a pod change can affect:
// those selecting the pod before or after, when something they publish
// (address, readiness, ports, node, ...) changed.
func (c *Controller) podChanged(old, cur any) {
	key := endpointsliceutil.GetPodUpdateProjectionKey(old, cur)
	if key == nil {
		return
	}
	services, err := endpointsliceutil.GetServicesToUpdate(c.serviceLister, key)
	if err != nil {
		c.log.Error("finding the services of a pod", "err", err)
		return
	}
	for s := range services {
		c.queue.AddAfter(s, c.batchPeriod)
	}
}

// sliceAdded wakes the Service of a slice we own that we did not write
// ourselves (or not in this version), so that it is put right.
func (c *Controller) sliceAdded(obj any) {
	slice, ok := obj.(*discoveryv1.EndpointSlice)
	if ok && c.reconciler.ManagedByController(slice) && c.tracker.ShouldSync(slice) {
		c.enqueueServiceOf(slice)
	}
}

func (c *Controller) sliceUpdated(oldObj, curObj any) {
	old, okOld := oldObj.(*discoveryv1.EndpointSlice)
	cur, okCur := curObj.(*discoveryv1.EndpointSlice)
	if !okOld || !okCur {
		return
	}
	if old.Labels[discoveryv1.LabelServiceName] != cur.Labels[discoveryv1.LabelServiceName] {
		c.enqueueServiceOf(old)
		c.enqueueServiceOf(cur)
		return
	}
	if c.reconciler.ManagedByChanged(old, cur) || (c.reconciler.ManagedByController(cur) && c.tracker.ShouldSync(cur)) {
		c.enqueueServiceOf(cur)
	}
}

// sliceDeleted wakes the Service of a slice of ours deleted by someone
// else, so that it is re-created.
func (c *Controller) sliceDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	slice, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || !c.reconciler.ManagedByController(slice) || !c.tracker.Has(slice) {
		return
	}
	if !c.tracker.HandleDeletion(slice) {
		c.enqueueServiceOf(slice)
	}
}

func (c *Controller) enqueueServiceOf(slice *discoveryv1.EndpointSlice) {
	key, err := endpointslicerec.ServiceControllerKey(slice)
	if err != nil {
		c.log.Info("endpointslice names no service", "endpointslice", slice.Namespace+"/"+slice.Name, "err", err)
		return
	}
	c.queue.AddAfter(key, max(sliceChangeDelay, c.batchPeriod))
}

// warn records a warning event on svc saying what failed.
func (c *Controller) warn(svc *corev1.Service, reason, what string, err error) {
	c.recorder.Eventf(svc, corev1.EventTypeWarning, reason, "Error %s for Service %s/%s: %v", what, svc.Namespace, svc.Name, err)
}
