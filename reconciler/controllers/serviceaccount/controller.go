// Package serviceaccount is the ServiceAccount controller: every active
// namespace gets a "default" ServiceAccount (re-created when deleted) and
// the "kube-root-ca.crt" ConfigMap that carries the cluster CA to its pods,
// as kube-controller-manager's serviceaccount and root-ca-cert-publisher
// controllers do. The decision is plan (plan.go); sync does the I/O.
package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/berth-io/berth/reconciler/worker"
)

// Options tune the controller; the zero value publishes no CA.
type Options struct {
	// RootCA is the PEM bundle published as kube-root-ca.crt in every
	// namespace (see RootCAFrom); empty publishes nothing.
	RootCA []byte
	// Log receives the controller's logs (slog.Default() when nil).
	Log *slog.Logger
}

// RootCAFrom reads the CA bundle a client config trusts (CAData, or the
// file CAFile names): the CA of the API server the controllers talk to.
func RootCAFrom(cfg *rest.Config) ([]byte, error) {
	c := rest.CopyConfig(cfg)
	if err := rest.LoadTLSFiles(c); err != nil {
		return nil, fmt.Errorf("reading the cluster CA from the client config: %w", err)
	}
	if len(c.CAData) == 0 {
		return nil, fmt.Errorf("the client config names no CA (caData or caFile) to publish as %s", RootCAConfigMap)
	}
	return c.CAData, nil
}

// Controller is the ServiceAccount controller. Build it with New before the
// informer factory starts, then call Run.
type Controller struct {
	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	cmLister corelisters.ConfigMapLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	rootCA   []byte
	log      *slog.Logger
}

// New builds the controller on factory's Namespace, ServiceAccount and
// ConfigMap informers. recorder records failures on namespaces; client
// should be the controller manager's identity.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, opts Options) (*Controller, error) {
	nsInformer := factory.Core().V1().Namespaces()
	saInformer := factory.Core().V1().ServiceAccounts()
	cmInformer := factory.Core().V1().ConfigMaps()
	c := &Controller{
		client:   client,
		nsLister: nsInformer.Lister(),
		saLister: saInformer.Lister(),
		cmLister: cmInformer.Lister(),
		synced:   []cache.InformerSynced{nsInformer.Informer().HasSynced, saInformer.Informer().HasSynced, cmInformer.Informer().HasSynced},
		queue:    workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](), workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"}),
		recorder: recorder,
		rootCA:   opts.RootCA,
		log:      opts.Log,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("controller", "serviceaccount")
	handlers := []struct {
		what     string
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandler
	}{
		{"namespaces", nsInformer.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueueNamespace,
			UpdateFunc: func(_, cur any) { c.enqueueNamespace(cur) },
		}},
		{"serviceaccounts", saInformer.Informer(), cache.FilteringResourceEventHandler{
			FilterFunc: named(DefaultName),
			Handler:    cache.ResourceEventHandlerFuncs{DeleteFunc: c.enqueueContainingNamespace},
		}},
		{"configmaps", cmInformer.Informer(), cache.FilteringResourceEventHandler{
			FilterFunc: named(RootCAConfigMap),
			Handler: cache.ResourceEventHandlerFuncs{
				UpdateFunc: func(_, cur any) { c.enqueueContainingNamespace(cur) },
				DeleteFunc: c.enqueueContainingNamespace,
			},
		}},
	}
	for _, h := range handlers {
		if _, err := h.informer.AddEventHandler(h.handler); err != nil {
			return nil, fmt.Errorf("serviceaccount controller: watching %s: %w", h.what, err)
		}
	}
	return c, nil
}

// Run waits for the informers' caches, then syncs namespaces with workers
// goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	worker.Run(ctx, c.queue, workers, c.log, "namespace", c.sync, c.synced...)
}

// sync gives namespace name what plan says it lacks.
func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = c.saLister.ServiceAccounts(name).Get(DefaultName)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	haveSA := err == nil
	cm, err := c.cmLister.ConfigMaps(name).Get(RootCAConfigMap)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	a := plan(ns, haveSA, cm, c.rootCA)
	if a.createServiceAccount {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: name}}
		if _, err := c.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); ignorable(err) != nil {
			c.recorder.Eventf(ns, corev1.EventTypeWarning, "FailedCreate", "Error creating ServiceAccount %q: %v", DefaultName, err)
			return fmt.Errorf("creating ServiceAccount %s/%s: %w", name, DefaultName, err)
		}
	}
	if a.createConfigMap != nil {
		if _, err := c.client.CoreV1().ConfigMaps(name).Create(ctx, a.createConfigMap, metav1.CreateOptions{}); ignorable(err) != nil {
			c.recorder.Eventf(ns, corev1.EventTypeWarning, "FailedCreate", "Error creating ConfigMap %q: %v", RootCAConfigMap, err)
			return fmt.Errorf("creating ConfigMap %s/%s: %w", name, RootCAConfigMap, err)
		}
	}
	if a.updateConfigMap != nil {
		if _, err := c.client.CoreV1().ConfigMaps(name).Update(ctx, a.updateConfigMap, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("updating ConfigMap %s/%s: %w", name, RootCAConfigMap, err)
		}
	}
	return nil
}

// ignorable drops the errors that mean there is nothing left to do: the
// object exists already, or its namespace began terminating.
func ignorable(err error) error {
	if apierrors.IsAlreadyExists(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return nil
	}
	return err
}

func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

// enqueueContainingNamespace wakes the namespace of a changed or deleted
// object.
func (c *Controller) enqueueContainingNamespace(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if o, ok := obj.(metav1.Object); ok {
		c.queue.Add(o.GetNamespace())
	}
}

// named filters events to objects called name (tombstones included).
func named(name string) func(any) bool {
	return func(obj any) bool {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		o, ok := obj.(metav1.Object)
		return ok && o.GetName() == name
	}
}
