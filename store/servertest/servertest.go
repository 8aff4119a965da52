// Package servertest starts a real berth API server (embedded etcd on free
// ports, HTTPS, RBAC) for the tests of other packages, and builds clients
// for it as admin or as a component identity.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-io/berth/store/server"
)

// Server is a running API server and an admin client.
type Server struct {
	*server.Server
	// Admin is a system:masters client; AdminConfig its rest.Config.
	Admin       kubernetes.Interface
	AdminConfig *rest.Config
	t           testing.TB
}

// Start runs a server in a temporary data dir until the test ends. modify,
// if given, may change the options first.
func Start(t testing.TB, modify ...func(*server.Options)) *Server {
	t.Helper()
	opts := server.Options{
		DataDir:         t.TempDir(),
		Etcd:            server.EtcdOptions{ClientPort: 0, PeerPort: 0},
		CompactInterval: time.Hour,
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, m := range modify {
		m(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("starting the API server: %v", err)
	}
	t.Cleanup(func() { cancel(); s.Stop() })
	ts := &Server{Server: s, t: t}
	ts.AdminConfig = ts.configFrom(s.Kubeconfig())
	ts.Admin = kubernetes.NewForConfigOrDie(ts.AdminConfig)
	return ts
}

// ConfigAs returns a rest.Config authenticating as user in groups with a
// client certificate (e.g. server.SchedulerUser), subject to RBAC.
func (s *Server) ConfigAs(user string, groups ...string) *rest.Config {
	s.t.Helper()
	path := filepath.Join(s.t.TempDir(), strings.NewReplacer(":", "-", "/", "-").Replace(user)+".kubeconfig")
	if err := s.WriteComponentKubeconfig(path, user, groups); err != nil {
		s.t.Fatalf("kubeconfig for %s: %v", user, err)
	}
	return s.configFrom(path)
}

// ClientAs is a clientset for ConfigAs(user, groups...).
func (s *Server) ClientAs(user string, groups ...string) kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(s.ConfigAs(user, groups...))
}

func (s *Server) configFrom(path string) *rest.Config {
	s.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		s.t.Fatalf("reading %s: %v", path, err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	return cfg
}

// Namespace creates a namespace and its default ServiceAccount (which
// pods need until the ServiceAccount controller runs), ignoring existing ones.
func (s *Server) Namespace(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		s.t.Fatalf("namespace %s: %v", name, err)
	}
	if _, err := s.Admin.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		s.t.Fatalf("default ServiceAccount in %s: %v", name, err)
	}
}
