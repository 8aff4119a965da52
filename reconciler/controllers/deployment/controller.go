// Package deployment is the Deployment controller, with Kubernetes'
// semantics: one ReplicaSet per pod template (named <deployment>-<hash>,
// labelled pod-template-hash), RollingUpdate within maxSurge and
// maxUnavailable or Recreate, revisions and their history on ReplicaSet
// annotations (what kubectl rollout history and undo use), pause and
// resume, proportional scaling in the middle of a rollout, the Progressing
// condition against progressDeadlineSeconds, the Available condition, and
// status counts through the status subresource.
//
// The decisions are pure functions (rollout.go, status.go, revision.go);
// sync.go reads the cache, calls them and writes their results.
package deployment

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
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/berth-io/berth/reconciler/controllers/ownership"

	"github.com/berth-io/berth/reconciler/worker"
)

// Options tune the controller; the zero value is the default.
type Options struct {
	// Log receives the controller's logs (slog.Default() when nil).
	Log *slog.Logger
}

// Controller is the Deployment controller. Build it with New before the
// informer factory starts, then call Run.
type Controller struct {
	client     kubernetes.Interface
	dLister    appslisters.DeploymentLister
	rsLister   appslisters.ReplicaSetLister
	podIndexer cache.Indexer
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]
	recorder   record.EventRecorder
	log        *slog.Logger
	now        func() time.Time
}

// New builds the controller on factory's Deployment, ReplicaSet and Pod
// informers (it adds an index to the pod informer, so call it before
// factory.Start). recorder records events on Deployments; client should
// be the controller manager's identity.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	dInformer := factory.Apps().V1().Deployments()
	rsInformer := factory.Apps().V1().ReplicaSets()
	podInformer := factory.Core().V1().Pods()
	if err := ownership.AddControllerIndex(podInformer.Informer()); err != nil {
		return nil, fmt.Errorf("deployment controller: indexing pods by controller: %w", err)
	}
	c := &Controller{
		client:     client,
		dLister:    dInformer.Lister(),
		rsLister:   rsInformer.Lister(),
		podIndexer: podInformer.Informer().GetIndexer(),
		synced:     []cache.InformerSynced{dInformer.Informer().HasSynced, rsInformer.Informer().HasSynced, podInformer.Informer().HasSynced},
		queue:      workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "deployment"}),
		recorder:   recorder,
		log:        opts.Log,
		now:        time.Now,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "deployment")
	handlers := []struct {
		informer cache.SharedIndexInformer
		funcs    cache.ResourceEventHandlerFuncs
	}{
		{dInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
			DeleteFunc: c.enqueue,
		}},
		{rsInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addReplicaSet,
			UpdateFunc: c.updateReplicaSet,
			DeleteFunc: c.deleteReplicaSet,
		}},
		{podInformer.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.deletePod}},
	}
	for _, h := range handlers {
		if _, err := h.informer.AddEventHandler(h.funcs); err != nil {
			return nil, fmt.Errorf("deployment controller: watching: %w", err)
		}
	}
	return c, nil
}

// Run waits for the informers' caches, then syncs Deployments with workers
// goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	worker.Run(ctx, c.queue, workers, c.log, "deployment", c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.queue.Add(key)
}

// addReplicaSet wakes the ReplicaSet's Deployment, or the Deployments that
// may adopt an orphan.
func (c *Controller) addReplicaSet(obj any) {
	rs := obj.(*appsv1.ReplicaSet)
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.resolve(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	c.enqueueSelecting(rs)
}

func (c *Controller) updateReplicaSet(oldObj, curObj any) {
	old, cur := oldObj.(*appsv1.ReplicaSet), curObj.(*appsv1.ReplicaSet)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	refChanged := (oldRef == nil) != (curRef == nil) || oldRef != nil && oldRef.UID != curRef.UID
	if refChanged && oldRef != nil {
		if d := c.resolve(old.Namespace, oldRef); d != nil {
			c.enqueue(d)
		}
	}
	if curRef != nil {
		if d := c.resolve(cur.Namespace, curRef); d != nil {
			c.enqueue(d)
		}
		return
	}
	if refChanged || !labels.Equals(old.Labels, cur.Labels) {
		c.enqueueSelecting(cur)
	}
}

func (c *Controller) deleteReplicaSet(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(rs); ref != nil {
		if d := c.resolve(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
	}
}

// deletePod wakes a Recreate Deployment waiting for its old pods to go.
func (c *Controller) deletePod(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	rsRef := metav1.GetControllerOfNoCopy(rs)
	if rsRef == nil {
		return
	}
	if d := c.resolve(rs.Namespace, rsRef); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueue(d)
	}
}

// enqueueSelecting wakes every Deployment whose selector matches orphan rs.
func (c *Controller) enqueueSelecting(rs *appsv1.ReplicaSet) {
	if len(rs.Labels) == 0 {
		return
	}
	ds, err := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range ds {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(rs.Labels)) {
			continue
		}
		c.enqueue(d)
	}
}

// resolve is the Deployment ref points to, if the cache has it with the
// same UID.
func (c *Controller) resolve(namespace string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref.Kind != controllerKind.Kind {
		return nil
	}
	d, err := c.dLister.Deployments(namespace).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}
