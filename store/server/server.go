// Package server wires the API server together: etcd (embedded or
// external), the PKI, authentication, RBAC from policy files, admission,
// the REST API and the HTTPS listener.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/store/admission"
	"github.com/berth-io/berth/store/allocator"
	"github.com/berth-io/berth/store/apiserver"
	"github.com/berth-io/berth/store/kinds"
	"github.com/berth-io/berth/store/pki"
	"github.com/berth-io/berth/store/registry"
	"github.com/berth-io/berth/store/storage"
	"github.com/berth-io/berth/store/watchcache"
)

// Options configure `berth server`.
type Options struct {
	DataDir     string
	BindAddress string
	SecurePort  int
	Etcd        EtcdOptions
	// PolicyDirs add RBAC policy files to the bootstrap set.
	PolicyDirs []string
	// TokenAuthFile is a kube-apiserver static token CSV file.
	TokenAuthFile string
	// ServiceCIDR is the ClusterIP range; NodePortRange "min-max".
	ServiceCIDR   string
	NodePortRange string
	MaxInFlight   int
	// CompactInterval is how often etcd history is compacted.
	CompactInterval time.Duration
	// PublicPaths are extra handlers served without authentication, for
	// requests that prove themselves otherwise (signed git webhooks).
	PublicPaths map[string]http.Handler
	Log         *slog.Logger
}

// Defaults fills in unset options.
func (o *Options) Defaults() {
	if o.BindAddress == "" {
		o.BindAddress = "127.0.0.1"
	}
	if o.ServiceCIDR == "" {
		o.ServiceCIDR = "10.96.0.0/16"
	}
	if o.NodePortRange == "" {
		o.NodePortRange = "30000-32767"
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = 1000
	}
	if o.CompactInterval == 0 {
		o.CompactInterval = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// Server is a running API server.
type Server struct {
	opts     Options
	URL      string // https://host:port
	PKI      *pki.PKI
	Etcd     *clientv3.Client
	Store    *storage.Store
	Registry *registry.Registry
	// Policies are the RBAC policy files in force.
	Policies *policies.Store

	httpServer *http.Server
	listener   net.Listener
	stop       func()
	done       chan struct{}
}

// DataDir is the server's data directory.
func (s *Server) DataDir() string { return s.opts.DataDir }

// Kubeconfig is the path of the admin kubeconfig in the data dir.
func (s *Server) Kubeconfig() string { return filepath.Join(s.opts.DataDir, "admin.kubeconfig") }

// Start brings the API server up and returns once it is ready to serve.
// It runs until ctx ends or Stop is called.
func Start(ctx context.Context, opts Options) (*Server, error) {
	opts.Defaults()
	if opts.DataDir == "" {
		return nil, errors.New("a data directory is required (--data-dir)")
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Server{opts: opts, done: make(chan struct{})}
	var cleanups []func()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
		})
	}
	fail := func(err error) (*Server, error) {
		s.stop()
		close(s.done)
		return nil, err
	}

	endpoints := opts.Etcd.Endpoints
	if len(endpoints) == 0 {
		e, err := startEmbeddedEtcd(etcdDir(opts.DataDir), opts.Etcd)
		if err != nil {
			return fail(err)
		}
		cleanups = append(cleanups, e.Close)
		endpoints = []string{"http://" + e.Clients[0].Addr().String()}
	}
	client, err := newEtcdClient(endpoints, opts.Etcd)
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { _ = client.Close() })
	s.Etcd = client

	listener, err := net.Listen("tcp", net.JoinHostPort(opts.BindAddress, strconv.Itoa(opts.SecurePort)))
	if err != nil {
		return fail(fmt.Errorf("listening on %s:%d: %w", opts.BindAddress, opts.SecurePort, err))
	}
	s.listener = listener
	host := opts.BindAddress
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	s.URL = "https://" + net.JoinHostPort(host, strconv.Itoa(listener.Addr().(*net.TCPAddr).Port))

	p, err := pki.Ensure(filepath.Join(opts.DataDir, "tls"), []string{opts.BindAddress})
	if err != nil {
		return fail(err)
	}
	s.PKI = p
	if err := pki.WriteKubeconfig(s.Kubeconfig(), s.URL, p.CAPEM, p.AdminCertPEM, p.AdminKeyPEM, pki.AdminUser); err != nil {
		return fail(err)
	}

	reg := registry.New(kinds.NewScheme())
	if err := kinds.Register(reg); err != nil {
		return fail(err)
	}
	s.Registry = reg
	s.Store = storage.New(client, storage.NewCodec(reg.Scheme()))
	watchClient, err := newEtcdClient(endpoints, opts.Etcd)
	if err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() { _ = watchClient.Close() })
	cacher := watchcache.NewCacher(s.Store, watchClient, opts.Log)
	caches := apiserver.RegisterCaches(reg, cacher)
	if err := cacher.Start(ctx); err != nil {
		return fail(err)
	}
	if err := s.bootstrapNamespaces(ctx); err != nil {
		return fail(err)
	}
	go s.Store.RunCompactor(ctx, opts.CompactInterval, opts.Log)

	metricsRegistry := prometheus.NewRegistry()
	metricsRegistry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metricsRegistry.MustRegister(s.Store.Collectors()...)

	cfg, err := s.apiConfig(ctx, reg, cacher, caches, metricsRegistry)
	if err != nil {
		return fail(err)
	}
	auditFile, err := os.OpenFile(filepath.Join(opts.DataDir, "audit.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fail(err)
	}
	auditStop := make(chan struct{})
	cfg.Audit = apiserver.NewAuditLog(auditFile, auditStop)
	cleanups = append(cleanups, func() { close(auditStop); cfg.Audit.Flush(); _ = auditFile.Close() })

	api, err := apiserver.New(cfg, caches)
	if err != nil {
		return fail(err)
	}
	s.httpServer = &http.Server{
		Handler:           api,
		TLSConfig:         p.ServerTLSConfig(),
		ReadHeaderTimeout: 30 * time.Second,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 2000},
		ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(s.done)
		if err := s.httpServer.ServeTLS(listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			opts.Log.Error("API server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		s.shutdown()
	}()
	opts.Log.Info("berth API server ready", "url", s.URL, "kubeconfig", s.Kubeconfig(), "etcd", endpoints)
	return s, nil
}

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	s.shutdown()
	<-s.done
}

// Done is closed when the server has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) shutdown() {
	if s.httpServer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.httpServer.Shutdown(ctx)
		cancel()
	}
	s.stop()
}

// bootstrapNamespaces creates the namespaces every cluster has.
func (s *Server) bootstrapNamespaces(ctx context.Context) error {
	kind, _ := s.Registry.Lookup(corev1.SchemeGroupVersion.WithResource("namespaces"))
	for _, name := range []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease} {
		ns := &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: newUID(), CreationTimestamp: metav1.Now(), Labels: map[string]string{corev1.LabelMetadataName: name}},
			Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
			Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
		}
		if err := s.Store.Create(ctx, kind.Key("", name), ns); err != nil && !errors.Is(err, storage.ErrExists) {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
	}
	return nil
}

// lookup reads an object from its watch cache, or from etcd when the cache
// has not seen it yet.
func lookup(reg *registry.Registry, store *storage.Store, caches map[*registry.Kind]*watchcache.Resource) admission.Lookup {
	return func(ctx context.Context, gvr schema.GroupVersionResource, namespace, name string) (runtime.Object, error) {
		kind, ok := reg.Lookup(gvr)
		if !ok {
			return nil, fmt.Errorf("no kind serves %s", gvr)
		}
		key := kind.Key(namespace, name)
		if obj, ok := caches[kind].Get(key); ok {
			return obj, nil
		}
		obj, err := store.Get(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, apierrors.NewNotFound(kind.GroupResource(), name)
		}
		return obj, err
	}
}

func newAllocators(client *clientv3.Client, opts Options) (*allocator.IPAllocator, *allocator.PortAllocator, error) {
	_, cidr, err := net.ParseCIDR(opts.ServiceCIDR)
	if err != nil {
		return nil, nil, fmt.Errorf("--service-cluster-ip-range %q: %w", opts.ServiceCIDR, err)
	}
	ips, err := allocator.NewIPAllocator(client, "/registry/ranges/serviceips/", cidr)
	if err != nil {
		return nil, nil, err
	}
	var lo, hi int
	if _, err := fmt.Sscanf(opts.NodePortRange, "%d-%d", &lo, &hi); err != nil {
		return nil, nil, fmt.Errorf("--service-node-port-range %q: want MIN-MAX", opts.NodePortRange)
	}
	ports, err := allocator.NewPortAllocator(client, "/registry/ranges/servicenodeports/", lo, hi)
	if err != nil {
		return nil, nil, err
	}
	return ips, ports, nil
}

func handlerFunc(f func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(f)
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}

// Component identities, each with the bootstrap RBAC role of the same name.
const (
	SchedulerUser         = "system:kube-scheduler"
	ControllerManagerUser = "system:kube-controller-manager"
	ProxyUser             = "system:kube-proxy"
	GitSyncUser           = "berth:gitsync"
	NodesGroup            = "system:nodes"
)

// WriteComponentKubeconfig issues a client certificate for user (in
// groups) and writes a kubeconfig for it at path: how a component gets its
// own identity instead of admin.
func (s *Server) WriteComponentKubeconfig(path, user string, groups []string) error {
	certPEM, keyPEM, err := s.PKI.IssueClientCert(user, groups, 365*24*time.Hour)
	if err != nil {
		return err
	}
	return pki.WriteKubeconfig(path, s.URL, s.PKI.CAPEM, certPEM, keyPEM, user)
}
