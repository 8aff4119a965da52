// Package proxy makes Services route: it watches Services and
// EndpointSlices and programs one nftables table of its own (IPv4) so that
// ClusterIP and NodePort traffic reaches ready endpoints. The rules are
// computed by agents/proxy/rules (pure) and programmed by agents/proxy/nft,
// one atomic transaction per sync, changing only what differs from what is
// programmed.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-io/berth/agents/proxy/nft"
	"github.com/berth-io/berth/agents/proxy/rules"
)

// DefaultTable is the name of the proxy's nftables table (family ip).
const DefaultTable = "berth-proxy"

// Config configures a Proxy.
type Config struct {
	// NodeName picks the local endpoints of externalTrafficPolicy: Local.
	NodeName string
	// NodeIPs are the IPv4 addresses NodePorts answer on (127.0.0.1 too).
	NodeIPs []netip.Addr
	// ClusterCIDR, when set, is the pod network: ClusterIP traffic from
	// outside it is masqueraded.
	ClusterCIDR netip.Prefix
	// MinSyncPeriod is the least time between two syncs: changes in a burst
	// are applied together (default 100ms).
	MinSyncPeriod time.Duration
	// ResyncPeriod is how often the table is listed from the kernel and
	// repaired (default 1h).
	ResyncPeriod time.Duration
	// Table is the nftables table name (default DefaultTable).
	Table string
	// NetNSFd, when not 0, programs the table in that network namespace
	// (tests and benchmarks); 0 is the caller's.
	NetNSFd int
	// Registry receives the proxy's metrics (nil: not registered).
	Registry prometheus.Registerer
	// Log receives the proxy's logs (default slog.Default()); the caller
	// names the component, the proxy adds the table.
	Log *slog.Logger
}

// Proxy keeps the nftables table in step with the Services and
// EndpointSlices of the API server.
type Proxy struct {
	cfg     Config
	node    rules.Node
	client  kubernetes.Interface
	table   *nft.Table
	metrics *metrics
	log     *slog.Logger

	kick chan struct{}

	mu       sync.Mutex
	dirty    map[string]bool
	full     bool
	parts    map[string]rules.Model
	services corelisters.ServiceLister
	slices   cache.Indexer

	// asm is the table as it should be; parts are each Service's share.
	asm *rules.Assembly
	// udp are each Service's UDP ports and endpoints; stale are the
	// conntrack entries to delete once the next transaction is in.
	udp      map[string][]rules.UDPPort
	stale    []rules.ConntrackFlush
	lastSync time.Time
}

// New returns a proxy for the node; Run starts it.
func New(client kubernetes.Interface, cfg Config) (*Proxy, error) {
	if cfg.MinSyncPeriod <= 0 {
		cfg.MinSyncPeriod = 100 * time.Millisecond
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = time.Hour
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	for _, ip := range cfg.NodeIPs {
		if !ip.Is4() {
			return nil, fmt.Errorf("proxy: node IP %s: only IPv4 is handled", ip)
		}
	}
	if cfg.ClusterCIDR.IsValid() && !cfg.ClusterCIDR.Addr().Is4() {
		return nil, fmt.Errorf("proxy: cluster CIDR %s: only IPv4 is handled", cfg.ClusterCIDR)
	}
	table, err := nft.Open(cfg.Table, cfg.NetNSFd)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	m := newMetrics()
	if cfg.Registry != nil {
		if err := m.register(cfg.Registry); err != nil {
			_ = table.Close()
			return nil, fmt.Errorf("proxy: registering metrics: %w", err)
		}
	}
	node := rules.Node{Name: cfg.NodeName, IPs: cfg.NodeIPs, ClusterCIDR: cfg.ClusterCIDR}
	return &Proxy{
		cfg:     cfg,
		node:    node,
		client:  client,
		table:   table,
		metrics: m,
		log:     cfg.Log.With("table", cfg.Table),
		kick:    make(chan struct{}, 1),
		dirty:   map[string]bool{},
		full:    true,
		parts:   map[string]rules.Model{},
		asm:     newAssembly(node),
		udp:     map[string][]rules.UDPPort{},
	}, nil
}

// Run watches Services and EndpointSlices and syncs the table until ctx
// ends. The table stays programmed afterwards (Cleanup removes it).
func (p *Proxy) Run(ctx context.Context) error {
	defer p.table.Close()
	if err := p.sysctl("ipv4/conf/all/route_localnet"); err != nil {
		// NodePorts on 127.0.0.1 need it; the rest works without.
		p.log.Warn("NodePorts will not answer on 127.0.0.1", "err", err)
	}
	if err := p.sysctl("bridge/bridge-nf-call-iptables"); err != nil {
		// A pod calling a Service whose endpoint is on the same bridge
		// gets the reply straight over the bridge, past the DNAT's
		// conntrack entry, unless bridged packets see the ip hooks.
		p.log.Warn("pods may not reach Services whose endpoints share their bridge (is br_netfilter loaded?)", "err", err)
	}
	factory := informers.NewSharedInformerFactory(p.client, 0)
	svcInformer := factory.Core().V1().Services()
	sliceInformer := factory.Discovery().V1().EndpointSlices()
	if err := sliceInformer.Informer().AddIndexers(SliceIndexers()); err != nil {
		return err
	}
	p.mu.Lock()
	p.services, p.slices = svcInformer.Lister(), sliceInformer.Informer().GetIndexer()
	p.mu.Unlock()
	onService := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			p.markDirty(key)
		}
	}
	onSlice := func(obj any) {
		if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = t.Obj
		}
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok && s.Labels[discoveryv1.LabelServiceName] != "" {
			p.markDirty(s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName])
		}
	}
	handler := func(f func(any)) cache.ResourceEventHandlerFuncs {
		// Both sides of an update: a slice may change the Service it
		// belongs to.
		return cache.ResourceEventHandlerFuncs{AddFunc: f, UpdateFunc: func(o, n any) { f(o); f(n) }, DeleteFunc: f}
	}
	if _, err := svcInformer.Informer().AddEventHandler(handler(onService)); err != nil {
		return err
	}
	if _, err := sliceInformer.Informer().AddEventHandler(handler(onSlice)); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("proxy: cache of %v never synced: %w", typ, ctx.Err())
		}
	}
	p.log.Info("proxy started", "node", p.cfg.NodeName, "nodeIPs", p.cfg.NodeIPs)
	resync := time.NewTicker(p.cfg.ResyncPeriod)
	defer resync.Stop()
	backoff := time.Duration(0)
	for {
		err := p.Sync()
		wait := p.cfg.MinSyncPeriod
		if err != nil {
			p.log.Error("sync failed; retrying with a full resync", "err", err)
			backoff = min(max(2*backoff, time.Second), time.Minute)
			wait = backoff
		} else {
			backoff = 0
		}
		// Rate limit: changes that arrive meanwhile are applied together.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.kick:
		case <-resync.C:
			p.Resync()
		}
	}
}

// UseListers makes the proxy read Services and EndpointSlices from a lister
// and an indexer (with SliceIndexers) instead of watching the API server:
// for benchmarks and tests that call Sync themselves (and Changed for what
// they change). Run must not be called then.
func (p *Proxy) UseListers(services corelisters.ServiceLister, slices cache.Indexer) {
	p.mu.Lock()
	p.services, p.slices = services, slices
	p.mu.Unlock()
}

// Changed tells the proxy that the Service namespace/name or its slices
// changed: the next sync recomputes its rules. (Run's informers call it.)
func (p *Proxy) Changed(namespace, name string) { p.markDirty(namespace + "/" + name) }

// LastApply describes the last transaction a sync sent to the kernel.
func (p *Proxy) LastApply() nft.ApplyStats { return p.table.LastApply() }

// Resync makes the next sync list the table from the kernel and repair
// whatever differs, instead of trusting what it programmed last.
func (p *Proxy) Resync() {
	p.mu.Lock()
	p.full = true
	p.mu.Unlock()
	p.wake()
}

// Cleanup deletes the proxy's table (for `berth agent --cleanup`); other
// tables are left alone. A missing table is not an error.
func (p *Proxy) Cleanup() error {
	t, err := nft.Open(p.cfg.Table, p.cfg.NetNSFd)
	if err != nil {
		return fmt.Errorf("proxy cleanup: %w", err)
	}
	defer t.Close()
	if err := t.Delete(); err != nil {
		return fmt.Errorf("proxy cleanup: %w", err)
	}
	p.mu.Lock()
	p.full = true
	p.mu.Unlock()
	return nil
}

// Cleanup deletes the nftables table name (DefaultTable when empty) in the
// caller's network namespace, without a Proxy.
func Cleanup(name string) error {
	if name == "" {
		name = DefaultTable
	}
	t, err := nft.Open(name, 0)
	if err != nil {
		return err
	}
	defer t.Close()
	return t.Delete()
}

func (p *Proxy) markDirty(key string) {
	p.mu.Lock()
	p.dirty[key] = true
	p.mu.Unlock()
	p.wake()
}

func (p *Proxy) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Sync brings the table in step once: it recomputes the parts of the
// Services that changed and applies what that changed in one transaction,
// at a cost proportional to the change. On a full resync (the first sync,
// on demand, periodically, after an error) it lists the table from the
// kernel and applies the whole difference instead.
func (p *Proxy) Sync() error {
	start := time.Now()
	p.mu.Lock()
	dirty, full := p.dirty, p.full
	p.dirty = map[string]bool{}
	p.full = false
	plans, err := p.recompute(dirty)
	var desired rules.Model
	if full {
		desired = p.asm.Model().Clone()
	}
	nrules, nelems := p.asm.Model().Counts()
	p.mu.Unlock()
	if err == nil {
		if full {
			err = p.resync(desired)
		} else {
			err = p.table.Apply(plans...)
		}
	}
	kind := "partial"
	if full {
		kind = "full"
	}
	p.metrics.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
	if err != nil {
		p.metrics.errors.Inc()
		p.mu.Lock()
		p.full = true
		p.mu.Unlock()
		return err
	}
	p.mu.Lock()
	stale := p.stale
	p.stale = nil
	p.mu.Unlock()
	if n, err := p.flushConntrack(stale); err != nil {
		// The rules are right; only old UDP flows may linger.
		p.log.Warn("stale UDP conntrack entries not deleted", "err", err)
	} else if n > 0 {
		p.log.Debug("deleted stale UDP conntrack entries", "entries", n)
	}
	p.metrics.rules.Set(float64(nrules))
	p.metrics.elements.Set(float64(nelems))
	p.metrics.lastSync.SetToCurrentTime()
	p.mu.Lock()
	p.lastSync = time.Now()
	p.mu.Unlock()
	return nil
}

// resync lists the table from the kernel and applies the difference.
func (p *Proxy) resync(desired rules.Model) error {
	observed, err := p.table.Observe()
	if err != nil {
		return err
	}
	plan := rules.Diff(observed, desired)
	if plan.Empty() {
		return nil
	}
	if len(observed.Chains) > 0 {
		p.log.Warn("table differs from what the proxy programmed; repairing", "chainsAdded", len(plan.AddChains),
			"chainsRewritten", len(plan.ReplaceChains), "chainsDeleted", len(plan.DeleteChains),
			"setsWithElementsAdded", len(plan.AddElements), "setsWithElementsDeleted", len(plan.DeleteElements))
	}
	return p.table.Apply(plan)
}

func newAssembly(node rules.Node) *rules.Assembly {
	a := rules.NewAssembly()
	a.Replace(rules.NewModel(), rules.Base(node))
	return a
}

// recompute refreshes the parts of the dirty Services in the assembly and
// returns the plans that apply each change, in order. Called with p.mu
// held.
func (p *Proxy) recompute(dirty map[string]bool) ([]rules.Plan, error) {
	if p.services == nil {
		return nil, errors.New("proxy: Sync before Run started the informers (or UseListers)")
	}
	if p.lastSync.IsZero() {
		// The first sync takes every Service, whether or not an event
		// named it.
		all, err := p.services.List(labels.Everything())
		if err != nil {
			return nil, err
		}
		for _, s := range all {
			dirty[s.Namespace+"/"+s.Name] = true
		}
	}
	// Many changes at once (a burst, a restart of the API server): one
	// diff of the whole table makes fewer, fuller netlink messages than a
	// plan per Service.
	var before *rules.Model
	if len(dirty) > bulkChanges {
		m := p.asm.Model().Clone()
		before = &m
	}
	var plans []rules.Plan
	for _, key := range sortedKeys(dirty) {
		ns, name, err := cache.SplitMetaNamespaceKey(key)
		if err != nil {
			continue
		}
		part := rules.NewModel()
		var udp []rules.UDPPort
		if svc, err := p.services.Services(ns).Get(name); err == nil {
			objs, err := p.slices.ByIndex(sliceServiceIndex, key)
			if err != nil {
				return plans, err
			}
			sl := make([]*discoveryv1.EndpointSlice, 0, len(objs))
			for _, o := range objs {
				if s, ok := o.(*discoveryv1.EndpointSlice); ok {
					sl = append(sl, s)
				}
			}
			part = rules.Service(svc, sl, p.node)
			udp = rules.UDPPorts(svc, sl)
		}
		p.stale = append(p.stale, rules.StaleUDP(p.udp[key], udp)...)
		if len(udp) > 0 {
			p.udp[key] = udp
		} else {
			delete(p.udp, key)
		}
		old, ok := p.parts[key]
		if !ok {
			old = rules.NewModel()
		}
		if before != nil {
			p.asm.Swap(old, part)
		} else if plan := p.asm.Replace(old, part); !plan.Empty() {
			plans = append(plans, plan)
		}
		if len(part.Chains) == 0 && len(part.Sets) == 0 {
			delete(p.parts, key)
		} else {
			p.parts[key] = part
		}
	}
	if before != nil {
		return []rules.Plan{rules.Diff(*before, p.asm.Model())}, nil
	}
	return plans, nil
}

// bulkChanges is the number of changed Services above which a sync diffs
// the whole table instead of planning each change.
const bulkChanges = 256

// sysctl sets /proc/sys/net/<key> to 1 in the proxy's network namespace.
// The proxy sets two, as kube-proxy needs them too:
// ipv4/conf/all/route_localnet (else the kernel drops packets to 127.0.0.1
// that NodePort rules DNAT elsewhere) and bridge/bridge-nf-call-iptables
// (see Run).
func (p *Proxy) sysctl(key string) error {
	path := "/proc/sys/net/" + key
	write := func() error { return os.WriteFile(path, []byte("1"), 0o644) }
	if p.cfg.NetNSFd == 0 {
		return write()
	}
	errc := make(chan error, 1)
	go func() {
		// The thread is left locked, so it exits with the goroutine and
		// never runs anything else inside the namespace.
		runtime.LockOSThread()
		if err := unix.Setns(p.cfg.NetNSFd, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- write()
	}()
	return <-errc
}

const sliceServiceIndex = "berth-proxy-service"

// SliceIndexers index EndpointSlices by namespace/service-name (their
// kubernetes.io/service-name label), so that a sync finds one Service's
// slices without scanning all of them.
func SliceIndexers() cache.Indexers {
	return cache.Indexers{sliceServiceIndex: func(obj any) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
			return nil, nil
		}
		return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
	}}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
