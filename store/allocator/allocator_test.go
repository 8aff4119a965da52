package allocator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/berth-io/berth/store/etcdtest"
)

func startEtcd(t testing.TB) *etcdtest.Server { return etcdtest.Start(t) }

func newTestIPs(t testing.TB, c *clientv3.Client, cidr string) *IPAllocator {
	t.Helper()
	a, err := NewIPAllocator(c, ServiceIPPrefix, mustCIDR(t, cidr))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newTestPorts(t testing.TB, c *clientv3.Client, min, max int) *PortAllocator {
	t.Helper()
	a, err := NewPortAllocator(c, NodePortPrefix, min, max)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// stored lists the items allocated in etcd for r, sorted, with their owners.
func stored(t testing.TB, r *ranged) map[string]string {
	t.Helper()
	resp, err := r.client.Get(context.Background(), r.prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), r.prefix)] = decodeRecord(kv.Value).Owner
	}
	return out
}

func allocatedPorts(t testing.TB, a *PortAllocator) []string {
	t.Helper()
	var out []string
	for item := range stored(t, a.r) {
		if _, ok := a.port.offset(item); ok {
			out = append(out, item)
		}
	}
	slices.Sort(out)
	return out
}

// backdate makes the allocations of the given ports an hour old.
func backdate(t testing.TB, r *ranged, ports ...int) {
	t.Helper()
	for _, p := range ports {
		key := r.prefix + fmt.Sprint(p)
		resp, err := r.client.Get(context.Background(), key)
		if err != nil || len(resp.Kvs) != 1 {
			t.Fatalf("get %s: %v (%d keys)", key, err, len(resp.Kvs))
		}
		rec := decodeRecord(resp.Kvs[0].Value)
		rec.Allocated = time.Now().Add(-time.Hour)
		value, _ := json.Marshal(rec)
		if _, err := r.client.Put(context.Background(), key, string(value)); err != nil {
			t.Fatal(err)
		}
	}
}

func wantReason(t testing.TB, err, reason error) *Error {
	t.Helper()
	var e *Error
	if !errors.Is(err, reason) || !errors.As(err, &e) {
		t.Fatalf("err = %v, want an *Error wrapping %q", err, reason)
	}
	return e
}

func TestIPAllocateNextSequentialIsUnique(t *testing.T) {
	ctx := context.Background()
	a := newTestIPs(t, startEtcd(t).Client(t), "10.96.0.0/24")
	seen := map[string]bool{}
	for i := range 100 {
		ip, err := a.AllocateNext(ctx, fmt.Sprint("default/svc", i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[ip.String()] {
			t.Fatalf("allocation %d: %s handed out twice", i, ip)
		}
		if ip.Equal(a.ReservedIP()) {
			t.Fatalf("allocation %d: got the reserved %s", i, ip)
		}
		if !a.CIDR().Contains(mustAddr(t, ip)) {
			t.Fatalf("allocation %d: %s outside %s", i, ip, a.CIDR())
		}
		seen[ip.String()] = true
	}
	if n := len(stored(t, a.r)); n != 100 {
		t.Errorf("etcd holds %d allocations, want 100", n)
	}
}

// Two allocators with their own etcd connections stand for two API server
// processes sharing one etcd.
func TestIPAllocateNextConcurrentServersNoDuplicates(t *testing.T) {
	tests := []struct {
		name     string
		cidr     string
		requests int
		want     int // successful allocations
	}{
		{"room for all", "10.96.0.0/24", 200, 200},
		{"more requests than addresses", "10.96.0.0/27", 40, 29}, // 30 hosts minus the reserved one
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			srv := startEtcd(t)
			servers := []*IPAllocator{newTestIPs(t, srv.Client(t), tt.cidr), newTestIPs(t, srv.Client(t), tt.cidr)}

			var (
				mu   sync.Mutex
				got  = map[string]string{}
				full int
				wg   sync.WaitGroup
			)
			for i := range tt.requests {
				wg.Go(func() {
					owner := fmt.Sprint("default/svc", i)
					ip, err := servers[i%2].AllocateNext(ctx, owner)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case errors.Is(err, ErrFull):
						full++
					case err != nil:
						t.Errorf("%s: %v", owner, err)
					case got[ip.String()] != "":
						t.Errorf("%s handed out to %s and %s", ip, got[ip.String()], owner)
					default:
						got[ip.String()] = owner
					}
				})
			}
			wg.Wait()
			if len(got) != tt.want || full != tt.requests-tt.want {
				t.Errorf("%d allocated and %d full, want %d and %d", len(got), full, tt.want, tt.requests-tt.want)
			}
			if s := stored(t, servers[0].r); !maps.Equal(s, got) {
				t.Errorf("etcd holds %v\nhanded out %v", s, got)
			}
		})
	}
}

func TestIPAllocateSpecific(t *testing.T) {
	ctx := context.Background()
	a := newTestIPs(t, startEtcd(t).Client(t), "10.96.0.0/16")

	if err := a.Allocate(ctx, a.ReservedIP(), "default/kubernetes"); err != nil {
		t.Fatalf("reserved address for the kubernetes Service: %v", err)
	}
	if err := a.Allocate(ctx, net.ParseIP("10.96.0.10"), "kube-system/kube-dns"); err != nil {
		t.Fatal(err)
	}
	e := wantReason(t, a.Allocate(ctx, net.ParseIP("10.96.0.10"), "default/other"), ErrAllocated)
	if e.Owner != "kube-system/kube-dns" || e.Item != "10.96.0.10" {
		t.Errorf("conflict names %q held by %q, want 10.96.0.10 held by kube-system/kube-dns", e.Item, e.Owner)
	}
	wantReason(t, a.Allocate(ctx, net.ParseIP("10.96.0.10"), "kube-system/kube-dns"), ErrAllocated)

	for _, ip := range []string{"10.97.0.1", "10.96.0.0", "10.96.255.255", "fd00::1"} {
		e := wantReason(t, a.Allocate(ctx, net.ParseIP(ip), "default/x"), ErrNotInRange)
		if !strings.Contains(e.Error(), "10.96.0.0/16") {
			t.Errorf("%s: error %q does not name the range", ip, e)
		}
	}
	wantReason(t, a.Release(ctx, net.ParseIP("192.168.0.1")), ErrNotInRange)
}

func TestIPReleaseAndReallocate(t *testing.T) {
	ctx := context.Background()
	a := newTestIPs(t, startEtcd(t).Client(t), "10.96.0.0/29")
	ip := net.ParseIP("10.96.0.5")
	if err := a.Allocate(ctx, ip, "default/a"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // idempotent
		if err := a.Release(ctx, ip); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Allocate(ctx, ip, "default/b"); err != nil {
		t.Fatalf("reallocate after release: %v", err)
	}
	if owner := stored(t, a.r)["10.96.0.5"]; owner != "default/b" {
		t.Errorf("owner = %q, want default/b", owner)
	}
}

func TestIPRangeFull(t *testing.T) {
	ctx := context.Background()
	srv := startEtcd(t)
	a := newTestIPs(t, srv.Client(t), "10.96.0.0/29")
	var got []string
	for i := range 5 { // 6 hosts, the first reserved
		ip, err := a.AllocateNext(ctx, fmt.Sprint("default/svc", i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		got = append(got, ip.String())
	}
	slices.Sort(got)
	if want := []string{"10.96.0.2", "10.96.0.3", "10.96.0.4", "10.96.0.5", "10.96.0.6"}; !slices.Equal(got, want) {
		t.Errorf("allocated %v, want %v", got, want)
	}
	_, err := a.AllocateNext(ctx, "default/more")
	if e := wantReason(t, err, ErrFull); !strings.Contains(e.Error(), "10.96.0.0/29") {
		t.Errorf("error %q does not name the range", e)
	}

	// Another server releases one: this server's hint is stale, yet it
	// finds the free address instead of answering full.
	other := newTestIPs(t, srv.Client(t), "10.96.0.0/29")
	if err := other.Release(ctx, net.ParseIP("10.96.0.4")); err != nil {
		t.Fatal(err)
	}
	ip, err := a.AllocateNext(ctx, "default/more")
	if err != nil || ip.String() != "10.96.0.4" {
		t.Errorf("after release elsewhere: %v, %v; want 10.96.0.4", ip, err)
	}
}

func TestPortAllocator(t *testing.T) {
	ctx := context.Background()
	srv := startEtcd(t)
	a := newTestPorts(t, srv.Client(t), 30000, 30019)
	b := newTestPorts(t, srv.Client(t), 30000, 30019)

	if err := a.Allocate(ctx, 30007, "default/web"); err != nil {
		t.Fatal(err)
	}
	wantReason(t, b.Allocate(ctx, 30007, "default/other"), ErrAllocated)
	e := wantReason(t, a.Allocate(ctx, 8080, "default/web"), ErrNotInRange)
	if e.Detail() != "provided port is not in the valid range. The range of valid ports is 30000-30019" {
		t.Errorf("detail = %q", e.Detail())
	}

	seen := map[int]bool{30007: true}
	for i := range 19 {
		alloc := []*PortAllocator{a, b}[i%2]
		p, err := alloc.AllocateNext(ctx, fmt.Sprint("default/svc", i))
		if err != nil {
			t.Fatalf("allocation %d: %v", i, err)
		}
		if seen[p] || p < 30000 || p > 30019 {
			t.Fatalf("allocation %d: port %d duplicate or out of range", i, p)
		}
		seen[p] = true
	}
	_, err := b.AllocateNext(ctx, "default/more")
	wantReason(t, err, ErrFull)

	if err := a.Release(ctx, 30007); err != nil {
		t.Fatal(err)
	}
	if p, err := b.AllocateNext(ctx, "default/more"); err != nil || p != 30007 {
		t.Errorf("after release: %d, %v; want 30007", p, err)
	}
}

func TestNewPortAllocatorRejectsBadRange(t *testing.T) {
	c := &clientv3.Client{}
	for _, r := range [][2]int{{0, 10}, {30000, 70000}, {32767, 30000}} {
		if _, err := NewPortAllocator(c, NodePortPrefix, r[0], r[1]); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%d-%d", r[0], r[1])) {
			t.Errorf("range %d-%d: err = %v, want one naming the range", r[0], r[1], err)
		}
	}
}

func TestTransaction(t *testing.T) {
	ctx := context.Background()
	srv := startEtcd(t)
	ips := newTestIPs(t, srv.Client(t), "10.96.0.0/24")
	ports := newTestPorts(t, srv.Client(t), 30000, 30099)
	if err := ports.Allocate(ctx, 30050, "default/web"); err != nil {
		t.Fatal(err)
	}

	t.Run("revert undoes allocations and drops releases", func(t *testing.T) {
		var tx Transaction
		ip, err := ips.In(&tx).AllocateNext(ctx, "default/new")
		if err != nil {
			t.Fatal(err)
		}
		if err := ports.In(&tx).Allocate(ctx, 30001, "default/new"); err != nil {
			t.Fatal(err)
		}
		if err := ports.In(&tx).Release(ctx, 30050); err != nil {
			t.Fatal(err)
		}
		if _, held := stored(t, ports.r)["30050"]; !held {
			t.Fatal("release took effect before commit")
		}
		if err := tx.Revert(ctx); err != nil {
			t.Fatal(err)
		}
		if s := stored(t, ips.r); s[ip.String()] != "" {
			t.Errorf("%s still allocated after revert", ip)
		}
		if got := allocatedPorts(t, ports); !slices.Equal(got, []string{"30050"}) {
			t.Errorf("ports after revert: %v, want only 30050", got)
		}
	})

	t.Run("commit keeps allocations and performs releases", func(t *testing.T) {
		var tx Transaction
		if err := ports.In(&tx).Allocate(ctx, 30002, "default/web"); err != nil {
			t.Fatal(err)
		}
		if err := ports.In(&tx).Release(ctx, 30050); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Revert(ctx); err != nil { // a deferred Revert after Commit
			t.Fatal(err)
		}
		if got := allocatedPorts(t, ports); !slices.Equal(got, []string{"30002"}) {
			t.Errorf("ports after commit: %v, want only 30002", got)
		}
	})

	t.Run("a failed allocation is not reverted", func(t *testing.T) {
		var tx Transaction
		wantReason(t, ports.In(&tx).Allocate(ctx, 30002, "default/intruder"), ErrAllocated)
		if err := tx.Revert(ctx); err != nil {
			t.Fatal(err)
		}
		if owner := stored(t, ports.r)["30002"]; owner != "default/web" {
			t.Errorf("30002 owned by %q after revert, want default/web", owner)
		}
	})
}

func BenchmarkIPAllocateNext(b *testing.B) {
	ctx := context.Background()
	a := newTestIPs(b, startEtcd(b).Client(b), "10.96.0.0/12")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.AllocateNext(ctx, "default/bench"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "allocs/s")
}

func mustAddr(t testing.TB, ip net.IP) netip.Addr {
	t.Helper()
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		t.Fatalf("bad IP %v", ip)
	}
	return addr.Unmap()
}
