// Package admission completes and checks writes before they are stored:
// namespace lifecycle, the pod's ServiceAccount and initial status, a Job's
// generated selector, and Service ClusterIP and NodePort allocation.
package admission

import (
	"context"
	"fmt"
	"log/slog"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kubectl/pkg/util/qos"

	"github.com/berth-io/berth/store/allocator"
	"github.com/berth-io/berth/store/apiserver"
	"github.com/berth-io/berth/store/defaults"
	"github.com/berth-io/berth/store/registry"
)

// Lookup reads a stored object, from the cache or else from etcd.
type Lookup func(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, error)

// Chain is berth's admission: every plugin, in kube-apiserver's order.
type Chain struct {
	lookup Lookup
	ips    *allocator.IPAllocator
	ports  *allocator.PortAllocator
	log    *slog.Logger
}

// New returns the admission chain.
func New(lookup Lookup, ips *allocator.IPAllocator, ports *allocator.PortAllocator, log *slog.Logger) *Chain {
	return &Chain{lookup: lookup, ips: ips, ports: ports, log: log}
}

var (
	namespacesGVR      = corev1.SchemeGroupVersion.WithResource("namespaces")
	serviceAccountsGVR = corev1.SchemeGroupVersion.WithResource("serviceaccounts")
)

// immortalNamespaces may not be deleted, as in Kubernetes.
var immortalNamespaces = map[string]bool{metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true}

// Admit runs the plugins that apply to req.
func (c *Chain) Admit(ctx context.Context, req *apiserver.AdmissionRequest) (func(bool), error) {
	if req.Operation == apiserver.Delete {
		if req.Kind.GVK.Kind == "Namespace" && req.Kind.GVK.Group == "" && immortalNamespaces[req.Name] {
			return nil, apierrors.NewForbidden(req.Kind.GroupResource(), req.Name, fmt.Errorf("this namespace may not be deleted"))
		}
		return nil, nil
	}
	if req.Operation == apiserver.Create && req.Kind.Namespaced {
		if err := c.namespaceLifecycle(ctx, req); err != nil {
			return nil, err
		}
	}
	switch obj := req.Object.(type) {
	case *corev1.Namespace:
		if req.Operation == apiserver.Create {
			startNamespace(obj)
		}
	case *corev1.Pod:
		if req.Operation == apiserver.Create && req.Subresource == "" {
			return nil, c.admitPod(ctx, obj)
		}
	case *batchv1.Job:
		if req.Operation == apiserver.Create {
			defaults.GenerateJobSelector(obj)
		}
	case *corev1.Service:
		if req.Subresource == "" {
			old, _ := req.Old.(*corev1.Service)
			return c.allocateService(ctx, obj, old)
		}
	}
	return nil, nil
}

// Released gives back what a deleted object held.
func (c *Chain) Released(ctx context.Context, kind *registry.Kind, obj runtime.Object) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	var tx allocator.Transaction
	c.releaseService(ctx, &tx, svc)
	if err := tx.Commit(ctx); err != nil {
		c.log.Warn("releasing a deleted Service's addresses failed; repair will free them", "service", svc.Namespace+"/"+svc.Name, "err", err)
	}
}

// namespaceLifecycle refuses objects in a namespace that does not exist
// or is being deleted.
func (c *Chain) namespaceLifecycle(ctx context.Context, req *apiserver.AdmissionRequest) error {
	obj, err := c.lookup(ctx, namespacesGVR, "", req.Namespace)
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, req.Namespace)
	}
	if err != nil {
		return err
	}
	ns := obj.(*corev1.Namespace)
	if ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil {
		if req.Kind.GVK.Kind == "Event" {
			return nil
		}
		return apierrors.NewForbidden(req.Kind.GroupResource(), req.Name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", req.Namespace))
	}
	return nil
}

// startNamespace makes a new namespace Active and owned by the namespace
// controller's finalizer, which empties it before it can go away.
func startNamespace(ns *corev1.Namespace) {
	ns.Status.Phase = corev1.NamespaceActive
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return
		}
	}
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}

// admitPod names the pod's ServiceAccount (which must exist) and sets the
// status a new pod starts with.
func (c *Chain) admitPod(ctx context.Context, pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	if _, err := c.lookup(ctx, serviceAccountsGVR, pod.Namespace, pod.Spec.ServiceAccountName); err != nil {
		if apierrors.IsNotFound(err) {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, pod.Name,
				fmt.Errorf("error looking up service account %s/%s: serviceaccount %q not found", pod.Namespace, pod.Spec.ServiceAccountName, pod.Spec.ServiceAccountName))
		}
		return err
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qos.GetPodQOS(pod)}
	return nil
}
