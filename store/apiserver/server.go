// Package apiserver serves the Kubernetes REST API over the objects in
// store/storage: discovery, the verbs, watch, patches and server-side apply,
// content negotiation (JSON, YAML, protobuf, Table), authentication and
// authorization hooks, limits, metrics and an audit log.
package apiserver

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/berth-io/berth/store/authn"
	"github.com/berth-io/berth/store/registry"
	"github.com/berth-io/berth/store/storage"
	"github.com/berth-io/berth/store/watchcache"
)

// DefaultMaxBodyBytes is the largest request body accepted (kube's 3 MiB).
const DefaultMaxBodyBytes = 3 << 20

// Authorizer decides whether user may make the request info describes.
type Authorizer interface {
	Authorize(user *authn.User, info RequestInfo) (allowed bool, reason string)
}

// Strategy holds the per-kind rules the API applies on writes; one source
// of truth shared with `berth validate`.
type Strategy struct {
	// Default fills in defaults in place.
	Default func(obj runtime.Object)
	// Validate checks a new object.
	Validate func(obj runtime.Object) field.ErrorList
	// ValidateUpdate checks a change, immutable fields included.
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
}

// VirtualFunc answers a create of a kind that is never stored (reviews).
type VirtualFunc func(ctx context.Context, user *authn.User, obj runtime.Object) (runtime.Object, error)

// Config is what a Server needs.
type Config struct {
	Registry *registry.Registry
	Store    *storage.Store
	Cache    *watchcache.Cacher
	Strategy Strategy
	// Authenticator finds the user; nil treats every request as anonymous.
	Authenticator authn.Authenticator
	// Authorizer checks every request; nil allows everything.
	Authorizer Authorizer
	// Impersonate applies Impersonate-* headers, returning API status
	// errors (403 when not allowed); nil rejects them.
	Impersonate func(r *http.Request, requester *authn.User) (*authn.User, error)
	// Admission runs after defaulting and before validation.
	Admission Admission
	// Virtual answers creates of virtual kinds, by resource.
	Virtual map[schema.GroupVersionResource]VirtualFunc
	// Tokens answers TokenRequests for a ServiceAccount.
	Tokens func(ctx context.Context, sa *corev1.ServiceAccount, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)
	// Connect serves subresources that are not objects (pods/log), by
	// "resource/subresource".
	Connect map[string]http.Handler
	// ReadOnly serves the objects of read-only kinds (RBAC from files).
	ReadOnly func(kind *registry.Kind) []runtime.Object
	// Paths serves non-resource paths by prefix (/openapi/, /metrics).
	Paths map[string]http.Handler
	// PublicPaths answer without credentials (health, version).
	PublicPaths map[string]http.Handler

	MaxBodyBytes int64
	MaxInFlight  int
	Metrics      prometheus.Registerer
	Audit        *AuditLog
	Log          *slog.Logger
}

// Server is the API's http.Handler.
type Server struct {
	cfg       Config
	scheme    *runtime.Scheme
	codecs    serializer.CodecFactory
	resources map[*registry.Kind]*watchcache.Resource
	managers  *fieldManagers
	inflight  chan struct{}
	metrics   *metrics
	discovery *discovery
	decoders  decoders
}

// New builds a Server. Every stored kind must have been registered with
// cfg.Cache (see RegisterCaches) before the cache was started.
func New(cfg Config, caches map[*registry.Kind]*watchcache.Resource) (*Server, error) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	scheme := cfg.Registry.Scheme()
	s := &Server{
		cfg:       cfg,
		scheme:    scheme,
		codecs:    serializer.NewCodecFactory(scheme),
		resources: caches,
		metrics:   newMetrics(cfg.Metrics),
	}
	if cfg.MaxInFlight > 0 {
		s.inflight = make(chan struct{}, cfg.MaxInFlight)
	}
	managers, err := newFieldManagers(cfg.Registry, cfg.Strategy.Default)
	if err != nil {
		return nil, err
	}
	s.managers = managers
	s.discovery = newDiscovery(cfg.Registry, s.codecs)
	s.decoders = newDecoders(scheme)
	return s, nil
}

// RegisterCaches registers a watch cache for every stored kind.
func RegisterCaches(reg *registry.Registry, cacher *watchcache.Cacher) map[*registry.Kind]*watchcache.Resource {
	out := map[*registry.Kind]*watchcache.Resource{}
	for _, k := range reg.Kinds() {
		if k.Virtual || k.ReadOnly {
			continue
		}
		out[k] = cacher.Register(k.KeyPrefix(), attrsFor(k))
	}
	return out
}

// ServeHTTP runs the filters (limits, authentication, authorization,
// metrics, audit) and then the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, code: http.StatusOK}
	info := ParseRequestInfo(r)
	var user *authn.User
	defer func() {
		s.metrics.observe(info, rec.code, time.Since(start))
		if s.cfg.Audit != nil {
			s.cfg.Audit.Record(user, info, rec.code, time.Since(start))
		}
	}()

	if h, ok := s.cfg.PublicPaths[r.URL.Path]; ok {
		h.ServeHTTP(rec, r)
		return
	}
	longRunning := info.Verb == "watch" || info.Subresource == "log"
	if s.inflight != nil && !longRunning {
		select {
		case s.inflight <- struct{}{}:
			defer func() { <-s.inflight }()
		default:
			s.writeStatus(rec, output{}, apierrors.NewTooManyRequests("too many requests in flight, please try again later", 1), schema.GroupResource{}, "")
			return
		}
	}
	var err error
	if user, err = s.authenticate(r); err != nil {
		s.writeStatus(rec, output{}, apierrors.NewUnauthorized(err.Error()), schema.GroupResource{}, "")
		return
	}
	if hasImpersonation(r) {
		if user, err = s.impersonate(r, user); err != nil {
			s.writeStatus(rec, output{}, err, schema.GroupResource{}, "")
			return
		}
	}
	if s.cfg.Authorizer != nil {
		if allowed, reason := s.cfg.Authorizer.Authorize(user, info); !allowed {
			s.writeStatus(rec, output{}, forbidden(user, info, reason), schema.GroupResource{Group: info.APIGroup, Resource: info.Resource}, info.Name)
			return
		}
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.writeStatus(rec, output{}, apierrors.NewRequestEntityTooLargeError("limit is 3145728"), schema.GroupResource{}, "")
		return
	}
	r.Body = http.MaxBytesReader(rec, r.Body, s.cfg.MaxBodyBytes)
	ctx := withUser(r.Context(), user)
	r = r.WithContext(ctx)
	if info.IsResource {
		s.serveResource(rec, r, info, user)
		return
	}
	s.servePath(rec, r)
}

func (s *Server) authenticate(r *http.Request) (*authn.User, error) {
	user := authn.Anonymous()
	if s.cfg.Authenticator != nil {
		u, ok, err := s.cfg.Authenticator.Authenticate(r)
		if err != nil {
			return nil, err
		}
		if ok {
			user = u
		}
	}
	return user, nil
}

// impersonate applies the Impersonate-* headers; errors are API statuses.
func (s *Server) impersonate(r *http.Request, requester *authn.User) (*authn.User, error) {
	if s.cfg.Impersonate == nil {
		return nil, apierrors.NewForbidden(schema.GroupResource{Resource: "users"}, "", errImpersonationOff)
	}
	return s.cfg.Impersonate(r, requester)
}

func hasImpersonation(r *http.Request) bool {
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "impersonate-") {
			return true
		}
	}
	return false
}

func (s *Server) servePath(w http.ResponseWriter, r *http.Request) {
	if s.discovery.serve(w, r) {
		return
	}
	for prefix, h := range s.cfg.Paths {
		if r.URL.Path == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(r.URL.Path, prefix) {
			h.ServeHTTP(w, r)
			return
		}
	}
	s.writeStatus(w, output{}, apierrors.NewGenericServerResponse(http.StatusNotFound, "get", schema.GroupResource{}, "", "the server could not find the requested resource", 0, false), schema.GroupResource{}, "")
}

// recorder remembers the status code for metrics and the audit log.
type recorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.written {
		r.code, r.written = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type userKey struct{}

func withUser(ctx context.Context, u *authn.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the authenticated user of a request's context.
func UserFrom(ctx context.Context) *authn.User {
	u, _ := ctx.Value(userKey{}).(*authn.User)
	return u
}
