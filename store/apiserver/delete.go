package apiserver

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Finalizers the API server adds for the propagation policies the garbage
// collector carries out.
const (
	finalizerOrphan     = metav1.FinalizerOrphanDependents
	finalizerForeground = metav1.FinalizerDeleteDependents
)

func (c *call) delete() {
	if c.info.Subresource != "" {
		c.fail(methodNotAllowed("delete", c.kind.GroupResource()))
		return
	}
	opts, err := c.deleteOptions()
	if err != nil {
		c.fail(err)
		return
	}
	obj, err := c.deleteOne(c.key(), opts)
	if err != nil {
		c.fail(err)
		return
	}
	c.respond(http.StatusOK, obj)
}

// deleteOptions reads DeleteOptions from the body, or else from the query.
func (c *call) deleteOptions() (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	data, err := c.readBody()
	if err != nil {
		return nil, err
	}
	if len(data) > 0 {
		mediaType, err := bodyType(c.r)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		obj, err := c.decodeInto(data, mediaType, metav1.SchemeGroupVersion.WithKind("DeleteOptions"), opts)
		if err != nil {
			return nil, err
		}
		opts = obj.(*metav1.DeleteOptions)
	}
	if g := c.query.Get("gracePeriodSeconds"); g != "" {
		n, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest("gracePeriodSeconds must be a number")
		}
		opts.GracePeriodSeconds = &n
	}
	if p := c.query.Get("propagationPolicy"); p != "" {
		policy := metav1.DeletionPropagation(p)
		opts.PropagationPolicy = &policy
	}
	if c.dryRun() {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return opts, nil
}

// deleteOne deletes the object at key: at once, or by marking it with a
// deletionTimestamp while finalizers or a pod's grace period run.
func (c *call) deleteOne(key string, opts *metav1.DeleteOptions) (runtime.Object, error) {
	cached, _ := c.cache.Get(key)
	current := cached
	if current == nil {
		obj, err := c.s.cfg.Store.Get(c.ctx, key)
		if err != nil {
			return nil, err
		}
		current = obj
	}
	if err := c.checkPreconditions(current, opts); err != nil {
		if cached == nil {
			return nil, err
		}
		fresh, gerr := c.s.cfg.Store.Get(c.ctx, key)
		if gerr != nil {
			return nil, gerr
		}
		if err := c.checkPreconditions(fresh, opts); err != nil {
			return nil, err
		}
		current = fresh
	}
	if _, err := c.admit(Delete, nil, current); err != nil {
		return nil, err
	}
	grace := gracePeriod(current, opts)
	finalizers := wantedFinalizers(current, opts)
	if grace > 0 || len(finalizers) > 0 || hasSpecFinalizers(current) {
		return c.markDeleting(key, grace, finalizers, opts)
	}
	if len(opts.DryRun) > 0 {
		return current, nil
	}
	deleted, err := c.s.cfg.Store.Delete(c.ctx, key, current, func(obj runtime.Object) error {
		if err := c.checkPreconditions(obj, opts); err != nil {
			return err
		}
		if len(wantedFinalizers(obj, opts)) > 0 || gracePeriod(obj, opts) > 0 || hasSpecFinalizers(obj) {
			return errRetryGraceful
		}
		return nil
	})
	if errors.Is(err, errRetryGraceful) {
		return c.markDeleting(key, gracePeriod(current, opts), wantedFinalizers(current, opts), opts)
	}
	if err != nil {
		return nil, err
	}
	c.released(deleted)
	return deleted, nil
}

var errRetryGraceful = errors.New("object gained finalizers")

// markDeleting sets deletionTimestamp (now + grace) and the finalizers the
// propagation policy asks for; a later, shorter grace period wins.
func (c *call) markDeleting(key string, grace int64, finalizers []string, opts *metav1.DeleteOptions) (runtime.Object, error) {
	mark := func(current runtime.Object) (runtime.Object, error) {
		a, err := meta.Accessor(current)
		if err != nil {
			return nil, err
		}
		if err := c.checkPreconditions(current, opts); err != nil {
			return nil, err
		}
		if old := a.GetDeletionGracePeriodSeconds(); a.GetDeletionTimestamp() != nil && (old == nil || *old <= grace) {
			return current, nil
		}
		now := time.Now()
		ts := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
		a.SetDeletionTimestamp(&ts)
		a.SetDeletionGracePeriodSeconds(&grace)
		a.SetFinalizers(finalizers)
		a.SetGeneration(a.GetGeneration() + 1)
		if ns, ok := current.(*corev1.Namespace); ok {
			ns.Status.Phase = corev1.NamespaceTerminating
		}
		return current, nil
	}
	if len(opts.DryRun) > 0 {
		current, err := c.s.cfg.Store.Get(c.ctx, key)
		if err != nil {
			return nil, err
		}
		return mark(current)
	}
	cached, _ := c.cache.Get(key)
	obj, err := c.s.cfg.Store.GuaranteedUpdate(c.ctx, key, cached, mark)
	if err != nil {
		return nil, err
	}
	return c.finishDeletion(obj)
}

func (c *call) checkPreconditions(obj runtime.Object, opts *metav1.DeleteOptions) error {
	if opts.Preconditions == nil {
		return nil
	}
	a, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if uid := opts.Preconditions.UID; uid != nil && *uid != a.GetUID() {
		return apierrors.NewConflict(c.kind.GroupResource(), a.GetName(), fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *uid, a.GetUID()))
	}
	if rv := opts.Preconditions.ResourceVersion; rv != nil && *rv != a.GetResourceVersion() {
		return apierrors.NewConflict(c.kind.GroupResource(), a.GetName(), fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *rv, a.GetResourceVersion()))
	}
	return nil
}

// gracePeriod is how long a deletion waits: only pods bound to a node
// and still running get one (their spec's, unless the request says).
func gracePeriod(obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		return max(*opts.GracePeriodSeconds, 0)
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return corev1.DefaultTerminationGracePeriodSeconds
}

// wantedFinalizers are the object's finalizers plus the one its
// propagation policy needs; a namespace also waits for its spec finalizers.
func wantedFinalizers(obj runtime.Object, opts *metav1.DeleteOptions) []string {
	a, _ := meta.Accessor(obj)
	out := append([]string(nil), a.GetFinalizers()...)
	policy := metav1.DeletePropagationBackground
	if opts.PropagationPolicy != nil {
		policy = *opts.PropagationPolicy
	} else if opts.OrphanDependents != nil && *opts.OrphanDependents {
		policy = metav1.DeletePropagationOrphan
	}
	add := func(f string) {
		for _, have := range out {
			if have == f {
				return
			}
		}
		out = append(out, f)
	}
	switch policy {
	case metav1.DeletePropagationOrphan:
		add(finalizerOrphan)
	case metav1.DeletePropagationForeground:
		add(finalizerForeground)
	}
	return out
}

// hasSpecFinalizers: a namespace waits for its spec finalizers (the
// namespace controller empties it, then the finalize subresource).
func hasSpecFinalizers(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

func (c *call) deleteCollection() {
	opts, err := c.deleteOptions()
	if err != nil {
		c.fail(err)
		return
	}
	filter, err := filterFrom(c.kind, c.query, c.info.Namespace)
	if err != nil {
		c.fail(err)
		return
	}
	if err := c.readTarget(); err != nil {
		c.fail(err)
		return
	}
	objs, _ := c.cache.List(filter)
	deleted := make([]runtime.Object, 0, len(objs))
	for _, o := range objs {
		a, _ := meta.Accessor(o)
		obj, err := c.deleteOne(c.kind.Key(a.GetNamespace(), a.GetName()), opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			c.fail(err)
			return
		}
		deleted = append(deleted, obj)
	}
	c.respondList(deleted, 0, "", nil)
}

// bind assigns a pod to a node (pods/binding), as the scheduler does.
func (c *call) bind() {
	obj, err := c.decodeBody(&corev1.Binding{})
	if err != nil {
		c.fail(err)
		return
	}
	binding := obj.(*corev1.Binding)
	if binding.Target.Kind != "" && binding.Target.Kind != "Node" {
		c.fail(apierrors.NewInvalid(c.kind.GVK.GroupKind(), c.info.Name, nil))
		return
	}
	if binding.Target.Name == "" {
		c.fail(apierrors.NewBadRequest("binding target must name a node"))
		return
	}
	_, err = c.mutate(func(current runtime.Object) (runtime.Object, error) {
		pod := current.(*corev1.Pod)
		if uid := binding.UID; uid != "" && uid != pod.UID {
			return nil, apierrors.NewConflict(c.kind.GroupResource(), pod.Name, fmt.Errorf("the UID in the binding (%s) does not match the pod's (%s)", uid, pod.UID))
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(c.kind.GroupResource(), pod.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(c.kind.GroupResource(), pod.Name, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = binding.Target.Name
		for k, v := range binding.Annotations {
			if pod.Annotations == nil {
				pod.Annotations = map[string]string{}
			}
			pod.Annotations[k] = v
		}
		setCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
		return c.trackFields(current, pod, c.fieldManager())
	})
	if err != nil {
		c.fail(err)
		return
	}
	c.s.writeObject(c.w, c.out, http.StatusCreated, success())
}

func setCondition(status *corev1.PodStatus, cond corev1.PodCondition) {
	for i, have := range status.Conditions {
		if have.Type == cond.Type {
			if have.Status == cond.Status {
				cond.LastTransitionTime = have.LastTransitionTime
			}
			status.Conditions[i] = cond
			return
		}
	}
	status.Conditions = append(status.Conditions, cond)
}

func success() *metav1.Status {
	return &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated}
}

// evict deletes a pod through pods/eviction. No PodDisruptionBudgets are
// served, so every eviction is allowed.
func (c *call) evict() {
	obj, err := c.decodeBody(&policyv1.Eviction{})
	if err != nil {
		c.fail(err)
		return
	}
	opts := obj.(*policyv1.Eviction).DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	if _, err := c.deleteOne(c.key(), opts); err != nil {
		c.fail(err)
		return
	}
	c.s.writeObject(c.w, c.out, http.StatusCreated, success())
}

// token issues a ServiceAccount token (serviceaccounts/token).
func (c *call) token() {
	sa, ok := c.cache.Get(c.key())
	if !ok {
		c.fail(apierrors.NewNotFound(c.kind.GroupResource(), c.info.Name))
		return
	}
	if c.s.cfg.Tokens == nil {
		c.fail(apierrors.NewServiceUnavailable("ServiceAccount tokens are not configured on this server"))
		return
	}
	obj, err := c.decodeBody(&authenticationv1.TokenRequest{})
	if err != nil {
		c.fail(err)
		return
	}
	resp, err := c.s.cfg.Tokens(c.ctx, sa.(*corev1.ServiceAccount), obj.(*authenticationv1.TokenRequest))
	if err != nil {
		c.fail(err)
		return
	}
	c.s.writeObject(c.w, c.out, http.StatusCreated, resp)
}
