package proxy

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/berth-io/berth/agents/proxy/rules"
)

// flushConntrack deletes the UDP conntrack entries rules.StaleUDP named,
// in the proxy's network namespace. It returns how many went.
func (p *Proxy) flushConntrack(flushes []rules.ConntrackFlush) (uint, error) {
	if len(flushes) == 0 {
		return 0, nil
	}
	var h *netlink.Handle
	var err error
	if p.cfg.NetNSFd != 0 {
		h, err = netlink.NewHandleAt(netns.NsHandle(p.cfg.NetNSFd))
	} else {
		h, err = netlink.NewHandle()
	}
	if err != nil {
		return 0, fmt.Errorf("opening a netlink socket for conntrack: %w", err)
	}
	defer h.Close()
	filters := make([]netlink.CustomConntrackFilter, 0, len(flushes))
	for _, f := range flushes {
		cf := &netlink.ConntrackFilter{}
		if err := cf.AddProtocol(unix.IPPROTO_UDP); err != nil {
			return 0, err
		}
		if err := cf.AddIP(netlink.ConntrackOrigDstIP, net.IP(f.ClusterIP.AsSlice())); err != nil {
			return 0, err
		}
		if f.Endpoint.IsValid() {
			if err := cf.AddIP(netlink.ConntrackReplySrcIP, net.IP(f.Endpoint.AsSlice())); err != nil {
				return 0, err
			}
		}
		filters = append(filters, cf)
	}
	n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...)
	if err != nil {
		return n, fmt.Errorf("deleting stale UDP conntrack entries: %w", err)
	}
	return n, nil
}
