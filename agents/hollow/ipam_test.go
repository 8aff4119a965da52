package hollow

import (
	"net/netip"
	"testing"
)

func TestIPPoolHandsOutUsableAddressesRoundRobin(t *testing.T) {
	for _, tc := range []struct {
		cidr        string
		first, last string
		count       int
	}{
		{"10.244.3.0/24", "10.244.3.2", "10.244.3.254", 253},
		{"10.244.3.0/30", "10.244.3.2", "10.244.3.2", 1},
		{"10.244.3.17/28", "10.244.3.18", "10.244.3.30", 13}, // unmasked input
		{"fd00:1::/120", "fd00:1::2", "fd00:1::ff", 254},
		{"10.0.0.0/8", "10.0.0.2", "10.0.255.255", 65534}, // capped at 2^16 offsets
		{"10.0.0.0/31", "", "", 0},
	} {
		t.Run(tc.cidr, func(t *testing.T) {
			p := newIPPool(netip.MustParsePrefix(tc.cidr))
			var got []netip.Addr
			for {
				a, ok := p.allocate()
				if !ok {
					break
				}
				got = append(got, a)
			}
			if len(got) != tc.count {
				t.Fatalf("%d addresses, want %d", len(got), tc.count)
			}
			if tc.count == 0 {
				return
			}
			if got[0].String() != tc.first || got[len(got)-1].String() != tc.last {
				t.Fatalf("addresses %s..%s, want %s..%s", got[0], got[len(got)-1], tc.first, tc.last)
			}
		})
	}
}

func TestIPPoolReleaseAndReserve(t *testing.T) {
	p := newIPPool(netip.MustParsePrefix("10.1.0.0/29")) // .2 to .6
	a, _ := p.allocate()
	b, _ := p.allocate()
	p.release(a)
	if c, _ := p.allocate(); c.String() != "10.1.0.4" {
		t.Fatalf("after releasing %s got %s, want the next unused 10.1.0.4 (no immediate reuse)", a, c)
	}
	if !p.reserve(netip.MustParseAddr("10.1.0.6")) || p.reserve(netip.MustParseAddr("10.1.0.6")) {
		t.Fatal("reserving a free address twice: want true then false")
	}
	if p.reserve(b) || p.reserve(netip.MustParseAddr("10.1.0.1")) || p.reserve(netip.MustParseAddr("10.2.0.3")) {
		t.Fatal("reserved a used, gateway or foreign address")
	}
	p.release(netip.MustParseAddr("10.9.9.9")) // not the pool's: no effect
	if c, _ := p.allocate(); c.String() != "10.1.0.5" {
		t.Fatalf("got %s, want 10.1.0.5", c)
	}
	if c, _ := p.allocate(); c != a {
		t.Fatalf("got %s, want the released %s once the others are used", c, a)
	}
	if c, ok := p.allocate(); ok {
		t.Fatalf("got %s from a full pool", c)
	}
}

func TestNodeAddressesAndFallbackCIDRs(t *testing.T) {
	for _, tc := range []struct {
		index    int
		ip, cidr string
	}{
		{0, "172.16.0.1", "100.64.0.0/24"},
		{255, "172.16.1.0", "100.64.255.0/24"},
		{4999, "172.16.19.136", "100.83.135.0/24"},
		{maxNodes - 1, "172.16.64.0", "100.127.255.0/24"},
	} {
		if got := nodeIP(tc.index).String(); got != tc.ip {
			t.Errorf("nodeIP(%d) = %s, want %s", tc.index, got, tc.ip)
		}
		if got := fallbackPodCIDR(tc.index).String(); got != tc.cidr {
			t.Errorf("fallbackPodCIDR(%d) = %s, want %s", tc.index, got, tc.cidr)
		}
	}
}
