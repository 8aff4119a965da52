package allocator

import (
	"net"
	"strings"
	"testing"
)

func mustCIDR(t testing.TB, s string) *net.IPNet {
	t.Helper()
	_, cidr, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return cidr
}

func TestNewIPItems(t *testing.T) {
	tests := []struct {
		cidr        string
		size        int
		first, last string
		wantErr     string
	}{
		{cidr: "10.96.0.0/16", size: 65534, first: "10.96.0.1", last: "10.96.255.254"},
		{cidr: "10.96.0.0/29", size: 6, first: "10.96.0.1", last: "10.96.0.6"},
		{cidr: "10.96.0.0/12", size: 1<<20 - 2, first: "10.96.0.1", last: "10.111.255.254"},
		{cidr: "fd00:10:96::/112", size: 65535, first: "fd00:10:96::1", last: "fd00:10:96::ffff"},
		{cidr: "10.0.0.0/8", wantErr: "too large"},
		{cidr: "fd00::/64", wantErr: "too large"},
		{cidr: "10.96.0.0/31", wantErr: "too small"},
	}
	for _, tt := range tests {
		t.Run(tt.cidr, func(t *testing.T) {
			it, err := newIPItems(mustCIDR(t, tt.cidr))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.cidr) {
					t.Fatalf("err = %v, want one naming %s and saying %q", err, tt.cidr, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if it.size != tt.size || it.name(0) != tt.first || it.name(it.size-1) != tt.last {
				t.Errorf("size %d, first %s, last %s; want %d, %s, %s", it.size, it.name(0), it.name(it.size-1), tt.size, tt.first, tt.last)
			}
		})
	}
}

func TestIPItemsOffset(t *testing.T) {
	it, err := newIPItems(mustCIDR(t, "10.96.0.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		off  int
		ok   bool
	}{
		{"10.96.0.1", 0, true},
		{"10.96.0.10", 9, true},
		{"10.96.0.254", 253, true},
		{"::ffff:10.96.0.10", 9, true},
		{"10.96.0.0", 0, false},   // network
		{"10.96.0.255", 0, false}, // broadcast
		{"10.96.1.1", 0, false},
		{"fd00::1", 0, false},
		{"10.96.0.010", 0, false},
		{"nonsense", 0, false},
	}
	for _, tt := range tests {
		off, ok := it.offset(tt.name)
		if ok != tt.ok || (ok && off != tt.off) {
			t.Errorf("offset(%q) = %d, %v; want %d, %v", tt.name, off, ok, tt.off, tt.ok)
		}
	}
}

func TestPortItemsOffset(t *testing.T) {
	it := portItems{min: 30000, size: 2768}
	tests := []struct {
		name string
		off  int
		ok   bool
	}{
		{"30000", 0, true},
		{"32767", 2767, true},
		{"29999", 0, false},
		{"32768", 0, false},
		{"030080", 0, false}, // not canonical: would be a second key for one port
		{"+30080", 0, false},
		{"http", 0, false},
	}
	for _, tt := range tests {
		off, ok := it.offset(tt.name)
		if ok != tt.ok || (ok && off != tt.off) {
			t.Errorf("offset(%q) = %d, %v; want %d, %v", tt.name, off, ok, tt.off, tt.ok)
		}
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err         *Error
		msg, detail string
	}{
		{
			&Error{Err: ErrAllocated, Kind: "IP", Item: "10.96.0.10", Range: "10.96.0.0/16", Owner: "kube-system/dns"},
			"IP 10.96.0.10: provided IP is already allocated",
			"provided IP is already allocated",
		},
		{
			&Error{Err: ErrNotInRange, Kind: "port", Item: "80", Range: "30000-32767"},
			"port 80: provided port is not in the valid range. The range of valid ports is 30000-32767",
			"provided port is not in the valid range. The range of valid ports is 30000-32767",
		},
		{
			&Error{Err: ErrFull, Kind: "IP", Range: "10.96.0.0/29"},
			"IP range 10.96.0.0/29: range is full",
			"range is full",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.msg {
			t.Errorf("Error() = %q, want %q", got, tt.msg)
		}
		if got := tt.err.Detail(); got != tt.detail {
			t.Errorf("Detail() = %q, want %q", got, tt.detail)
		}
	}
}
