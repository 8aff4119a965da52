// Package cidrset hands out the equal-sized subnets of a cluster CIDR, one
// per node, and remembers which are taken, as kube-controller-manager's
// range allocator does. It does no I/O and is not safe for concurrent use.
package cidrset

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
)

// MaxSubnetBits is how many more bits a node's mask may have than the
// cluster's (at most 65,536 subnets), as in kube-controller-manager.
const MaxSubnetBits = 16

// ErrFull is returned by Allocate when every subnet is taken.
var ErrFull = errors.New("no free pod CIDR left in the cluster CIDR")

// Set is the cluster CIDR cut into subnets of one mask size, each free or
// taken.
type Set struct {
	cluster netip.Prefix
	subnet  int // the subnets' prefix length
	taken   []uint64
	size    int
	next    int // where the search for a free subnet starts
}

// New cuts cluster into subnets of prefix length nodeMaskSize.
func New(cluster netip.Prefix, nodeMaskSize int) (*Set, error) {
	if !cluster.IsValid() {
		return nil, errors.New("cluster CIDR is not a valid prefix")
	}
	cluster = cluster.Masked()
	if nodeMaskSize < cluster.Bits() || nodeMaskSize > cluster.Addr().BitLen() {
		return nil, fmt.Errorf("node mask size /%d must lie between the cluster CIDR's /%d and /%d", nodeMaskSize, cluster.Bits(), cluster.Addr().BitLen())
	}
	if nodeMaskSize-cluster.Bits() > MaxSubnetBits {
		return nil, fmt.Errorf("node mask size /%d cuts cluster CIDR %s into more than 2^%d subnets", nodeMaskSize, cluster, MaxSubnetBits)
	}
	size := 1 << (nodeMaskSize - cluster.Bits())
	return &Set{cluster: cluster, subnet: nodeMaskSize, taken: make([]uint64, (size+63)/64), size: size}, nil
}

// Allocate takes the next free subnet after the last one handed out, so
// that a released subnet is reused as late as possible.
func (s *Set) Allocate() (netip.Prefix, error) {
	for i := range s.size {
		n := (s.next + i) % s.size
		if !s.isTaken(n) {
			s.mark(n, true)
			s.next = (n + 1) % s.size
			return s.subnetAt(n), nil
		}
	}
	return netip.Prefix{}, ErrFull
}

// Occupy marks every subnet that p overlaps as taken (a node's podCIDR
// seen at start or set by someone else). p must overlap the cluster CIDR.
func (s *Set) Occupy(p netip.Prefix) error {
	first, last, err := s.span(p)
	if err != nil {
		return err
	}
	for n := first; n <= last; n++ {
		s.mark(n, true)
	}
	return nil
}

// Release marks every subnet that p overlaps as free again.
func (s *Set) Release(p netip.Prefix) error {
	first, last, err := s.span(p)
	if err != nil {
		return err
	}
	for n := first; n <= last; n++ {
		s.mark(n, false)
	}
	return nil
}

// span is the range of subnet indexes p overlaps.
func (s *Set) span(p netip.Prefix) (first, last int, err error) {
	if !p.IsValid() || !s.cluster.Overlaps(p) {
		return 0, 0, fmt.Errorf("%s is not inside the cluster CIDR %s", p, s.cluster)
	}
	p = p.Masked()
	if p.Bits() <= s.cluster.Bits() {
		return 0, s.size - 1, nil
	}
	first = s.indexOf(p.Addr())
	if p.Bits() >= s.subnet {
		return first, first, nil
	}
	return first, first + 1<<(s.subnet-p.Bits()) - 1, nil
}

// indexOf is the index of the subnet holding addr, an address inside the
// cluster CIDR.
func (s *Set) indexOf(addr netip.Addr) int {
	offset := new(big.Int).Sub(toInt(addr), toInt(s.cluster.Addr()))
	return int(offset.Rsh(offset, uint(addr.BitLen()-s.subnet)).Int64())
}

// subnetAt is the n-th subnet of the cluster CIDR.
func (s *Set) subnetAt(n int) netip.Prefix {
	base := s.cluster.Addr()
	offset := new(big.Int).Lsh(big.NewInt(int64(n)), uint(base.BitLen()-s.subnet))
	sum := new(big.Int).Add(toInt(base), offset)
	buf := make([]byte, base.BitLen()/8)
	addr, _ := netip.AddrFromSlice(sum.FillBytes(buf))
	return netip.PrefixFrom(addr, s.subnet)
}

func toInt(addr netip.Addr) *big.Int {
	return new(big.Int).SetBytes(addr.AsSlice())
}

func (s *Set) isTaken(n int) bool {
	return s.taken[n/64]&(1<<(n%64)) != 0
}

func (s *Set) mark(n int, taken bool) {
	if taken {
		s.taken[n/64] |= 1 << (n % 64)
		return
	}
	s.taken[n/64] &^= 1 << (n % 64)
}
