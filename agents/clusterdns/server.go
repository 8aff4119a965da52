// Package clusterdns is berth's cluster DNS: it answers the names of
// Services and pods in the cluster domain from informer caches and forwards
// every other name to the host's resolvers.
//
// Every agent runs one on its node address, so pods with dnsPolicy
// ClusterFirst ask their own node (as NodeLocal DNSCache arranges upstream)
// and name resolution needs neither a Service nor the proxy.
package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Config configures a Server.
type Config struct {
	// Addr is the host:port to serve UDP and TCP on, e.g. "10.0.0.5:53".
	Addr string
	// Domain is the cluster domain (default "cluster.local").
	Domain string
	// Upstreams are the resolvers (host:port) for names outside the cluster
	// domain (default: the nameservers of /etc/resolv.conf).
	Upstreams []string
	// TTL of cluster answers in seconds (default 5).
	TTL uint32
	// Log receives errors; nil discards them.
	Log *slog.Logger
}

// Server answers DNS questions for one cluster.
type Server struct {
	cfg      Config
	services corelisters.ServiceLister
	slices   cache.Indexer
	synced   []cache.InformerSynced
	client   *dns.Client
	servers  []*dns.Server
}

// byService indexes EndpointSlices by "<namespace>/<service>".
const byService = "service"

// New returns a Server reading Services and EndpointSlices from factory.
// Start the factory before Run.
func New(factory informers.SharedInformerFactory, cfg Config) (*Server, error) {
	if cfg.Domain == "" {
		cfg.Domain = "cluster.local"
	}
	if cfg.TTL == 0 {
		cfg.TTL = 5
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Upstreams) == 0 {
		conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return nil, fmt.Errorf("cluster DNS: no --upstream given and /etc/resolv.conf is unreadable: %w", err)
		}
		for _, s := range conf.Servers {
			cfg.Upstreams = append(cfg.Upstreams, net.JoinHostPort(s, conf.Port))
		}
	}
	services := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices().Informer()
	if err := slices.AddIndexers(cache.Indexers{byService: sliceService}); err != nil {
		return nil, err
	}
	return &Server{
		cfg:      cfg,
		services: services.Lister(),
		slices:   slices.GetIndexer(),
		synced:   []cache.InformerSynced{services.Informer().HasSynced, slices.HasSynced},
		client:   &dns.Client{Timeout: 2 * time.Second},
	}, nil
}

// Run serves on UDP and TCP until ctx ends. It returns an error at once if
// the address cannot be bound (something else owns port 53 there).
func (s *Server) Run(ctx context.Context) error {
	if _, err := s.Listen(); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Listen binds Config.Addr on UDP and TCP (port 0: the same free port for
// both) and returns the address bound.
func (s *Server) Listen() (net.Addr, error) {
	pc, err := net.ListenPacket("udp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("cluster DNS: %w (is another DNS server bound to that address?)", err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("cluster DNS: %w (is another DNS server bound to that address?)", err)
	}
	s.servers = []*dns.Server{{PacketConn: pc, Handler: s}, {Listener: ln, Handler: s}}
	return pc.LocalAddr(), nil
}

// Serve answers queries on what Listen bound until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		s.servers[0].PacketConn.Close()
		s.servers[1].Listener.Close()
		return ctx.Err()
	}
	defer func() {
		for _, srv := range s.servers {
			_ = srv.Shutdown()
		}
	}()
	errs := make(chan error, len(s.servers))
	var started sync.WaitGroup
	for _, srv := range s.servers {
		started.Add(1)
		srv.NotifyStartedFunc = started.Done
		go func() { errs <- srv.ActivateAndServe() }()
	}
	started.Wait() // Shutdown before a server started would not stop it
	s.cfg.Log.Info("cluster DNS serving", "addr", s.servers[0].PacketConn.LocalAddr(), "domain", s.cfg.Domain, "upstreams", s.cfg.Upstreams)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return fmt.Errorf("cluster DNS: %w", err)
	}
}

// ServeDNS answers one query: cluster names from the caches, the rest
// through the upstream resolvers.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := s.answer(req, w.RemoteAddr().Network())
	_ = w.WriteMsg(resp)
}

func (s *Server) answer(req *dns.Msg, network string) *dns.Msg {
	resp := new(dns.Msg)
	if len(req.Question) != 1 {
		return resp.SetRcode(req, dns.RcodeFormatError)
	}
	r := Resolve(req.Question[0], s.cfg.Domain, s, s.cfg.TTL)
	if r.Forward {
		return s.forward(req, network)
	}
	resp.SetRcode(req, r.Rcode)
	resp.Authoritative = true
	resp.RecursionAvailable = true
	resp.Answer, resp.Extra = r.Answer, r.Extra
	if r.Rcode == dns.RcodeNameError || len(r.Answer) == 0 {
		resp.Ns = []dns.RR{s.soa()}
	}
	return resp
}

// forward asks each upstream in turn and relays the first answer.
func (s *Server) forward(req *dns.Msg, network string) *dns.Msg {
	client := *s.client
	client.Net = network
	var lastErr error
	for _, upstream := range s.cfg.Upstreams {
		resp, _, err := client.Exchange(req, upstream)
		if err == nil {
			return resp
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("no upstream resolvers configured")
	}
	s.cfg.Log.Warn("cluster DNS: forwarding failed", "name", req.Question[0].Name, "err", lastErr)
	return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
}

// soa is the authority record of negative answers; its minimum TTL tells
// resolvers how long to cache a name that does not exist.
func (s *Server) soa() dns.RR {
	zone := dns.Fqdn(s.cfg.Domain)
	return &dns.SOA{
		Hdr: header(zone, dns.TypeSOA, s.cfg.TTL), Ns: "ns.dns." + zone, Mbox: "hostmaster." + zone,
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: s.cfg.TTL,
	}
}

// Service implements View from the informer cache.
func (s *Server) Service(namespace, name string) *corev1.Service {
	svc, err := s.services.Services(namespace).Get(name)
	if err != nil {
		return nil
	}
	return svc
}

// Endpoints implements View: the ready addresses of a Service's slices.
func (s *Server) Endpoints(namespace, service string) []Endpoint {
	objs, _ := s.slices.ByIndex(byService, namespace+"/"+service)
	var out []Endpoint
	for _, o := range objs {
		for _, ep := range o.(*discoveryv1.EndpointSlice).Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			hostname := ""
			if ep.Hostname != nil {
				hostname = *ep.Hostname
			}
			for _, ip := range ep.Addresses {
				out = append(out, Endpoint{IP: ip, Hostname: hostname})
			}
		}
	}
	return out
}

func sliceService(obj any) ([]string, error) {
	slice := obj.(*discoveryv1.EndpointSlice)
	name := slice.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{slice.Namespace + "/" + name}, nil
}
