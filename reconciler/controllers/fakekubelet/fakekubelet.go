// Package fakekubelet plays the kubelet for controller tests that run
// against a real API server but no nodes: it binds each unscheduled pod to a
// node, reports it Running and Ready, and completes graceful deletions.
package fakekubelet

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/kubectl/pkg/util/podutils"
)

// Options tune the fake kubelet; the zero value runs every pod at once.
type Options struct {
	// Node is the node pods are bound to ("node-1" when empty).
	Node string
	// Hold, when it returns true for a pod, leaves the pod unscheduled and
	// Pending (it never becomes ready). Deletions still complete.
	Hold func(*corev1.Pod) bool
}

// Kubelet is a running fake kubelet.
type Kubelet struct {
	client kubernetes.Interface
	opts   Options
	lister cache.Indexer
	queue  workqueue.TypedRateLimitingInterface[string]
}

// Start runs a fake kubelet with client (which needs pods, pods/binding,
// pods/status and delete rights: an admin client) until the test ends.
func Start(t testing.TB, client kubernetes.Interface, opts Options) *Kubelet {
	t.Helper()
	if opts.Node == "" {
		opts.Node = "node-1"
	}
	if opts.Hold == nil {
		opts.Hold = func(*corev1.Pod) bool { return false }
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	informer := factory.Core().V1().Pods().Informer()
	k := &Kubelet{
		client: client, opts: opts, lister: informer.GetIndexer(),
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, time.Second)),
	}
	add := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, o any) { add(o) }}); err != nil {
		t.Fatalf("fake kubelet: %v", err)
	}
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for k.next(ctx) {
		}
	}()
	t.Cleanup(func() {
		cancel()
		k.queue.ShutDown()
		factory.Shutdown()
		<-done
	})
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("fake kubelet: pod informer did not sync")
	}
	return k
}

func (k *Kubelet) next(ctx context.Context) bool {
	key, quit := k.queue.Get()
	if quit {
		return false
	}
	defer k.queue.Done(key)
	if err := k.handle(ctx, key); err != nil && ctx.Err() == nil {
		k.queue.AddRateLimited(key)
		return true
	}
	k.queue.Forget(key)
	return true
}

// handle moves the pod at key one step: finish its deletion, or bind it,
// or report it running and ready.
func (k *Kubelet) handle(ctx context.Context, key string) error {
	obj, exists, err := k.lister.GetByKey(key)
	if err != nil || !exists {
		return err
	}
	pod := obj.(*corev1.Pod)
	pods := k.client.CoreV1().Pods(pod.Namespace)
	switch {
	case pod.DeletionTimestamp != nil:
		err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case k.opts.Hold(pod) || podutils.IsPodReady(pod) || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed:
		return nil
	case pod.Spec.NodeName == "":
		err := pods.Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: k.opts.Node},
		}, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	now := metav1.Now()
	next := pod.DeepCopy()
	next.Status.Phase = corev1.PodRunning
	next.Status.StartTime = &now
	next.Status.PodIP = "10.244.0.10"
	setCondition(&next.Status, corev1.PodReady, now)
	setCondition(&next.Status, corev1.ContainersReady, now)
	setCondition(&next.Status, corev1.PodInitialized, now)
	_, err = pods.UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone, or changed since: the informer brings the next version.
		return nil
	}
	if err != nil {
		return fmt.Errorf("fake kubelet: reporting %s running: %w", key, err)
	}
	return nil
}

func setCondition(s *corev1.PodStatus, t corev1.PodConditionType, now metav1.Time) {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			s.Conditions[i].Status, s.Conditions[i].LastTransitionTime = corev1.ConditionTrue, now
			return
		}
	}
	s.Conditions = append(s.Conditions, corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
}
