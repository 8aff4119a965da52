package runtime

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Pod egress masquerading. The bridge plugin's ipMasq made one iptables
// chain and rule per pod (and tore them down per pod): on iptables-nft each
// of those is a full ruleset transaction that waits in the kernel
// (synchronize_rcu), about a fifth of a sandbox's CPU, and 50 pods at once
// queue behind each other. One nftables rule per node does the same job:
// the conflist has ipMasq off and EnsureMasquerade installs
//
//	table ip <network>-nat {
//		chain postrouting {
//			type nat hook postrouting priority srcnat;
//			ip saddr <podCIDR> ip daddr != <clusterCIDR> ip daddr != 224.0.0.0/4 masquerade
//		}
//	}

// MasqueradeTable is the name of the nftables table that masquerades the
// pods of the CNI network named network.
func MasqueradeTable(network string) string {
	if network == "" {
		network = DefaultNetworkName
	}
	return network + "-nat"
}

// EnsureMasquerade installs (or replaces, atomically) the rule that
// masquerades traffic from n's pods to addresses outside n.ClusterCIDR
// (default: n.PodCIDR, as the bridge plugin's ipMasq did), except
// multicast, in the table MasqueradeTable(n.Name) of the pod CIDR's family.
// Call it with WriteCNIConfig; RemoveMasquerade (and Cleanup) delete it.
func EnsureMasquerade(n Network) error {
	family, exprs, err := masqueradeRule(n)
	if err != nil {
		return err
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("pod masquerade: netfilter netlink: %w", err)
	}
	table := c.AddTable(&nftables.Table{Family: family, Name: MasqueradeTable(n.Name)})
	chain := c.AddChain(&nftables.Chain{
		Name: "postrouting", Table: table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource,
	})
	c.FlushChain(chain)
	c.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: exprs})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("pod masquerade: install nftables table %s: %w (is the nf_tables kernel module loadable?)", MasqueradeTable(n.Name), err)
	}
	return nil
}

// RemoveMasquerade deletes the masquerade tables (both families) of the CNI
// network named network; missing ones are fine.
func RemoveMasquerade(network string) error {
	var errs []error
	for _, family := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		c, err := nftables.New()
		if err != nil {
			return fmt.Errorf("pod masquerade: netfilter netlink: %w", err)
		}
		c.DelTable(&nftables.Table{Family: family, Name: MasqueradeTable(network)})
		if err := c.Flush(); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("pod masquerade: delete nftables table %s: %w", MasqueradeTable(network), err))
		}
	}
	return errors.Join(errs...)
}

// masqueradeRule returns the table family and the expressions of n's
// masquerade rule: saddr in the pod CIDR, daddr outside the cluster CIDR and
// outside multicast, masquerade.
func masqueradeRule(n Network) (nftables.TableFamily, []expr.Any, error) {
	pods, err := netip.ParsePrefix(n.PodCIDR)
	if err != nil {
		return 0, nil, fmt.Errorf("pod masquerade: pod CIDR %q: %w", n.PodCIDR, err)
	}
	cluster := pods
	if n.ClusterCIDR != "" {
		if cluster, err = netip.ParsePrefix(n.ClusterCIDR); err != nil {
			return 0, nil, fmt.Errorf("pod masquerade: cluster CIDR %q: %w", n.ClusterCIDR, err)
		}
		if cluster.Addr().Is4() != pods.Addr().Is4() {
			return 0, nil, fmt.Errorf("pod masquerade: cluster CIDR %s and pod CIDR %s are of different IP families", cluster, pods)
		}
	}
	family, src, dst, multicast := nftables.TableFamilyIPv4, uint32(12), uint32(16), netip.MustParsePrefix("224.0.0.0/4")
	if pods.Addr().Is6() {
		family, src, dst, multicast = nftables.TableFamilyIPv6, 8, 24, netip.MustParsePrefix("ff00::/8")
	}
	var exprs []expr.Any
	exprs = append(exprs, prefixMatch(src, pods, expr.CmpOpEq)...)
	exprs = append(exprs, prefixMatch(dst, cluster, expr.CmpOpNeq)...)
	exprs = append(exprs, prefixMatch(dst, multicast, expr.CmpOpNeq)...)
	exprs = append(exprs, &expr.Masq{})
	return family, exprs, nil
}

// prefixMatch compares the address at offset of the network header, masked
// to p's length, with p's address.
func prefixMatch(offset uint32, p netip.Prefix, op expr.CmpOp) []expr.Any {
	p = p.Masked()
	size := uint32(p.Addr().BitLen() / 8)
	mask := make([]byte, size)
	for i := range p.Bits() {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: size},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: size, Mask: mask, Xor: make([]byte, size)},
		&expr.Cmp{Op: op, Register: 1, Data: p.Addr().AsSlice()},
	}
}
