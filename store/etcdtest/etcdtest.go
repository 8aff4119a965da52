// Package etcdtest starts real embedded etcd servers for tests of the store
// packages. Each server listens on free loopback ports, keeps its data in a
// test temporary directory (or a directory the test chooses) and is stopped
// when the test ends.
package etcdtest

import (
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// startTimeout bounds how long a test waits for etcd to become ready.
const startTimeout = 30 * time.Second

// Server is a running embedded etcd member.
type Server struct {
	// Endpoint is the client URL, e.g. "http://127.0.0.1:41234".
	Endpoint string
}

// Start runs an etcd member with a fresh data directory under t.TempDir().
func Start(t testing.TB) *Server {
	t.Helper()
	return StartDir(t, t.TempDir(), embed.DefaultName)
}

// StartDir runs an etcd member with data directory dir and member name name.
// The directory may already hold etcd data (for example a restored
// snapshot); the peer and client URLs are always fresh loopback ports.
func StartDir(t testing.TB, dir, name string) *Server {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Name = name
	cfg.Dir = dir
	cfg.UnsafeNoFsync = true
	// A single member elects itself after one election timeout; keep it short.
	cfg.TickMs = 10
	cfg.ElectionMs = 100
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	local := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{local}
	cfg.AdvertiseClientUrls = []url.URL{local}
	cfg.ListenPeerUrls = []url.URL{local}
	cfg.AdvertisePeerUrls = []url.URL{local}
	cfg.InitialCluster = cfg.InitialClusterFromName(name)

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start etcd in %s: %v", dir, err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatalf("etcd in %s failed: %v", dir, err)
	case <-time.After(startTimeout):
		t.Fatalf("etcd in %s not ready after %s", dir, startTimeout)
	}
	return &Server{Endpoint: "http://" + e.Clients[0].Addr().String()}
}

// Client returns a new client connected to the server, closed when the test
// ends. Each call makes a separate connection, the way separate API server
// processes would connect.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{s.Endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("connect to etcd at %s: %v", s.Endpoint, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
