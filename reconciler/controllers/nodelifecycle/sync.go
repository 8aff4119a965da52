package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// Event reasons, as kube-controller-manager records them.
const (
	eventNodeNotReady     = "NodeNotReady"
	eventCIDRNotAvailable = "CIDRNotAvailable"
	eventTaintEviction    = "TaintManagerEviction"
)

// syncNode gives the node a pod CIDR if it has none, marks it Unknown if
// its kubelet went quiet, and brings its managed taints in line.
func (c *Controller) syncNode(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if node.Spec.PodCIDR == "" {
		if node, err = c.assignPodCIDR(ctx, node); err != nil {
			return err
		}
	}
	if node, err = c.checkHealth(ctx, node); err != nil {
		return err
	}
	return c.updateTaints(ctx, node)
}

// assignPodCIDR takes a free subnet and writes it to the node's spec. The
// subnet is given back when the API server surely did not store it; the
// API server refuses to change a pod CIDR once set, so a stale cache never
// gives a node two.
func (c *Controller) assignPodCIDR(ctx context.Context, node *corev1.Node) (*corev1.Node, error) {
	c.mu.Lock()
	cidr, err := c.cidrs.Allocate()
	c.mu.Unlock()
	if err != nil {
		c.recorder.Eventf(nodeRef(node.Name), corev1.EventTypeNormal, eventCIDRNotAvailable, "Node %s status is now: %s", node.Name, eventCIDRNotAvailable)
		return nil, fmt.Errorf("pod CIDR for node %s: %w", node.Name, err)
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": cidr.String(), "podCIDRs": []string{cidr.String()}}})
	if err != nil {
		return nil, err
	}
	updated, err := c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsInvalid(err) || apierrors.IsNotFound(err) {
			c.release(cidr)
		}
		err = fmt.Errorf("setting pod CIDR %s on node %s: %w", cidr, node.Name, err)
		if apierrors.IsInvalid(err) {
			// The node has a CIDR our cache has not seen yet: routine.
			return nil, staleCache{err}
		}
		return nil, err
	}
	c.log.Info("assigned pod CIDR", "node", node.Name, "podCIDR", cidr)
	return updated, nil
}

func (c *Controller) release(cidr netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.cidrs.Release(cidr); err != nil {
		c.log.Error("releasing a pod CIDR", "podCIDR", cidr, "err", err)
	}
}

// checkHealth notes what is heard from the node now, and marks its kubelet
// conditions Unknown once it has been quiet for the grace period; until
// then it checks again at the deadline.
func (c *Controller) checkHealth(ctx context.Context, node *corev1.Node) (*corev1.Node, error) {
	now := time.Now()
	var renewed, heartbeat time.Time
	if lease, err := c.leases.Leases(corev1.NamespaceNodeLease).Get(node.Name); err == nil && lease.Spec.RenewTime != nil {
		renewed = lease.Spec.RenewTime.Time
	}
	grace := c.startupGrace
	if i := conditionIndex(node.Status.Conditions, corev1.NodeReady); i >= 0 {
		heartbeat, grace = node.Status.Conditions[i].LastHeartbeatTime.Time, c.grace
	}
	c.mu.Lock()
	prev, known := c.probes[node.Name]
	p := observe(prev, known, renewed, heartbeat, now)
	c.probes[node.Name] = p
	c.mu.Unlock()
	if deadline := p.deadline(grace); now.Before(deadline) {
		c.nodeQueue.AddAfter(node.Name, deadline.Sub(now))
		return node, nil
	}
	conds, changed := unknownConditions(node.Status.Conditions, node.CreationTimestamp, metav1.NewTime(now))
	if !changed {
		return node, nil
	}
	update := node.DeepCopy()
	update.Status.Conditions = conds
	updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, update, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("marking node %s Unknown: %w", node.Name, err)
	}
	c.log.Info("node went quiet; marked Unknown", "node", node.Name, "heardAt", p.heardAt)
	if readiness(node) == corev1.ConditionTrue {
		c.recorder.Eventf(nodeRef(node.Name), corev1.EventTypeNormal, eventNodeNotReady, "Node %s status is now: %s", node.Name, eventNodeNotReady)
	}
	return updated, nil
}

// updateTaints writes the node's managed taints when they are out of line
// with its state, and notes when its untimed NoExecute taints were seen.
func (c *Controller) updateTaints(ctx context.Context, node *corev1.Node) error {
	now := metav1.Now()
	c.mu.Lock()
	c.untimed[node.Name] = untimedSince(c.untimed[node.Name], node.Spec.Taints, now.Time)
	c.mu.Unlock()
	taints, changed := reconcileTaints(node, now)
	if !changed {
		return nil
	}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": node.ResourceVersion},
		"spec":     map[string]any{"taints": taints},
	})
	if err != nil {
		return err
	}
	if _, err := c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("updating the taints of node %s: %w", node.Name, err)
	}
	return nil
}

// syncPod marks a pod on a node that is not ready Ready=False, and deletes
// it once its tolerations of the node's NoExecute taints expire (or checks
// again then).
func (c *Controller) syncPod(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		return nil
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.markPodNotReady(ctx, pod, node); err != nil {
		return err
	}
	return c.evict(ctx, key, pod, node)
}

func (c *Controller) markPodNotReady(ctx context.Context, pod *corev1.Pod, node *corev1.Node) error {
	if !unready(node) {
		return nil
	}
	status, changed := podNotReady(pod.Status, metav1.Now())
	if !changed {
		return nil
	}
	update := pod.DeepCopy()
	update.Status = status
	_, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, update, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("marking pod %s/%s not ready: %w", pod.Namespace, pod.Name, err)
	}
	c.recorder.Event(pod, corev1.EventTypeWarning, eventNodeNotReady, "Node is not ready")
	return nil
}

func (c *Controller) evict(ctx context.Context, key string, pod *corev1.Pod, node *corev1.Node) error {
	now := time.Now()
	c.mu.Lock()
	untimed := c.untimed[node.Name]
	c.mu.Unlock()
	deadline, ok := evictionDeadline(pod.Spec.Tolerations, node.Spec.Taints, func(t corev1.Taint) time.Time {
		if since, seen := untimed[t.Key]; seen {
			return since
		}
		return now
	})
	if !ok {
		return nil
	}
	if wait := deadline.Sub(now); wait > 0 {
		c.podQueue.AddAfter(key, wait)
		return nil
	}
	uid := pod.UID
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("evicting pod %s from node %s: %w", key, node.Name, err)
	}
	c.log.Info("evicted pod from tainted node", "pod", key, "node", node.Name)
	c.recorder.Eventf(pod, corev1.EventTypeNormal, eventTaintEviction, "Marking for deletion Pod %s", key)
	return nil
}

// nodeRef is what node events point at. Like the kubelet and
// kube-controller-manager, it uses the node's name as its UID, which is
// what kubectl describe node looks for.
func nodeRef(name string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "Node", APIVersion: "v1", Name: name, UID: types.UID(name)}
}

// staleCache is an error caused by a cache one step behind the API server;
// the retry will see the newer state.
type staleCache struct{ error }

// Waiting marks the error as routine for the worker's log.
func (staleCache) Waiting() bool { return true }

func (e staleCache) Unwrap() error { return e.error }
