package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/pflag"
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

// controllerSettings are the per-controller options the commands expose.
type controllerSettings struct {
	clusterCIDR     string
	nodeMaskSize    int
	nodeGracePeriod time.Duration
}

func (s *controllerSettings) addFlags(f *pflag.FlagSet) {
	f.StringVar(&s.clusterCIDR, "cluster-cidr", nodelifecycle.DefaultClusterCIDR.String(), "range the nodes' pod CIDRs are taken from")
	f.IntVar(&s.nodeMaskSize, "node-cidr-mask-size", nodelifecycle.DefaultIPv4MaskSize, "prefix length of each node's pod CIDR")
	f.DurationVar(&s.nodeGracePeriod, "node-monitor-grace-period", nodelifecycle.DefaultGracePeriod, "how long a node may stay silent before it is marked NotReady/Unknown")
}

// registerControllers adds every controller this binary runs to m, by the
// name --disable takes.
func registerControllers(m *controllers.Manager, s controllerSettings) error {
	cidr, err := netip.ParsePrefix(s.clusterCIDR)
	if err != nil {
		return usageError{fmt.Errorf("--cluster-cidr %q: %w", s.clusterCIDR, err)}
	}
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
			return job.New(c.Client, c.Informers, c.Recorder, job.Options{Log: c.Log})
		}},
		{Name: "endpointslice", Component: "endpointslice-controller", New: func(c controllers.Context) (controllers.Controller, error) {
			return endpointslice.New(c.Client, c.Informers, c.Recorder, endpointslice.Options{Log: c.Log})
		}},
		{Name: "nodelifecycle", Component: "node-controller", New: func(c controllers.Context) (controllers.Controller, error) {
			return nodelifecycle.New(c.Client, c.Informers, c.Recorder, nodelifecycle.Options{
				ClusterCIDR: cidr, NodeMaskSize: s.nodeMaskSize, GracePeriod: s.nodeGracePeriod, Log: c.Log})
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
