// Package replicaset is the ReplicaSet controller: it keeps the number of
// pods a ReplicaSet controls at spec.replicas, adopts orphan pods that match
// its selector and releases pods that stop matching, and reports replicas,
// fullyLabeledReplicas, readyReplicas, availableReplicas and
// observedGeneration in the status subresource, as Kubernetes' does.
//
// Creations go out in slow-start batches (1, 2, 4, ...) and are remembered
// as expectations until the informer shows them, so that a stale cache
// never makes it create or delete twice. Scale down removes the least useful
// pods first (unscheduled, pending, not ready, ...). The decisions are the
// pure functions of replicas.go; sync.go does the I/O.
package replicaset

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/berth-io/berth/reconciler/controllers/ownership"

	"github.com/berth-io/berth/reconciler/worker"
)

// DefaultBurstReplicas is how many pods one sync creates or deletes at
// most, as in kube-controller-manager.
const DefaultBurstReplicas = 500

// Options tune the controller; the zero value is the default.
type Options struct {
	// BurstReplicas caps the pods one sync creates or deletes
	// (DefaultBurstReplicas when 0).
	BurstReplicas int
	// Log receives the controller's logs (slog.Default() when nil).
	Log *slog.Logger
}

// Controller is the ReplicaSet controller. Build it with New before the
// informer factory starts, then call Run.
type Controller struct {
	client       kubernetes.Interface
	rsLister     appslisters.ReplicaSetLister
	podLister    corelisters.PodLister
	podIndexer   cache.Indexer
	synced       []cache.InformerSynced
	queue        workqueue.TypedRateLimitingInterface[string]
	recorder     record.EventRecorder
	expectations *expectations
	burst        int
	log          *slog.Logger
	now          func() time.Time
}

// New builds the controller on factory's ReplicaSet and Pod informers (it
// adds an index to the latter, so call it before factory.Start). recorder
// records events on ReplicaSets; client should be the controller manager's
// identity.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	if err := ownership.AddControllerIndex(podInformer.Informer()); err != nil {
		return nil, fmt.Errorf("replicaset controller: indexing pods by controller: %w", err)
	}
	c := &Controller{
		client:       client,
		rsLister:     rsInformer.Lister(),
		podLister:    podInformer.Lister(),
		podIndexer:   podInformer.Informer().GetIndexer(),
		synced:       []cache.InformerSynced{rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced},
		queue:        workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "replicaset"}),
		recorder:     recorder,
		expectations: newExpectations(time.Now),
		burst:        opts.BurstReplicas,
		log:          opts.Log,
		now:          time.Now,
	}
	if c.burst <= 0 {
		c.burst = DefaultBurstReplicas
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "replicaset")
	if _, err := rsInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.deleteReplicaSet,
	}); err != nil {
		return nil, fmt.Errorf("replicaset controller: watching replicasets: %w", err)
	}
	if _, err := podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("replicaset controller: watching pods: %w", err)
	}
	return c, nil
}

// Run waits for the informers' caches, then syncs ReplicaSets with workers
// goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	worker.Run(ctx, c.queue, workers, c.log, "replicaset", c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) deleteReplicaSet(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key deleted object", "err", err)
		return
	}
	c.expectations.forget(key)
	c.queue.Add(key)
}

// addPod counts a creation towards its controller's expectations, or wakes
// the ReplicaSets that may adopt an orphan.
func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (after a relist).
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if rs := c.resolve(pod.Namespace, ref); rs != nil {
			key := keyOf(rs)
			c.expectations.created(key)
			c.queue.Add(key)
		}
		return
	}
	c.enqueueSelecting(pod)
}

// updatePod wakes the ReplicaSets whose count or status a pod change can
// affect: its controller (old and new), and those that may adopt it.
func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// A graceful deletion: the pod stops counting now. The delete event
		// will come later; count the deletion as seen today.
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if rs := c.resolve(old.Namespace, oldRef); rs != nil {
			c.queue.Add(keyOf(rs))
		}
	}
	if curRef != nil {
		rs := c.resolve(cur.Namespace, curRef)
		if rs == nil {
			return
		}
		c.queue.Add(keyOf(rs))
		if d := rs.Spec.MinReadySeconds; d > 0 && !podutils.IsPodReady(old) && podutils.IsPodReady(cur) {
			// Check again when the pod has been ready long enough to count
			// as available.
			c.queue.AddAfter(keyOf(rs), time.Duration(d)*time.Second+100*time.Millisecond)
		}
		return
	}
	if labelsChanged || oldRef != nil {
		c.enqueueSelecting(cur)
	}
}

// deletePod counts a deletion towards its controller's expectations.
func (c *Controller) deletePod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	rs := c.resolve(pod.Namespace, ref)
	if rs == nil {
		return
	}
	key := keyOf(rs)
	c.expectations.deleted(key, podKey(pod))
	c.queue.Add(key)
}

// enqueueSelecting wakes every ReplicaSet whose selector matches orphan pod.
func (c *Controller) enqueueSelecting(pod *corev1.Pod) {
	if len(pod.Labels) == 0 {
		return
	}
	sets, err := c.rsLister.ReplicaSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, rs := range sets {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		c.queue.Add(keyOf(rs))
	}
}

// resolve is the ReplicaSet ref points to, if the cache has it with the
// same UID.
func (c *Controller) resolve(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

func keyOf(rs *appsv1.ReplicaSet) string { return rs.Namespace + "/" + rs.Name }

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
