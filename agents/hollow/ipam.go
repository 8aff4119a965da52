package hollow

import "net/netip"

// Addresses the hollow nodes make up for themselves. Node addresses are
// taken in order from nodeIPRange; a node without spec.podCIDR (no node
// IPAM controller runs, or it has not got to the node yet) uses the /24 of
// fallbackPodCIDRs with the node's index, which overlaps neither the
// default cluster CIDR (10.244.0.0/16) nor the Service range (10.96.0.0/16).
var (
	nodeIPRange      = netip.MustParsePrefix("172.16.0.0/12")
	fallbackPodCIDRs = netip.MustParsePrefix("100.64.0.0/10")
)

// maxNodes is how many nodes the fallback pod CIDRs have room for.
const maxNodes = 1 << (24 - 10)

// nodeIP is the InternalIP of the node with index i (< maxNodes).
func nodeIP(i int) netip.Addr {
	return addrAt(nodeIPRange.Addr(), i+1)
}

// fallbackPodCIDR is the pod CIDR of the node with index i (< maxNodes)
// when the node has none.
func fallbackPodCIDR(i int) netip.Prefix {
	return netip.PrefixFrom(addrAt(fallbackPodCIDRs.Addr(), i<<8), 24)
}

// maxPoolSize bounds the addresses a pool tracks (IPv6 and wide IPv4
// CIDRs have far more than a node's pods need).
const maxPoolSize = 1 << 16

// ipPool hands out the addresses of one pod CIDR as the host-local IPAM
// plugin does: the network address and the gateway (.1) are never given
// out, nor an IPv4 broadcast address, and the search for a free address
// goes round from after the last one given, so that freed addresses are
// not reused at once.
type ipPool struct {
	prefix      netip.Prefix
	first, last int // usable offsets from the prefix's address
	used        []uint64
	next        int
}

func newIPPool(prefix netip.Prefix) *ipPool {
	prefix = prefix.Masked()
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	size, last := maxPoolSize, maxPoolSize-1
	if hostBits <= 16 {
		size = 1 << hostBits
		last = size - 1
		if prefix.Addr().Is4() {
			last-- // broadcast
		}
	}
	return &ipPool{prefix: prefix, first: 2, last: last, used: make([]uint64, (size+63)/64), next: 2}
}

// allocate takes a free address; false when none is left.
func (p *ipPool) allocate() (netip.Addr, bool) {
	n := p.last - p.first + 1
	for i := range max(n, 0) {
		off := p.first + (p.next-p.first+i)%n
		if !p.isUsed(off) {
			p.setUsed(off, true)
			p.next = off + 1
			return addrAt(p.prefix.Addr(), off), true
		}
	}
	return netip.Addr{}, false
}

// reserve marks a as taken, if the pool hands it out, and says whether
// it was free.
func (p *ipPool) reserve(a netip.Addr) bool {
	off, ok := p.offset(a)
	if !ok || p.isUsed(off) {
		return false
	}
	p.setUsed(off, true)
	return true
}

// release gives a back, if it is the pool's.
func (p *ipPool) release(a netip.Addr) {
	if off, ok := p.offset(a); ok {
		p.setUsed(off, false)
	}
}

func (p *ipPool) offset(a netip.Addr) (int, bool) {
	if !a.IsValid() || !p.prefix.Contains(a) {
		return 0, false
	}
	base, addr := p.prefix.Addr().As16(), a.As16()
	off := 0
	for i := range 16 {
		if i < 12 {
			if base[i] != addr[i] {
				return 0, false // beyond maxPoolSize
			}
			continue
		}
		off = off<<8 | int(addr[i]-base[i])
	}
	// the prefix is masked, so the low bytes of base are zero from the
	// host bits on, and off cannot borrow.
	return off, off >= p.first && off <= p.last
}

func (p *ipPool) isUsed(off int) bool { return p.used[off/64]&(1<<(off%64)) != 0 }

func (p *ipPool) setUsed(off int, used bool) {
	if used {
		p.used[off/64] |= 1 << (off % 64)
	} else {
		p.used[off/64] &^= 1 << (off % 64)
	}
}

// addrAt is base plus off.
func addrAt(base netip.Addr, off int) netip.Addr {
	b := base.As16()
	carry := uint(off)
	for i := 15; i >= 0 && carry > 0; i-- {
		sum := uint(b[i]) + carry&0xff
		b[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	a := netip.AddrFrom16(b)
	if base.Is4() {
		return a.Unmap()
	}
	return a
}
