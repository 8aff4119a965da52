// Package routes gives pods on different nodes a path to each other: every
// agent routes each other node's pod CIDR through that node's InternalIP,
// as flannel's host-gw backend does. The nodes must share a link (one L2
// segment); the kernel refuses a gateway it cannot reach and the error says
// which node.
package routes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Protocol marks the routes berth installs (rtm_protocol), so that it finds
// and removes its own routes and never touches anyone else's.
const Protocol netlink.RouteProtocol = 186

// Config configures a Controller.
type Config struct {
	// NodeName is this node; its own pod CIDR is the CNI bridge's business.
	NodeName string
	// Netlink is the handle to program (nil: this process's network namespace).
	Netlink *netlink.Handle
	// Resync repairs routes changed behind the controller's back (default 1m).
	Resync time.Duration
	// Log receives progress and errors; nil discards them.
	Log *slog.Logger
}

// Controller keeps the routes to other nodes' pod CIDRs in step with the
// Node objects.
type Controller struct {
	cfg    Config
	nodes  corelisters.NodeLister
	synced cache.InformerSynced
	kick   chan struct{}
}

// New returns a Controller reading Nodes from factory. Start the factory
// before Run.
func New(factory informers.SharedInformerFactory, cfg Config) (*Controller, error) {
	if cfg.Netlink == nil {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, fmt.Errorf("routes: netlink: %w", err)
		}
		cfg.Netlink = h
	}
	if cfg.Resync == 0 {
		cfg.Resync = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	informer := factory.Core().V1().Nodes()
	c := &Controller{cfg: cfg, nodes: informer.Lister(), synced: informer.Informer().HasSynced, kick: make(chan struct{}, 1)}
	_, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.wake() },
		UpdateFunc: func(any, any) { c.wake() },
		DeleteFunc: func(any) { c.wake() },
	})
	return c, err
}

// Run syncs on every Node change (bursts coalesce) and every Resync, until
// ctx ends. Routes stay in place when it returns: pods keep talking while
// the agent restarts. Cleanup removes them.
func (c *Controller) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return ctx.Err()
	}
	tick := time.NewTicker(c.cfg.Resync)
	defer tick.Stop()
	for {
		if err := c.Sync(); err != nil {
			c.cfg.Log.Warn("pod routes not in sync; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.kick:
		case <-tick.C:
		}
	}
}

// Sync makes the kernel's routes match the Nodes once. It applies every
// change it can and returns the errors of the rest.
func (c *Controller) Sync() error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	have, err := c.installed()
	if err != nil {
		return err
	}
	add, del := Diff(Want(c.cfg.NodeName, nodes), have)
	var errs []error
	for _, r := range del {
		if err := c.cfg.Netlink.RouteDel(c.netlinkRoute(r)); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("removing route %s: %w", r, err))
			continue
		}
		c.cfg.Log.Info("removed pod route", "route", r.String())
	}
	for _, r := range add {
		if err := c.cfg.Netlink.RouteReplace(c.netlinkRoute(r)); err != nil {
			errs = append(errs, fmt.Errorf("adding route %s (is that node on a link this node shares?): %w", r, err))
			continue
		}
		c.cfg.Log.Info("added pod route", "route", r.String())
	}
	return errors.Join(errs...)
}

// Cleanup removes every route berth installed (berth agent --cleanup).
func Cleanup(h *netlink.Handle) error {
	if h == nil {
		var err error
		if h, err = netlink.NewHandle(); err != nil {
			return err
		}
	}
	c := &Controller{cfg: Config{Netlink: h}}
	have, err := c.installed()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range have {
		if err := h.RouteDel(c.netlinkRoute(r)); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("removing route %s: %w", r, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Controller) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// installed lists the routes carrying berth's protocol mark.
func (c *Controller) installed() ([]Route, error) {
	list, err := c.cfg.Netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: Protocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return nil, fmt.Errorf("listing routes: %w", err)
	}
	var have []Route
	for _, r := range list {
		if r.Dst == nil || r.Gw == nil {
			continue
		}
		dst, _ := netip.AddrFromSlice(r.Dst.IP.To4())
		ones, _ := r.Dst.Mask.Size()
		via, _ := netip.AddrFromSlice(r.Gw.To4())
		have = append(have, Route{Dst: netip.PrefixFrom(dst, ones), Via: via})
	}
	sortRoutes(have)
	return have, nil
}

func (c *Controller) netlinkRoute(r Route) *netlink.Route {
	return &netlink.Route{
		Dst:      &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), 32)},
		Gw:       r.Via.AsSlice(),
		Protocol: Protocol,
	}
}
