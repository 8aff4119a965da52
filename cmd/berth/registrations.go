package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/spf13/pflag"

	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/controllers/builtin"
	"github.com/berth-io/berth/reconciler/controllers/nodelifecycle"
)

// controllerSettings are the per-controller flags of the commands that run
// the controllers.
type controllerSettings struct {
	clusterCIDR     string
	nodeMaskSize    int
	nodeGracePeriod time.Duration
}

func (s *controllerSettings) addFlags(f *pflag.FlagSet) {
	f.StringVar(&s.clusterCIDR, "cluster-cidr", nodelifecycle.DefaultClusterCIDR.String(), "range the nodes' pod CIDRs are taken from (a /16 holds 256 nodes at /24 each)")
	f.IntVar(&s.nodeMaskSize, "node-cidr-mask-size", nodelifecycle.DefaultIPv4MaskSize, "prefix length of each node's pod CIDR")
	f.DurationVar(&s.nodeGracePeriod, "node-monitor-grace-period", nodelifecycle.DefaultGracePeriod, "how long a node may stay silent before it is marked NotReady/Unknown")
}

// registerControllers adds every built-in controller to m.
func registerControllers(m *controllers.Manager, s controllerSettings) error {
	cidr, err := netip.ParsePrefix(s.clusterCIDR)
	if err != nil {
		return usageError{fmt.Errorf("--cluster-cidr %q: %w", s.clusterCIDR, err)}
	}
	settings := builtin.DefaultSettings()
	settings.ClusterCIDR, settings.NodeMaskSize, settings.NodeGracePeriod = cidr, s.nodeMaskSize, s.nodeGracePeriod
	return builtin.Register(m, settings)
}
