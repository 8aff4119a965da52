// Package nettest builds throwaway test hosts: network namespaces joined by
// veth pairs and bridges, with servers listening and clients dialing inside
// them. Tests of the proxy, routes and DNS use it to run real traffic
// without containers. Needs root.
package nettest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Netns is a named network namespace (visible in `ip netns list`) with its
// loopback up.
type Netns struct {
	Name   string
	handle netns.NsHandle
	nl     *netlink.Handle
}

// New creates a network namespace named prefix-<random> and deletes it when
// the test ends.
func New(t testing.TB, prefix string) *Netns {
	t.Helper()
	n, err := Create(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Delete() })
	return n
}

// Create makes a network namespace named prefix-<random> with its loopback
// up. Delete removes it.
func Create(prefix string) (*Netns, error) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := prefix + "-" + hex.EncodeToString(b[:])
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	// NewNamed switched this thread into the new namespace: switch back.
	if serr := netns.Set(orig); serr != nil {
		panic(fmt.Sprintf("nettest: cannot return to the original network namespace: %v", serr))
	}
	if err != nil {
		return nil, fmt.Errorf("creating network namespace %s: %w", name, err)
	}
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		_ = netns.DeleteNamed(name)
		return nil, err
	}
	n := &Netns{Name: name, handle: h, nl: nl}
	if err := n.up("lo"); err != nil {
		_ = n.Delete()
		return nil, err
	}
	return n, nil
}

// Delete removes the namespace (and the interfaces in it).
func (n *Netns) Delete() error {
	n.nl.Close()
	_ = n.handle.Close()
	return netns.DeleteNamed(n.Name)
}

// Fd is a file descriptor of the namespace (for netlink.Config.NetNS or
// nftables.WithNetNSFd).
func (n *Netns) Fd() int { return int(n.handle) }

// Netlink is a netlink handle working in the namespace.
func (n *Netns) Netlink() *netlink.Handle { return n.nl }

// Do runs f on an OS thread switched into the namespace. Sockets f creates
// stay in the namespace after Do returns.
func (n *Netns) Do(f func() error) error {
	errc := make(chan error, 1)
	// A fresh goroutine whose thread is thrown away afterwards (it exits
	// locked), so no other goroutine ever runs in the namespace by mistake.
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(n.handle); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", n.Name, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// Sysctl writes a value under /proc/sys/net (e.g. "ipv4/ip_forward") in
// the namespace.
func (n *Netns) Sysctl(key, value string) error {
	return n.Do(func() error {
		return os.WriteFile(filepath.Join("/proc/sys/net", key), []byte(value), 0o644)
	})
}

// Listen opens a listener inside the namespace.
func (n *Netns) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// ListenPacket opens a packet listener (e.g. "udp", ":53") inside the
// namespace.
func (n *Netns) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.Do(func() error {
		var err error
		c, err = net.ListenPacket(network, addr)
		return err
	})
	return c, err
}

// Serve serves h on addr inside the namespace until the test ends and
// returns the listener.
func (n *Netns) Serve(t testing.TB, addr string, h http.Handler) net.Listener {
	t.Helper()
	l, err := n.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, n.Name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l
}

// DialContext dials from inside the namespace.
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// HTTPClient is a client whose connections start inside the namespace,
// without keep-alive (each request is a new connection, so a new pick of
// the proxy's rules).
func (n *Netns) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: n.DialContext, DisableKeepAlives: true}}
}

// Get fetches url from inside the namespace and returns the body.
func (n *Netns) Get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := n.HTTPClient(5 * time.Second).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		k, err := resp.Body.Read(buf)
		sb.Write(buf[:k])
		if err != nil {
			break
		}
	}
	return sb.String(), nil
}

func (n *Netns) up(name string) error {
	l, err := n.nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", name, n.Name, err)
	}
	return n.nl.LinkSetUp(l)
}

// AddAddr adds an address (CIDR notation) to an interface and sets it up.
func (n *Netns) AddAddr(dev, cidr string) error {
	l, err := n.nl.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("%s in %s: %w", dev, n.Name, err)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	if err := n.nl.AddrAdd(l, a); err != nil {
		return fmt.Errorf("adding %s to %s in %s: %w", cidr, dev, n.Name, err)
	}
	return n.nl.LinkSetUp(l)
}

// Bridge creates a bridge with an address (CIDR notation; empty: none).
func (n *Netns) Bridge(name, cidr string) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := n.nl.LinkAdd(br); err != nil {
		return fmt.Errorf("adding bridge %s in %s: %w", name, n.Name, err)
	}
	if cidr == "" {
		return n.up(name)
	}
	return n.AddAddr(name, cidr)
}

// Veth links n and peer with a veth pair: dev in n, peerDev in peer, each
// with an address when its CIDR is not empty. master, when not empty, is a
// bridge in n that dev joins, in hairpin mode.
func (n *Netns) Veth(dev, cidr, master string, peer *Netns, peerDev, peerCIDR string) error {
	// The peer starts under a temporary name: dev and peerDev may be the
	// same name (eth0 on both sides).
	var b [4]byte
	_, _ = rand.Read(b[:])
	tmp := "vt" + hex.EncodeToString(b[:])
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: dev}, PeerName: tmp}
	if err := n.nl.LinkAdd(v); err != nil {
		return fmt.Errorf("adding veth %s in %s: %w", dev, n.Name, err)
	}
	p, err := n.nl.LinkByName(tmp)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetNsFd(p, peer.Fd()); err != nil {
		return fmt.Errorf("moving %s to %s: %w", peerDev, peer.Name, err)
	}
	if p, err = peer.nl.LinkByName(tmp); err != nil {
		return err
	}
	if err := peer.nl.LinkSetName(p, peerDev); err != nil {
		return fmt.Errorf("naming %s in %s: %w", peerDev, peer.Name, err)
	}
	if master != "" {
		br, err := n.nl.LinkByName(master)
		if err != nil {
			return err
		}
		l, err := n.nl.LinkByName(dev)
		if err != nil {
			return err
		}
		if err := n.nl.LinkSetMaster(l, br); err != nil {
			return err
		}
		// As the CNI bridge plugin's hairpinMode: a packet a Service's
		// DNAT sends back to the pod it came from leaves by the port it
		// came in.
		if err := n.nl.LinkSetHairpin(l, true); err != nil {
			return fmt.Errorf("hairpin mode on %s in %s: %w", dev, n.Name, err)
		}
	}
	for _, side := range []struct {
		ns        *Netns
		dev, cidr string
	}{{n, dev, cidr}, {peer, peerDev, peerCIDR}} {
		if side.cidr == "" {
			if err := side.ns.up(side.dev); err != nil {
				return err
			}
			continue
		}
		if err := side.ns.AddAddr(side.dev, side.cidr); err != nil {
			return err
		}
	}
	return nil
}

// DefaultRoute routes everything through gw (an address on a connected
// subnet), or through dev when gw is empty.
func (n *Netns) DefaultRoute(gw, dev string) error {
	r := &netlink.Route{Dst: &net.IPNet{IP: net.IPv4zero, Mask: net.CIDRMask(0, 32)}}
	if gw != "" {
		r.Gw = net.ParseIP(gw)
	} else {
		l, err := n.nl.LinkByName(dev)
		if err != nil {
			return err
		}
		r.LinkIndex = l.Attrs().Index
		r.Scope = netlink.SCOPE_LINK
	}
	if err := n.nl.RouteAdd(r); err != nil {
		return fmt.Errorf("adding the default route in %s: %w", n.Name, err)
	}
	return nil
}
