package runtime

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

func TestMasqueradeRuleMatchesPodsLeavingTheCluster(t *testing.T) {
	for _, tc := range []struct {
		name               string
		n                  Network
		family             nftables.TableFamily
		src, dst, notMulti string
	}{
		{"cluster CIDR", Network{PodCIDR: "10.244.1.0/24", ClusterCIDR: "10.244.0.0/16"}, nftables.TableFamilyIPv4, "10.244.1.0/24", "10.244.0.0/16", "224.0.0.0/4"},
		{"no cluster CIDR: the pod CIDR", Network{PodCIDR: "10.244.1.0/24"}, nftables.TableFamilyIPv4, "10.244.1.0/24", "10.244.1.0/24", "224.0.0.0/4"},
		{"IPv6", Network{PodCIDR: "fd00:10:1::/64", ClusterCIDR: "fd00:10::/48"}, nftables.TableFamilyIPv6, "fd00:10:1::/64", "fd00:10::/48", "ff00::/8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			family, exprs, err := masqueradeRule(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			src, dst := uint32(12), uint32(16)
			if family == nftables.TableFamilyIPv6 {
				src, dst = 8, 24
			}
			var want []expr.Any
			want = append(want, prefixMatch(src, netip.MustParsePrefix(tc.src), expr.CmpOpEq)...)
			want = append(want, prefixMatch(dst, netip.MustParsePrefix(tc.dst), expr.CmpOpNeq)...)
			want = append(want, prefixMatch(dst, netip.MustParsePrefix(tc.notMulti), expr.CmpOpNeq)...)
			want = append(want, &expr.Masq{})
			if family != tc.family || !reflect.DeepEqual(exprs, want) {
				t.Errorf("family %v, exprs %#v; want %v %#v", family, exprs, tc.family, want)
			}
		})
	}
}

func TestPrefixMatchMasksTheAddress(t *testing.T) {
	got := prefixMatch(16, netip.MustParsePrefix("10.244.0.0/14"), expr.CmpOpNeq)
	want := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 252, 0, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{10, 244, 0, 0}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("prefixMatch: %#v, want %#v", got, want)
	}
}

func TestMasqueradeRuleRefusesBadCIDRs(t *testing.T) {
	for _, n := range []Network{
		{PodCIDR: "nope"},
		{PodCIDR: "10.244.1.0/24", ClusterCIDR: "10.244/16"},
		{PodCIDR: "10.244.1.0/24", ClusterCIDR: "fd00::/48"},
	} {
		if _, _, err := masqueradeRule(n); err == nil {
			t.Errorf("masqueradeRule(%+v): no error", n)
		}
	}
}

func TestEnsureMasqueradeReplacesItsOneRuleAndRemoveDeletesTheTable(t *testing.T) {
	name := "berth-test-" + randomHex(3)
	t.Cleanup(func() { _ = RemoveMasquerade(name) })
	for _, cluster := range []string{"10.253.0.0/16", "10.252.0.0/16"} {
		if err := EnsureMasquerade(Network{Name: name, PodCIDR: "10.253.7.0/24", ClusterCIDR: cluster}); err != nil {
			t.Fatal(err)
		}
	}
	rules := masqueradeRules(t, name)
	_, want, _ := masqueradeRule(Network{PodCIDR: "10.253.7.0/24", ClusterCIDR: "10.252.0.0/16"})
	if len(rules) != 1 || len(rules[0].Exprs) != len(want) {
		t.Fatalf("rules after two EnsureMasquerade: %d, want one of %d expressions", len(rules), len(want))
	}
	if cmp, ok := rules[0].Exprs[5].(*expr.Cmp); !ok || !reflect.DeepEqual(cmp.Data, []byte{10, 252, 0, 0}) {
		t.Errorf("the rule's cluster CIDR is %#v, want the last one given (10.252.0.0)", rules[0].Exprs[5])
	}
	if err := RemoveMasquerade(name); err != nil {
		t.Fatal(err)
	}
	if tables := masqueradeTables(t, name); len(tables) != 0 {
		t.Errorf("tables after RemoveMasquerade: %v", tables)
	}
	if err := RemoveMasquerade(name); err != nil {
		t.Errorf("second RemoveMasquerade: %v", err)
	}
}

// masqueradeTables lists the masquerade tables of network on this machine.
func masqueradeTables(t testing.TB, network string) []string {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tb := range tables {
		if tb.Name == MasqueradeTable(network) {
			out = append(out, tb.Name)
		}
	}
	return out
}

// masqueradeRules lists the rules of network's IPv4 masquerade chain.
func masqueradeRules(t testing.TB, network string) []*nftables.Rule {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	table := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: MasqueradeTable(network)}
	rules, err := c.GetRules(table, &nftables.Chain{Name: "postrouting", Table: table})
	if err != nil {
		t.Fatal(err)
	}
	return rules
}
