package routes

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Route sends one node's pod CIDR to that node's address.
type Route struct {
	Dst netip.Prefix
	Via netip.Addr
}

func (r Route) String() string { return r.Dst.String() + " via " + r.Via.String() }

// Want is the set of routes this node needs: every other node's pod CIDR
// through that node's InternalIP. Nodes without a pod CIDR or an IPv4
// InternalIP yet are left out until they have both.
func Want(self string, nodes []*corev1.Node) []Route {
	var want []Route
	for _, n := range nodes {
		if n.Name == self || n.DeletionTimestamp != nil {
			continue
		}
		dst, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil || !dst.Addr().Is4() {
			continue
		}
		if via, ok := internalIPv4(n); ok {
			want = append(want, Route{Dst: dst.Masked(), Via: via})
		}
	}
	sortRoutes(want)
	return want
}

// Diff returns the routes to add and to delete to turn have into want.
// A destination whose gateway changed is deleted and added again.
func Diff(want, have []Route) (add, del []Route) {
	for _, r := range want {
		if !slices.Contains(have, r) {
			add = append(add, r)
		}
	}
	for _, r := range have {
		if !slices.Contains(want, r) {
			del = append(del, r)
		}
	}
	return add, del
}

func internalIPv4(n *corev1.Node) (netip.Addr, bool) {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func sortRoutes(rs []Route) {
	slices.SortFunc(rs, func(a, b Route) int { return strings.Compare(a.String(), b.String()) })
}
