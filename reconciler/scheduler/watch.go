package scheduler

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"

	"github.com/berth-io/berth/reconciler/scheduler/placement"
	"github.com/berth-io/berth/reconciler/scheduler/queue"
)

// The cluster events that move unschedulable pods, and the filters whose
// rejections each may undo (nil: all of them).
var (
	eventNodeAdd           = queue.Event{Name: "NodeAdd"}
	eventNodeUpdate        = queue.Event{Name: "NodeUpdate"}
	eventNodeDelete        = queue.Event{Name: "NodeDelete", Plugins: sets.New(placement.PodTopologySpread)}
	eventAssignedPodAdd    = queue.Event{Name: "AssignedPodAdd", Plugins: sets.New(placement.InterPodAffinity, placement.PodTopologySpread)}
	eventAssignedPodUpdate = queue.Event{Name: "AssignedPodUpdate", Plugins: sets.New(placement.InterPodAffinity, placement.PodTopologySpread, placement.NodeResourcesFit)}
	eventAssignedPodDelete = queue.Event{Name: "AssignedPodDelete", Plugins: sets.New(placement.NodeResourcesFit, placement.NodePorts, placement.InterPodAffinity, placement.PodTopologySpread)}
	eventNamespaceChange   = queue.Event{Name: "NamespaceChange", Plugins: sets.New(placement.InterPodAffinity)}
)

// nonTerminalPods is the field selector of the scheduler's pod informer.
const nonTerminalPods = "status.phase!=" + string(corev1.PodSucceeded) + ",status.phase!=" + string(corev1.PodFailed)

// watch registers the event handlers on factory's informers.
func (s *Scheduler) watch(factory informers.SharedInformerFactory) error {
	pods := factory.InformerFor(&corev1.Pod{}, newPodInformer)
	nodes := factory.Core().V1().Nodes().Informer()
	namespaces := factory.Core().V1().Namespaces().Informer()
	for _, i := range []toolscache.SharedIndexInformer{pods, nodes, namespaces} {
		if err := i.SetTransform(dropManagedFields); err != nil {
			return fmt.Errorf("informer transform: %w", err)
		}
	}
	handlers := []struct {
		informer toolscache.SharedIndexInformer
		handler  toolscache.ResourceEventHandler
	}{
		{pods, toolscache.ResourceEventHandlerFuncs{AddFunc: s.onPodAdd, UpdateFunc: s.onPodUpdate, DeleteFunc: s.onPodDelete}},
		{nodes, toolscache.ResourceEventHandlerFuncs{AddFunc: s.onNodeAdd, UpdateFunc: s.onNodeUpdate, DeleteFunc: s.onNodeDelete}},
		{namespaces, toolscache.ResourceEventHandlerFuncs{AddFunc: s.onNamespaceAdd, UpdateFunc: s.onNamespaceUpdate, DeleteFunc: s.onNamespaceDelete}},
	}
	for _, h := range handlers {
		reg, err := h.informer.AddEventHandler(h.handler)
		if err != nil {
			return fmt.Errorf("event handler: %w", err)
		}
		s.synced = append(s.synced, reg.HasSynced)
	}
	return nil
}

// newPodInformer watches the pods that still hold or want a node.
func newPodInformer(client kubernetes.Interface, resync time.Duration) toolscache.SharedIndexInformer {
	return coreinformers.NewFilteredPodInformer(client, metav1.NamespaceAll, resync, toolscache.Indexers{}, func(o *metav1.ListOptions) {
		o.FieldSelector = nonTerminalPods
	})
}

// dropManagedFields keeps informer caches small: the scheduler never
// reads managedFields.
func dropManagedFields(obj any) (any, error) {
	if o, ok := obj.(metav1.Object); ok {
		o.SetManagedFields(nil)
	}
	return obj, nil
}

// responsible says whether this scheduler places pod.
func (s *Scheduler) responsible(pod *corev1.Pod) bool {
	return pod.Spec.SchedulerName == s.name || (pod.Spec.SchedulerName == "" && s.name == corev1.DefaultSchedulerName)
}

// gated says whether pod still has scheduling gates: it waits outside the
// queue until they are all removed.
func gated(pod *corev1.Pod) bool { return len(pod.Spec.SchedulingGates) > 0 }

// finished says whether pod has terminated: it neither holds nor wants a node.
func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func (s *Scheduler) onPodAdd(obj any) {
	pod := obj.(*corev1.Pod)
	switch {
	case finished(pod):
	case pod.Spec.NodeName != "":
		s.cache.AddPod(pod)
		s.queue.MoveOnEvent(eventAssignedPodAdd)
	case s.responsible(pod) && !gated(pod):
		s.queue.Add(pod)
	}
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	old, pod := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	switch {
	case finished(pod):
		s.queue.Delete(pod.UID)
		if pod.Spec.NodeName != "" {
			s.cache.RemovePod(pod.UID)
			s.queue.MoveOnEvent(eventAssignedPodDelete)
		}
	case pod.Spec.NodeName != "" && old.Spec.NodeName == "":
		// Bound (by this scheduler, or another).
		s.queue.Delete(pod.UID)
		s.cache.AddPod(pod)
		s.queue.MoveOnEvent(eventAssignedPodAdd)
	case pod.Spec.NodeName != "":
		s.cache.UpdatePod(pod)
		if !equality.Semantic.DeepEqual(old.Labels, pod.Labels) || !equality.Semantic.DeepEqual(old.Spec.Containers, pod.Spec.Containers) {
			s.queue.MoveOnEvent(eventAssignedPodUpdate)
		}
	case s.responsible(pod) && !gated(pod):
		s.queue.Update(pod)
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	pod, ok := podOf(obj)
	if !ok {
		return
	}
	if pod.Spec.NodeName == "" {
		s.queue.Delete(pod.UID)
		return
	}
	s.cache.RemovePod(pod.UID)
	s.queue.MoveOnEvent(eventAssignedPodDelete)
}

// podOf unwraps a deleted pod, which the informer may only know as a
// tombstone.
func podOf(obj any) (*corev1.Pod, bool) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	return pod, ok
}

func (s *Scheduler) onNodeAdd(obj any) {
	s.cache.SetNode(obj.(*corev1.Node))
	s.queue.MoveOnEvent(eventNodeAdd)
}

// onNodeUpdate ignores what placement does not read (heartbeats, status
// conditions, annotations): only labels, taints, spec.unschedulable and
// allocatable resources reach the cache and move pods.
func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	old, node := oldObj.(*corev1.Node), newObj.(*corev1.Node)
	if equality.Semantic.DeepEqual(old.Labels, node.Labels) &&
		equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) &&
		old.Spec.Unschedulable == node.Spec.Unschedulable &&
		equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) {
		return
	}
	s.cache.SetNode(node)
	s.queue.MoveOnEvent(eventNodeUpdate)
}

func (s *Scheduler) onNodeDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if node, ok := obj.(*corev1.Node); ok {
		s.cache.RemoveNode(node.Name)
		s.queue.MoveOnEvent(eventNodeDelete)
	}
}

func (s *Scheduler) onNamespaceAdd(obj any) {
	s.cache.SetNamespace(obj.(*corev1.Namespace))
	s.queue.MoveOnEvent(eventNamespaceChange)
}

func (s *Scheduler) onNamespaceUpdate(oldObj, newObj any) {
	old, ns := oldObj.(*corev1.Namespace), newObj.(*corev1.Namespace)
	if !equality.Semantic.DeepEqual(old.Labels, ns.Labels) {
		s.cache.SetNamespace(ns)
		s.queue.MoveOnEvent(eventNamespaceChange)
	}
}

func (s *Scheduler) onNamespaceDelete(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if ns, ok := obj.(*corev1.Namespace); ok {
		s.cache.RemoveNamespace(ns.Name)
	}
}
