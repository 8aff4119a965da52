package agent

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"k8s.io/client-go/kubernetes/fake"
)

func TestIPv4sKeepsTheIPv4NodeIPs(t *testing.T) {
	for _, tc := range []struct {
		in      []string
		want    []netip.Addr
		wantErr bool
	}{
		{in: nil, want: nil},
		{in: []string{"10.0.0.5"}, want: []netip.Addr{netip.MustParseAddr("10.0.0.5")}},
		{in: []string{"fd00::5", "10.0.0.5"}, want: []netip.Addr{netip.MustParseAddr("10.0.0.5")}},
		{in: []string{"10.0.0"}, wantErr: true},
	} {
		got, err := ipv4s(tc.in)
		if (err != nil) != tc.wantErr || !slices.Equal(got, tc.want) {
			t.Errorf("ipv4s(%v) = %v, %v; want %v (error: %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestDisabledNetworkStartsNothing(t *testing.T) {
	cfg := Config{ClusterDNS: []string{"10.96.0.10"}, Network: Network{Disabled: true}}
	// An invalid node IP would fail any real start: nothing looks at it.
	dns, stop, err := cfg.startNetwork(context.Background(), fake.NewClientset(), []string{"not-an-ip"}, true)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if !slices.Equal(dns, cfg.ClusterDNS) {
		t.Errorf("pods' DNS %v, want --cluster-dns %v", dns, cfg.ClusterDNS)
	}
}
