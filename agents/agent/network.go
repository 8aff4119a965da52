package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/agents/clusterdns"
	"github.com/berth-io/berth/agents/proxy"
	"github.com/berth-io/berth/agents/routes"
)

// Network configures the node's share of the cluster network on top of
// the pod bridge: the Service proxy (nftables), the cluster DNS served on
// the node's address, and the routes to the other nodes' pod CIDRs.
type Network struct {
	// Disabled runs none of them (a node whose Services and DNS something
	// else provides, e.g. kube-proxy and CoreDNS).
	Disabled bool
	// ClusterDomain is the cluster's DNS domain (default cluster.local).
	ClusterDomain string
	// ClusterCIDR, when set, is the pod network of the whole cluster: the
	// proxy masquerades ClusterIP traffic coming from outside it.
	ClusterCIDR string
	// DNSUpstreams resolve names outside the cluster domain (host:port;
	// default: the nameservers of /etc/resolv.conf).
	DNSUpstreams []string
	// ProxyTable names the proxy's nftables table (default
	// proxy.DefaultTable); tests that run several agents in one network
	// namespace make it unique.
	ProxyTable string
}

// startNetwork starts the proxy, the cluster DNS on the first node IP
// (port 53) and, when the pod network is berth's bridge (routes), the
// host-gw routes. It returns the DNS servers pods with dnsPolicy
// ClusterFirst get (Config.ClusterDNS when set, else the node IP when the
// DNS server could bind it) and a function that stops everything.
// A DNS server that cannot bind is logged and left out, not fatal.
func (cfg *Config) startNetwork(ctx context.Context, client kubernetes.Interface, nodeIPs []string, withRoutes bool) ([]string, func(), error) {
	clusterDNS := cfg.ClusterDNS
	if cfg.Network.Disabled {
		return clusterDNS, func() {}, nil
	}
	log := cfg.Log
	ips, err := ipv4s(nodeIPs)
	if err != nil {
		return nil, nil, err
	}
	var clusterCIDR netip.Prefix
	if cfg.Network.ClusterCIDR != "" {
		if clusterCIDR, err = netip.ParsePrefix(cfg.Network.ClusterCIDR); err != nil {
			return nil, nil, fmt.Errorf("agent: --cluster-cidr %q: %w", cfg.Network.ClusterCIDR, err)
		}
	}
	px, err := proxy.New(client, proxy.Config{
		NodeName: cfg.NodeName, NodeIPs: ips, ClusterCIDR: clusterCIDR, Table: cfg.Network.ProxyTable,
		Log: log.With("component", "proxy"),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("agent: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	run := func(what string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				log.Error(what+" stopped", "err", err)
			}
		})
	}
	stop := func() { cancel(); wg.Wait() }
	run("service proxy", px.Run)

	// The DNS server and the routes share one informer factory (Services,
	// EndpointSlices, Nodes); the proxy keeps its own.
	factory := informers.NewSharedInformerFactory(client, 0)
	if withRoutes {
		rc, err := routes.New(factory, routes.Config{NodeName: cfg.NodeName, Log: log.With("component", "routes")})
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("agent: pod routes: %w", err)
		}
		run("pod routes", rc.Run)
	}
	if dnsIP := firstIP(ips); !dnsIP.IsValid() {
		log.Error("cluster DNS not served on this node: it has no IPv4 address (give one with --node-ip)", "nodeIPs", nodeIPs)
	} else {
		addr := net.JoinHostPort(dnsIP.String(), "53")
		dns, err := clusterdns.New(factory, clusterdns.Config{
			Addr: addr, Domain: cfg.Network.ClusterDomain, Upstreams: cfg.Network.DNSUpstreams, Log: log.With("component", "dns"),
		})
		if err == nil {
			_, err = dns.Listen()
		}
		if err != nil {
			log.Error("cluster DNS not served on this node: pods with dnsPolicy ClusterFirst get the node's resolvers (free port 53 on the node IP, or run with --cluster-dns pointing at a DNS server)", "addr", addr, "err", err)
		} else {
			run("cluster DNS", dns.Serve)
			if len(clusterDNS) == 0 {
				clusterDNS = []string{dnsIP.String()}
			}
		}
	}
	factory.Start(ctx.Done())
	stopAll := func() { stop(); factory.Shutdown() }
	return clusterDNS, stopAll, nil
}

// cleanupNetwork removes the proxy's nftables table and berth's routes.
func (cfg *Config) cleanupNetwork() error {
	var errs []error
	if err := proxy.Cleanup(cfg.Network.ProxyTable); err != nil {
		errs = append(errs, fmt.Errorf("removing the proxy's nftables table: %w", err))
	}
	if err := routes.Cleanup(nil); err != nil {
		errs = append(errs, fmt.Errorf("removing the pod routes: %w", err))
	}
	return errors.Join(errs...)
}

// ipv4s parses the node IPs, keeping the IPv4 ones (the proxy handles
// IPv4 only).
func ipv4s(nodeIPs []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range nodeIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("agent: node IP %q: %w", s, err)
		}
		if ip.Is4() {
			out = append(out, ip)
		}
	}
	return out, nil
}

func firstIP(ips []netip.Addr) netip.Addr {
	if len(ips) == 0 {
		return netip.Addr{}
	}
	return ips[0]
}
