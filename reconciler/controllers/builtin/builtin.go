// Package builtin registers berth's controllers with a controller manager,
// by the names --disable takes.
package builtin

import (
	"net/netip"
	"time"

	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"

	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/controllers/deployment"
	"github.com/berth-io/berth/reconciler/controllers/endpointslice"
	"github.com/berth-io/berth/reconciler/controllers/garbagecollector"
	"github.com/berth-io/berth/reconciler/controllers/job"
	"github.com/berth-io/berth/reconciler/controllers/namespace"
	"github.com/berth-io/berth/reconciler/controllers/nodelifecycle"
	"github.com/berth-io/berth/reconciler/controllers/replicaset"
	"github.com/berth-io/berth/reconciler/controllers/serviceaccount"
)

// Settings are the options of the built-in controllers that users set.
type Settings struct {
	// ClusterCIDR is the range node pod CIDRs come from.
	ClusterCIDR netip.Prefix
	// NodeMaskSize is the prefix length of each node's pod CIDR.
	NodeMaskSize int
	// NodeGracePeriod is how long a node may stay silent before it is
	// marked Unknown.
	NodeGracePeriod time.Duration
	// JobBackoff and JobMaxBackoff shorten the Job controller's retry
	// back-off (tests); zero keeps Kubernetes' 10 s doubling to 6 min.
	JobBackoff, JobMaxBackoff time.Duration
}

// DefaultSettings are Kubernetes' defaults.
func DefaultSettings() Settings {
	return Settings{ClusterCIDR: nodelifecycle.DefaultClusterCIDR, NodeMaskSize: nodelifecycle.DefaultIPv4MaskSize, NodeGracePeriod: nodelifecycle.DefaultGracePeriod}
}

// Register adds every built-in controller to m.
func Register(m *controllers.Manager, s Settings) error {
	cidr := s.ClusterCIDR
	registrations := []controllers.Registration{
		{Name: "serviceaccount", Component: "service-account-controller", New: func(c controllers.Context) (controllers.Controller, error) {
			return serviceaccount.New(c.Client, c.Informers, c.Recorder, serviceaccount.Options{RootCA: c.Config.CAData, Log: c.Log})
		}},
		{Name: "namespace", New: func(c controllers.Context) (controllers.Controller, error) {
			meta, err := metadata.NewForConfig(c.Config)
			if err != nil {
				return nil, err
			}
			return namespace.New(c.Client, meta, c.Informers, c.Recorder, namespace.Options{Log: c.Log})
		}},
		{Name: "replicaset", Component: "replicaset-controller", New: func(c controllers.Context) (controllers.Controller, error) {
			return replicaset.New(c.Client, c.Informers, c.Recorder, replicaset.Options{Log: c.Log})
		}},
		{Name: "deployment", Component: "deployment-controller", New: func(c controllers.Context) (controllers.Controller, error) {
			return deployment.New(c.Client, c.Informers, c.Recorder, deployment.Options{Log: c.Log})
		}},
		{Name: "job", Component: "job-controller", New: func(c controllers.Context) (controllers.Controller, error) {
			return job.New(c.Client, c.Informers, c.Recorder, job.Options{Backoff: s.JobBackoff, MaxBackoff: s.JobMaxBackoff, Log: c.Log})
		}},
		{Name: "endpointslice", Component: "endpointslice-controller", New: func(c controllers.Context) (controllers.Controller, error) {
			return endpointslice.New(c.Client, c.Informers, c.Recorder, endpointslice.Options{Log: c.Log})
		}},
		{Name: "nodelifecycle", Component: "node-controller", New: func(c controllers.Context) (controllers.Controller, error) {
			return nodelifecycle.New(c.Client, c.Informers, c.Recorder, nodelifecycle.Options{
				ClusterCIDR: cidr, NodeMaskSize: s.NodeMaskSize, GracePeriod: s.NodeGracePeriod, Log: c.Log})
		}},
		{Name: "garbagecollector", Component: "garbage-collector-controller", New: func(c controllers.Context) (controllers.Controller, error) {
			meta, err := metadata.NewForConfig(c.Config)
			if err != nil {
				return nil, err
			}
			factory := metadatainformer.NewSharedInformerFactoryWithOptions(meta, 0, metadatainformer.WithTransform(garbagecollector.Transform))
			return garbagecollector.New(c.Client, meta, factory, c.Recorder, garbagecollector.Options{Log: c.Log}), nil
		}},
	}
	for _, r := range registrations {
		if err := m.Register(r); err != nil {
			return err
		}
	}
	return nil
}
