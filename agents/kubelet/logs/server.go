package logs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// APIServerClientUser is the user (certificate common name) the API
// server presents when it calls an agent; store/server issues its client
// certificate under the same name.
const APIServerClientUser = "berth:apiserver-kubelet-client"

// PathPrefix is where the Server answers:
// /containerLogs/{namespace}/{pod}/{container}, with the query parameters
// of PodLogOptions (follow, tailLines, previous, timestamps, sinceSeconds,
// sinceTime, limitBytes, stream), as the kubelet.
const PathPrefix = "/containerLogs/"

// Container is what the Server needs to know about a container of a pod
// the agent runs.
type Container struct {
	// PodUID is the UID of the pod, which names its log directory.
	PodUID types.UID
	// RestartCount is how many times the container restarted: its current
	// log is ContainerFile(name, RestartCount).
	RestartCount int
	// Running says whether the current run is still going; following its
	// log ends when it stops.
	Running bool
}

// ErrNotFound is what a LookupFunc returns (wrapped or not) when the agent
// runs no such pod or container.
var ErrNotFound = errors.New("not found")

// LookupFunc finds a container of a pod the agent runs.
type LookupFunc func(namespace, pod, container string) (Container, error)

// Config configures a Server.
type Config struct {
	// Root is the directory of the pod log directories (see PodDir).
	Root string
	// ClientCA verifies the callers' client certificates: the cluster CA.
	ClientCA *x509.CertPool
	// Users are the common names allowed to read logs; empty means
	// APIServerClientUser only.
	Users []string
	// Lookup finds containers; it is called again while following a log.
	Lookup LookupFunc
	// Log receives errors; nil uses slog.Default.
	Log *slog.Logger
}

// Server serves container logs over HTTPS to the API server.
type Server struct {
	cfg Config
	now func() time.Time
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) (*Server, error) {
	switch {
	case cfg.Root == "":
		return nil, errors.New("container logs server: Root is empty")
	case cfg.ClientCA == nil:
		return nil, errors.New("container logs server: ClientCA is nil; callers could not be authenticated")
	case cfg.Lookup == nil:
		return nil, errors.New("container logs server: Lookup is nil")
	}
	if len(cfg.Users) == 0 {
		cfg.Users = []string{APIServerClientUser}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Server{cfg: cfg, now: time.Now}, nil
}

// TLSConfig is a listener configuration for the agent: it presents the
// serving certificate and asks callers for client certificates signed by
// clientCA (requests without one reach handlers unauthenticated, so that
// health checks can answer; the Server refuses them).
func TLSConfig(serving tls.Certificate, clientCA *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{serving},
		ClientCAs:    clientCA,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
}

// Serve answers on l with TLS config tlsConfig (see TLSConfig) until ctx
// ends. It serves the Server at PathPrefix and extra handlers by pattern.
func (s *Server) Serve(ctx context.Context, l net.Listener, tlsConfig *tls.Config, extra map[string]http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, s)
	for pattern, h := range extra {
		mux.Handle(pattern, h)
	}
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelDebug),
	}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ServeHTTP answers GET /containerLogs/{namespace}/{pod}/{container}.
// Errors are plain text with kubelet's status codes: 401 without a valid
// client certificate, 403 for another user, 400 for bad options or a
// missing previous run, 404 for an unknown pod or container.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if user, err := s.authenticate(r); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	} else if !slices.Contains(s.cfg.Users, user) {
		http.Error(w, fmt.Sprintf("user %q may not read container logs (allowed: %s)", user, strings.Join(s.cfg.Users, ", ")), http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "only GET is allowed", http.StatusMethodNotAllowed)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, PathPrefix), "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		http.Error(w, "want "+PathPrefix+"{namespace}/{pod}/{container}", http.StatusBadRequest)
		return
	}
	ns, pod, name := parts[0], parts[1], parts[2]
	if bad := append(append(validation.IsDNS1123Label(ns), validation.IsDNS1123Subdomain(pod)...), validation.IsDNS1123Label(name)...); len(bad) > 0 {
		http.Error(w, fmt.Sprintf("%s%s/%s/%s: %s", PathPrefix, ns, pod, name, strings.Join(bad, "; ")), http.StatusBadRequest)
		return
	}
	apiOpts, errs := ParseOptions(r.URL.Query())
	if len(errs) > 0 {
		http.Error(w, "log options: "+errs.ToAggregate().Error(), http.StatusBadRequest)
		return
	}
	c, err := s.cfg.Lookup(ns, pod, name)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrNotFound) {
			code = http.StatusNotFound
		}
		http.Error(w, fmt.Sprintf("container %q in pod %s/%s: %v", name, ns, pod, err), code)
		return
	}
	run := c.RestartCount
	if apiOpts.Previous {
		if run == 0 {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", name, pod), http.StatusBadRequest)
			return
		}
		run--
	}
	path := filepath.Join(PodDir(s.cfg.Root, ns, pod, c.PodUID), ContainerFile(name, run))
	next := filepath.Join(PodDir(s.cfg.Root, ns, pod, c.PodUID), ContainerFile(name, run+1))
	alive := func() bool {
		if apiOpts.Previous {
			return false
		}
		if _, err := os.Stat(next); err == nil {
			return false // restarted, even if the lookup has not seen it yet
		}
		now, err := s.cfg.Lookup(ns, pod, name)
		return err == nil && now.Running && now.PodUID == c.PodUID && now.RestartCount == c.RestartCount
	}
	opts := OptionsFrom(apiOpts, s.now())
	if _, err := os.Stat(path); err != nil {
		http.Error(w, fmt.Sprintf("log of container %q in pod %s/%s (run %d): %v", name, ns, pod, run, err), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := Read(r.Context(), path, opts, w, alive); err != nil && r.Context().Err() == nil {
		s.cfg.Log.Error("serving a container log", "pod", ns+"/"+pod, "container", name, "err", err)
	}
}

// authenticate returns the common name of the caller's client
// certificate, verified against the cluster CA for client use.
func (s *Server) authenticate(r *http.Request) (string, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return "", errors.New("a client certificate signed by the cluster CA is required")
	}
	certs := r.TLS.PeerCertificates
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: s.cfg.ClientCA, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return "", fmt.Errorf("client certificate %q: %w", certs[0].Subject.CommonName, err)
	}
	return certs[0].Subject.CommonName, nil
}
