package allocator

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of the Service ClusterIP allocator, as kubeadm and kind use them.
const (
	// DefaultServiceCIDR is the default range of Service ClusterIPs.
	DefaultServiceCIDR = "10.96.0.0/16"
	// ServiceIPPrefix is the etcd key prefix of ClusterIP allocations.
	ServiceIPPrefix = "/registry/ranges/serviceips/"
)

// IPAllocator hands out the ClusterIPs of Services from a CIDR. The network
// address (and for IPv4 the broadcast address) is never allocated; the first
// address after it is reserved for the "kubernetes" Service (see ReservedIP):
// AllocateNext never returns it, Allocate does. State lives in etcd, so
// several API servers may allocate from the same range concurrently.
type IPAllocator struct {
	r  *ranged
	tx *Transaction
	ip ipItems
}

// NewIPAllocator returns an allocator for cidr keeping its allocations under
// the etcd key prefix (e.g. ServiceIPPrefix). The CIDR may hold at most 2^20
// addresses (a /12 for IPv4, a /108 for IPv6), as in kube-apiserver.
func NewIPAllocator(client *clientv3.Client, prefix string, cidr *net.IPNet) (*IPAllocator, error) {
	it, err := newIPItems(cidr)
	if err != nil {
		return nil, err
	}
	const reserved = 1 // the kubernetes Service's address
	static := max(staticBand(it.size, 16, 256, 16), reserved)
	r, err := newRanged(client, prefix, it, "IP", it.prefix.String(), it.size, reserved, static)
	if err != nil {
		return nil, err
	}
	return &IPAllocator{r: r, ip: it}, nil
}

// In returns the allocator working within tx: its allocations are undone by
// tx.Revert and its releases wait for tx.Commit.
func (a *IPAllocator) In(tx *Transaction) *IPAllocator {
	c := *a
	c.tx = tx
	return &c
}

// CIDR is the allocator's range.
func (a *IPAllocator) CIDR() netip.Prefix { return a.ip.prefix }

// ReservedIP is the first usable address of the range (10.96.0.1 for
// 10.96.0.0/16), which belongs to the "kubernetes" Service.
func (a *IPAllocator) ReservedIP() net.IP { return a.ip.at(0) }

// AllocateNext allocates a free address to owner (conventionally
// "namespace/name" of the Service) and returns it. When none is left the
// error wraps ErrFull.
func (a *IPAllocator) AllocateNext(ctx context.Context, owner string) (net.IP, error) {
	off, err := a.r.allocateNext(ctx, a.tx, owner)
	if err != nil {
		return nil, err
	}
	return a.ip.at(off), nil
}

// Allocate allocates ip to owner. The error wraps ErrAllocated if ip is
// taken (even by the same owner) and ErrNotInRange if ip is outside the range.
func (a *IPAllocator) Allocate(ctx context.Context, ip net.IP, owner string) error {
	off, err := a.r.parse(ip.String())
	if err != nil {
		return err
	}
	return a.r.allocate(ctx, a.tx, off, owner)
}

// Release frees ip. Releasing a free address is not an error.
func (a *IPAllocator) Release(ctx context.Context, ip net.IP) error {
	off, err := a.r.parse(ip.String())
	if err != nil {
		return err
	}
	return a.r.release(ctx, a.tx, off)
}

// Repair makes the allocations match what the Services hold, freeing the
// allocations of objects that were never stored or were deleted without
// releasing (if allocated more than grace ago, so that requests in flight
// keep theirs) and recording items Services hold without an allocation.
// Run it at server start and periodically. inUse lists the Services' items
// as addresses in text form ("10.96.0.10").
func (a *IPAllocator) Repair(ctx context.Context, grace time.Duration, inUse RepairFunc) (RepairReport, error) {
	return a.r.repair(ctx, grace, inUse)
}

// ipItems maps offsets to the usable addresses of a CIDR: offset 0 is the
// address after the network address.
type ipItems struct {
	prefix netip.Prefix
	first  netip.Addr
	size   int
}

func newIPItems(cidr *net.IPNet) (ipItems, error) {
	if cidr == nil {
		return ipItems{}, fmt.Errorf("service CIDR: missing")
	}
	ones, bits := cidr.Mask.Size()
	addr, ok := netip.AddrFromSlice(cidr.IP)
	if bits == 0 || !ok {
		return ipItems{}, fmt.Errorf("service CIDR %s: not a valid CIDR", cidr)
	}
	if bits == 32 {
		addr = addr.Unmap()
	}
	if addr.BitLen() != bits || addr.Is4In6() {
		return ipItems{}, fmt.Errorf("service CIDR %s: address and mask are of different IP families", cidr)
	}
	prefix := netip.PrefixFrom(addr, ones).Masked()
	hostBits := bits - ones
	if hostBits >= 63 || 1<<hostBits > maxSize {
		return ipItems{}, fmt.Errorf("service CIDR %s: too large, at most 2^20 addresses (a /12 for IPv4, a /108 for IPv6)", prefix)
	}
	size := 1<<hostBits - 1 // all but the network address
	if addr.Is4() {
		size-- // nor the broadcast address
	}
	if size < 1 {
		return ipItems{}, fmt.Errorf("service CIDR %s: too small, it has no usable address", prefix)
	}
	return ipItems{prefix: prefix, first: prefix.Addr().Next(), size: size}, nil
}

func (it ipItems) at(off int) net.IP {
	b := it.first.As16()
	binary.BigEndian.PutUint32(b[12:], binary.BigEndian.Uint32(b[12:])+uint32(off))
	addr := netip.AddrFrom16(b)
	if it.first.Is4() {
		addr = addr.Unmap()
	}
	return net.IP(addr.AsSlice())
}

func (it ipItems) name(off int) string { return it.at(off).String() }

func (it ipItems) offset(name string) (int, bool) {
	addr, err := netip.ParseAddr(name)
	if err != nil || addr.Zone() != "" {
		return 0, false
	}
	addr = addr.Unmap()
	if !it.prefix.Contains(addr) {
		return 0, false
	}
	a, f := addr.As16(), it.first.As16()
	off := int(binary.BigEndian.Uint32(a[12:])) - int(binary.BigEndian.Uint32(f[12:]))
	return off, off >= 0 && off < it.size
}
