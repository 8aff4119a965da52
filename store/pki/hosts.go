package pki

import (
	"net"
	"os"
	"strings"
)

// clusterHosts are the names and addresses by which pods reach the API
// server: the kubernetes Service in the default namespace and its first
// ClusterIP in the default service range.
var clusterHosts = []string{
	"127.0.0.1",
	"::1",
	"localhost",
	"kubernetes",
	"kubernetes.default",
	"kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
	"10.96.0.1",
}

// ServingHosts returns every name and address the serving certificate must
// cover: loopback, the in-cluster names of the kubernetes Service, this
// machine's host name and non-loopback interface addresses, then extra.
// Duplicates are dropped; order is kept.
func ServingHosts(extra []string) []string {
	all := append([]string{}, clusterHosts...)
	all = append(all, localHosts()...)
	return dedupe(append(all, extra...))
}

// localHosts returns the host name and global unicast addresses of this
// machine. Lookup failures leave the corresponding entries out: the caller
// can still name the host explicitly.
func localHosts() []string {
	var hosts []string
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, strings.ToLower(name))
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return hosts
	}
	for _, addr := range addrs {
		ipnet, ok := addr.(*net.IPNet)
		if ok && ipnet.IP.IsGlobalUnicast() {
			hosts = append(hosts, ipnet.IP.String())
		}
	}
	return hosts
}

// dedupe drops empty and repeated entries, keeping the first of each.
func dedupe(hosts []string) []string {
	seen := make(map[string]bool, len(hosts))
	out := hosts[:0]
	for _, h := range hosts {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		out = append(out, h)
	}
	return out
}
