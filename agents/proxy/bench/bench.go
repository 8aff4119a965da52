// Package bench measures the proxy in throwaway network namespaces: full
// sync time, time to apply one changed service, and connection latency to a
// ClusterIP at 10 and at many services, for berth's map-based table and for
// the same services as a linear chain of rules (the iptables design). The
// proxy reads Services from in-memory listers, so the figures are the
// proxy's own (rules, diff, netlink, kernel), not an API server's.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/berth-io/berth/agents/nettest"
	"github.com/berth-io/berth/agents/proxy"
	"github.com/berth-io/berth/agents/proxy/nft"
	"github.com/berth-io/berth/agents/proxy/rules"
)

// Settings size a run.
type Settings struct {
	// Services and Endpoints per service (each service has one TCP port).
	Services, Endpoints int
	// Changes is how many single-service changes are timed.
	Changes int
	// Connections is how many connections each latency figure is made of.
	Connections int
}

// Report holds the figures of one run.
type Report struct {
	Settings Settings
	Designs  []Design
	// Direct is connection latency straight to an endpoint (no DNAT).
	Direct Latency
}

// Design is the figures of one table design.
type Design struct {
	Name string
	// FullSync is the first sync of all services into the table (holding
	// 10 services); Kernel the part spent in the kernel.
	FullSync, FullSyncKernel time.Duration
	Messages, Bytes          int
	Rules, Elements          int
	// Resync lists the whole table back from the kernel and finds nothing
	// to repair.
	Resync time.Duration
	// Change is the time to apply one changed service.
	Change Percentiles
	// Few and Many are connection latencies at 10 and at Services services.
	Few, Many Latency
	// HeapMiB is the Go heap in use after the full sync.
	HeapMiB float64
}

// Latency is connection figures to a ClusterIP.
type Latency struct {
	Connect, FirstByte Percentiles
	PerSecond          float64
}

// Percentiles of a set of durations.
type Percentiles struct{ P50, P99 time.Duration }

const (
	measuredIP = "10.96.0.1"
	// Pod addresses are 10.244.0.10 and up, one per endpoint of the
	// measured service, all on the pod's one listener.
	podBase  = "10.244.0."
	podFirst = 10
	podPort  = 8080
)

// Run measures the map design and then the linear design.
func Run(ctx context.Context, s Settings, progress func(string, ...any)) (*Report, error) {
	if s.Services < 10 || s.Endpoints < 1 || s.Endpoints > 200 || s.Connections < 1 {
		return nil, fmt.Errorf("--services must be at least 10, --endpoints between 1 and 200, --connections at least 1")
	}
	node, pod, err := hosts(s.Endpoints)
	if err != nil {
		return nil, err
	}
	defer node.Delete()
	defer pod.Delete()
	stop, err := serve(pod)
	if err != nil {
		return nil, err
	}
	defer stop()
	d, err := newDialer(node)
	if err != nil {
		return nil, err
	}
	defer d.close()

	r := &Report{Settings: s}
	progress("connections straight to the endpoint (no DNAT)")
	if r.Direct, err = d.measure(ctx, fmt.Sprintf("%s%d:%d", podBase, podFirst, podPort), s.Connections); err != nil {
		return nil, err
	}
	maps, err := runMaps(ctx, s, node, d, progress)
	if err != nil {
		return r, err
	}
	r.Designs = append(r.Designs, maps)
	linear, err := runLinear(ctx, s, node, d, progress)
	if err != nil {
		return r, err
	}
	r.Designs = append(r.Designs, linear)
	return r, nil
}

// runMaps measures the proxy itself.
func runMaps(ctx context.Context, s Settings, node *nettest.Netns, d *dialer, progress func(string, ...any)) (Design, error) {
	table := fmt.Sprintf("berth-bench-%08x", rand.Uint32())
	p, err := proxy.New(nil, proxy.Config{NodeName: "bench", Table: table, NetNSFd: node.Fd(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return Design{}, err
	}
	defer func() { _ = p.Cleanup() }()
	st := newState(s.Endpoints)
	if err := st.sliceIdx.AddIndexers(proxy.SliceIndexers()); err != nil {
		return Design{}, err
	}
	p.UseListers(st.services, st.sliceIdx)
	steps := steps{
		sync:    p.Sync,
		changed: p.Changed,
		resync:  p.Resync,
		stats:   p.LastApply,
		model:   func() rules.Model { return st.model() },
	}
	return measure(ctx, Design{Name: "maps (berth)"}, s, st, d, steps, progress)
}

// runLinear programs the same services as a linear chain through the same
// diff and netlink code.
func runLinear(ctx context.Context, s Settings, node *nettest.Netns, d *dialer, progress func(string, ...any)) (Design, error) {
	table := fmt.Sprintf("berth-bench-linear-%08x", rand.Uint32())
	t, err := nft.Open(table, node.Fd())
	if err != nil {
		return Design{}, err
	}
	defer t.Close()
	defer func() { _ = t.Delete() }()
	st := newState(s.Endpoints)
	var programmed *rules.Model
	full := true
	steps := steps{
		sync: func() error {
			desired := st.linearModel()
			var observed rules.Model
			if full || programmed == nil {
				var err error
				if observed, err = t.Observe(); err != nil {
					return err
				}
				full = false
			} else {
				observed = *programmed
			}
			if err := t.Apply(rules.Diff(observed, desired)); err != nil {
				return err
			}
			programmed = &desired
			return nil
		},
		changed: func(string, string) {},
		resync:  func() { full = true },
		stats:   t.LastApply,
		model:   st.linearModel,
	}
	return measure(ctx, Design{Name: "linear chain (iptables-style)"}, s, st, d, steps, progress)
}

// steps are what a design does.
type steps struct {
	sync    func() error
	changed func(namespace, name string)
	resync  func()
	stats   func() nft.ApplyStats
	model   func() rules.Model
}

func measure(ctx context.Context, r Design, s Settings, st *state, d *dialer, do steps, progress func(string, ...any)) (Design, error) {
	for _, name := range st.add(10) {
		do.changed("bench", name)
	}
	progress("%s: 10 services", r.Name)
	if err := do.sync(); err != nil {
		return r, err
	}
	var err error
	if r.Few, err = d.measure(ctx, measuredIP+":80", s.Connections); err != nil {
		return r, fmt.Errorf("%s, 10 services: %w", r.Name, err)
	}
	for _, name := range st.add(s.Services) {
		do.changed("bench", name)
	}
	runtime.GC()
	progress("%s: full sync of %d services", r.Name, s.Services)
	start := time.Now()
	if err := do.sync(); err != nil {
		return r, err
	}
	r.FullSync = time.Since(start)
	a := do.stats()
	r.FullSyncKernel, r.Messages, r.Bytes = a.Kernel, a.Messages, a.Bytes
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapMiB = float64(ms.HeapInuse) / (1 << 20)
	r.Rules, r.Elements = do.model().Counts()
	progress("%s: full sync took %v; connections at %d services", r.Name, r.FullSync.Round(time.Millisecond), s.Services)
	if r.Many, err = d.measure(ctx, measuredIP+":80", s.Connections); err != nil {
		return r, fmt.Errorf("%s, %d services: %w", r.Name, s.Services, err)
	}
	progress("%s: %d single-service changes", r.Name, s.Changes)
	var changes []time.Duration
	for i := range s.Changes {
		ns, name := st.change(i)
		do.changed(ns, name)
		start := time.Now()
		if err := do.sync(); err != nil {
			return r, err
		}
		changes = append(changes, time.Since(start))
	}
	r.Change = percentiles(changes)
	do.resync()
	start = time.Now()
	if err := do.sync(); err != nil {
		return r, err
	}
	r.Resync = time.Since(start)
	return r, nil
}

// state holds a run's services and slices in listers.
type state struct {
	endpoints int
	svcIdx    cache.Indexer
	sliceIdx  cache.Indexer
	services  corelisters.ServiceLister
	n         int
}

func newState(endpoints int) *state {
	indexers := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	st := &state{endpoints: endpoints,
		svcIdx: cache.NewIndexer(cache.MetaNamespaceKeyFunc, indexers), sliceIdx: cache.NewIndexer(cache.MetaNamespaceKeyFunc, indexers)}
	st.services = corelisters.NewServiceLister(st.svcIdx)
	return st
}

// add creates services up to n and returns their names. Service 0 is the
// measured one, whose endpoints are the pod's addresses; the others'
// endpoints go nowhere.
func (st *state) add(n int) (names []string) {
	for ; st.n < n; st.n++ {
		i := st.n
		ip := measuredIP
		if i > 0 {
			ip = fmt.Sprintf("10.%d.%d.%d", 97+i/65536, i/256%256, i%256)
		}
		_ = st.svcIdx.Add(&v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i)},
			Spec: v1.ServiceSpec{Type: v1.ServiceTypeClusterIP, ClusterIP: ip, Ports: []v1.ServicePort{{Name: "p", Protocol: v1.ProtocolTCP, Port: 80}}}})
		_ = st.sliceIdx.Add(st.slice(i, 0))
		names = append(names, fmt.Sprintf("svc-%d", i))
	}
	return names
}

// slice is service i's slice; generation shifts its fake endpoints.
func (st *state) slice(i, generation int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("svc-%d-1", i),
			Labels: map[string]string{discoveryv1.LabelServiceName: fmt.Sprintf("svc-%d", i)}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("p"), Protocol: ptr.To(v1.ProtocolTCP), Port: ptr.To[int32](podPort)}},
	}
	for e := range st.endpoints {
		n := i*st.endpoints + e + generation
		addr := fmt.Sprintf("10.%d.%d.%d", 128+n/65536%64, n/256%256, n%256)
		if i == 0 {
			addr = fmt.Sprintf("%s%d", podBase, podFirst+e)
		}
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return s
}

// change moves the endpoints of one service other than the measured one.
func (st *state) change(round int) (namespace, name string) {
	i := 1 + rand.IntN(st.n-1)
	_ = st.sliceIdx.Update(st.slice(i, round+1))
	return "bench", fmt.Sprintf("svc-%d", i)
}

// parts returns each service with its model part, the measured service
// last.
func (st *state) parts(node rules.Node) []rules.Model {
	svcs, _ := st.services.List(labels.Everything())
	slices.SortFunc(svcs, func(a, b *v1.Service) int {
		switch {
		case a.Spec.ClusterIP == measuredIP:
			return 1
		case b.Spec.ClusterIP == measuredIP:
			return -1
		}
		return 0
	})
	out := make([]rules.Model, 0, len(svcs))
	bySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, o := range st.sliceIdx.List() {
		s := o.(*discoveryv1.EndpointSlice)
		bySvc[s.Labels[discoveryv1.LabelServiceName]] = append(bySvc[s.Labels[discoveryv1.LabelServiceName]], s)
	}
	for _, s := range svcs {
		out = append(out, rules.Service(s, bySvc[s.Name], node))
	}
	return out
}

// model is the proxy's table for the state (for its rule and element
// counts).
func (st *state) model() rules.Model {
	node := rules.Node{Name: "bench"}
	m := rules.Base(node)
	for _, part := range st.parts(node) {
		m.Merge(part)
	}
	return m
}

// linearModel is the table iptables would have: the services chain tests
// each service port in turn, the measured service last (the worst case, as
// in iptables a packet walks the chain until its service's rule), then
// goes to the same service chains as the map design.
func (st *state) linearModel() rules.Model {
	node := rules.Node{Name: "bench"}
	m := rules.Base(node)
	var linear []rules.Rule
	for _, part := range st.parts(node) {
		for _, key := range sortedKeys(part.Sets[rules.SetServiceIPs].Elements) {
			e := part.Sets[rules.SetServiceIPs].Elements[key]
			k := []byte(e.Key)
			ip := netip.AddrFrom4([4]byte(k[:4]))
			linear = append(linear, rules.NewRule(rules.MatchPrefix{Field: rules.DstAddr, Prefix: netip.PrefixFrom(ip, 32)},
				rules.MatchPort{Proto: k[4], Port: uint16(k[8])<<8 | uint16(k[9])}, rules.Verdict{Kind: rules.Goto, Chain: e.Chain}))
		}
		delete(part.Sets, rules.SetServiceIPs)
		m.Merge(part)
	}
	c := m.Chains[rules.ChainServices]
	c.Rules = linear
	m.Chains[rules.ChainServices] = c
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return Percentiles{P50: at(0.50), P99: at(0.99)}
}
