package cidrset

import (
	"errors"
	"net/netip"
	"testing"
)

func TestNewRejectsBadMasks(t *testing.T) {
	for _, tc := range []struct {
		cluster string
		mask    int
	}{
		{"10.244.0.0/16", 15},  // wider than the cluster
		{"10.244.0.0/16", 33},  // longer than an address
		{"10.0.0.0/8", 25},     // 2^17 subnets
		{"fd00::/48", 129},     // longer than an address
		{"fd00::/32", 64},      // 2^32 subnets
		{"10.244.0.0/16", -1},  // negative
		{"10.244.0.0/16", 100}, // v6 length on a v4 cluster
	} {
		if _, err := New(netip.MustParsePrefix(tc.cluster), tc.mask); err == nil {
			t.Errorf("New(%s, /%d) succeeded, want an error", tc.cluster, tc.mask)
		}
	}
	if _, err := New(netip.Prefix{}, 24); err == nil {
		t.Error("New with an invalid prefix succeeded")
	}
}

func TestAllocateHandsOutSubnetsInOrder(t *testing.T) {
	for _, tc := range []struct {
		cluster string
		mask    int
		want    []string
	}{
		{"10.244.0.0/16", 24, []string{"10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"}},
		{"10.244.7.9/16", 24, []string{"10.244.0.0/24", "10.244.1.0/24"}}, // host bits ignored
		{"10.0.0.0/8", 24, []string{"10.0.0.0/24", "10.0.1.0/24"}},
		{"192.168.0.0/24", 26, []string{"192.168.0.0/26", "192.168.0.64/26", "192.168.0.128/26", "192.168.0.192/26"}},
		{"fd00:10:244::/56", 64, []string{"fd00:10:244::/64", "fd00:10:244:1::/64"}},
		{"fd00::/48", 64, []string{"fd00::/64", "fd00:0:0:1::/64"}},
	} {
		s, err := New(netip.MustParsePrefix(tc.cluster), tc.mask)
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range tc.want {
			got, err := s.Allocate()
			if err != nil || got.String() != want {
				t.Errorf("%s /%d allocation %d = %v, %v; want %s", tc.cluster, tc.mask, i, got, err, want)
			}
		}
	}
}

func TestAllocateAvoidsOccupiedAndFailsWhenFull(t *testing.T) {
	s, err := New(netip.MustParsePrefix("10.0.0.0/22"), 24) // four subnets
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"10.0.0.0/24", "10.0.2.0/24"} {
		if err := s.Occupy(netip.MustParsePrefix(p)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for range 2 {
		p, err := s.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.String())
	}
	if got[0] != "10.0.1.0/24" || got[1] != "10.0.3.0/24" {
		t.Fatalf("allocated %v around the occupied subnets, want 10.0.1.0/24 and 10.0.3.0/24", got)
	}
	if _, err := s.Allocate(); !errors.Is(err, ErrFull) {
		t.Fatalf("allocating from a full set: %v, want ErrFull", err)
	}
}

func TestReleasedSubnetIsReusedLast(t *testing.T) {
	s, err := New(netip.MustParsePrefix("10.0.0.0/22"), 24)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.Allocate()
	if err := s.Release(first); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 4 {
		p, err := s.Allocate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.String())
	}
	want := []string{"10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24", "10.0.0.0/24"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("after releasing %s allocations were %v, want %v", first, got, want)
		}
	}
}

func TestOccupyAndReleaseSpans(t *testing.T) {
	for _, tc := range []struct {
		name     string
		occupy   string
		wantFree []string // what Allocate returns afterwards, in order, until full
	}{
		{"one subnet", "10.0.1.0/24", []string{"10.0.0.0/24", "10.0.2.0/24", "10.0.3.0/24"}},
		{"a smaller prefix takes its whole subnet", "10.0.2.128/25", []string{"10.0.0.0/24", "10.0.1.0/24", "10.0.3.0/24"}},
		{"a larger prefix takes every subnet inside", "10.0.2.0/23", []string{"10.0.0.0/24", "10.0.1.0/24"}},
		{"a prefix holding the cluster takes everything", "10.0.0.0/8", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(netip.MustParsePrefix("10.0.0.0/22"), 24)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Occupy(netip.MustParsePrefix(tc.occupy)); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.wantFree {
				if got, err := s.Allocate(); err != nil || got.String() != want {
					t.Fatalf("Allocate = %v, %v; want %s", got, err, want)
				}
			}
			if _, err := s.Allocate(); !errors.Is(err, ErrFull) {
				t.Fatalf("set should be full, Allocate: %v", err)
			}
			if err := s.Release(netip.MustParsePrefix(tc.occupy)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Allocate(); err != nil {
				t.Fatalf("nothing free after releasing %s: %v", tc.occupy, err)
			}
		})
	}
}

func TestOccupyRejectsPrefixesOutsideTheCluster(t *testing.T) {
	s, err := New(netip.MustParsePrefix("10.244.0.0/16"), 24)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"10.245.0.0/24", "fd00::/64", "192.168.0.0/16"} {
		if err := s.Occupy(netip.MustParsePrefix(p)); err == nil {
			t.Errorf("Occupy(%s) succeeded", p)
		}
		if err := s.Release(netip.MustParsePrefix(p)); err == nil {
			t.Errorf("Release(%s) succeeded", p)
		}
	}
}
