package main

import (
	"github.com/spf13/pflag"

	"github.com/berth-io/berth/agents/agent"
)

// addNetworkFlags registers the flags of an agent's Service proxy, cluster
// DNS and pod routes (berth agent, and berth server's own agent).
// withCIDR adds --cluster-cidr (berth server has its own, for node IPAM,
// and passes it on).
func addNetworkFlags(f *pflag.FlagSet, n *agent.Network, withCIDR bool) {
	f.BoolVar(&n.Disabled, "disable-service-network", false, "run no Service proxy, cluster DNS or pod routes on this node (when kube-proxy and another DNS server do that job)")
	f.StringVar(&n.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain: the cluster DNS answers <service>.<namespace>.svc.<domain>, pods search it")
	f.StringSliceVar(&n.DNSUpstreams, "dns-upstream", nil, "resolvers (host:port) the cluster DNS asks for names outside the cluster domain (default: the nameservers of /etc/resolv.conf)")
	if withCIDR {
		f.StringVar(&n.ClusterCIDR, "cluster-cidr", "", "the pod network of the whole cluster (the server's --cluster-cidr): the proxy masquerades ClusterIP traffic from outside it")
	}
}
