package hollow

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// runPods serves the pod queue until it shuts down: a pod is looked at
// when it changes and when planPod asked to see it again; failures are
// retried with back-off.
func (f *Fleet) runPods(ctx context.Context) {
	for {
		key, shutdown := f.pods.Get()
		if shutdown {
			return
		}
		after, err := f.syncPod(ctx, key)
		switch {
		case err != nil:
			if ctx.Err() == nil && !apierrors.IsConflict(err) {
				f.opts.Log.Warn("hollow kubelet", "pod", key, "err", err)
			}
			f.pods.AddRateLimited(key)
		case after > 0:
			f.pods.Forget(key)
			f.pods.AddAfter(key, after)
		default:
			f.pods.Forget(key)
		}
		f.pods.Done(key)
	}
}

// syncPod does what planPod decides for the pod at key, and says when to
// look at it again.
func (f *Fleet) syncPod(ctx context.Context, key string) (time.Duration, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil // cannot happen: the fleet makes the keys
	}
	pod, err := f.podLister.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		f.forgetPod(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, ours := f.nodes[pod.Spec.NodeName]
	if !ours {
		return 0, nil
	}
	now := time.Now()
	view, alive, err := f.viewOf(key, pod, n, now)
	if !alive || err != nil {
		return 0, err
	}
	action, err := planPod(pod, view, now)
	if err != nil {
		f.opts.Log.Warn("hollow kubelet: ignoring the pod's script", "err", err)
		return 0, nil
	}
	pods := f.client.CoreV1().Pods(namespace)
	switch {
	case action.delete:
		err := pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptrTo(int64(0)), Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return 0, fmt.Errorf("finishing the deletion of pod %s: %w", key, err)
		}
		return 0, nil
	case action.status != nil:
		updated := *pod // the cached pod is shared: change a copy
		updated.Status = *action.status
		if _, err := pods.UpdateStatus(ctx, &updated, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				f.forgetPod(key)
				return 0, nil
			}
			return 0, fmt.Errorf("updating the status of pod %s: %w", key, err)
		}
		f.changed(key, pod.UID, action.status.Phase, now)
	}
	return action.after, nil
}

// viewOf is what the node knows of the pod, starting to track it (and
// giving it an IP) when it is new. alive is false when the node is stopped.
func (f *Fleet) viewOf(key string, pod *corev1.Pod, n *node, now time.Time) (view podView, alive bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n.stopped {
		return podView{}, false, nil
	}
	view = podView{hostIP: n.ip, startupDelay: f.opts.StartupDelay, seen: now}
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		f.forgetLocked(key)
		return view, true, nil
	}
	st := f.podStates[key]
	if st != nil && st.uid != pod.UID {
		f.forgetLocked(key)
		st = nil
	}
	if st == nil {
		st = &podState{uid: pod.UID, node: n, seen: now}
		f.podStates[key] = st
		n.pods[st] = struct{}{}
	}
	if !st.ip.IsValid() {
		pool := f.poolLocked(n)
		// A pod that ran before the fleet restarted keeps its IP.
		ip, err := netip.ParseAddr(pod.Status.PodIP)
		if err == nil {
			pool.reserve(ip)
		} else {
			var free bool
			if ip, free = pool.allocate(); !free {
				return podView{}, true, fmt.Errorf("node %s: no free pod IP left in %s for pod %s", n.name, pool.prefix, key)
			}
		}
		st.ip = ip
	}
	view.seen, view.since, view.podIP = st.seen, st.since, st.ip
	return view, true, nil
}

// poolLocked is the IP pool of the node's current pod CIDR, made anew
// (with the addresses of its pods reserved) when the CIDR changed.
func (f *Fleet) poolLocked(n *node) *ipPool {
	cidr := n.fallback
	if node, err := f.nodeLister.Get(n.name); err == nil {
		cidr = podCIDR(node, n.fallback)
	}
	if n.pool == nil || n.pool.prefix != cidr {
		n.pool = newIPPool(cidr)
		for st := range n.pods {
			n.pool.reserve(st.ip)
		}
	}
	return n.pool
}

// changed notes that the fleet changed the pod's containers at now, and
// forgets a pod that ended.
func (f *Fleet) changed(key string, uid types.UID, phase corev1.PodPhase, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if phase == corev1.PodSucceeded || phase == corev1.PodFailed {
		f.forgetLocked(key)
		return
	}
	if st := f.podStates[key]; st != nil && st.uid == uid {
		st.since = now
	}
}

func (f *Fleet) forgetPod(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgetLocked(key)
}

// forgetLocked stops tracking the pod at key and frees its IP.
func (f *Fleet) forgetLocked(key string) {
	st := f.podStates[key]
	if st == nil {
		return
	}
	delete(f.podStates, key)
	delete(st.node.pods, st)
	if st.node.pool != nil {
		st.node.pool.release(st.ip)
	}
}
