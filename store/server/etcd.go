package server

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// EtcdOptions say which etcd to use: an embedded member in the data dir
// (the default) or an external cluster.
type EtcdOptions struct {
	// Endpoints of an external cluster; empty starts an embedded member.
	Endpoints []string
	// CAFile, CertFile, KeyFile: TLS to an external cluster.
	CAFile, CertFile, KeyFile string
	// ClientPort of the embedded member on 127.0.0.1 (0 picks a free one).
	ClientPort int
	// PeerPort of the embedded member on 127.0.0.1 (0 picks a free one).
	PeerPort int
}

// startEmbeddedEtcd runs an etcd member with its data in dir.
func startEmbeddedEtcd(dir string, opts EtcdOptions) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", opts.ClientPort)}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", opts.PeerPort)}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// Keep fewer raft entries in memory: the default holds 10,000 writes.
	cfg.SnapshotCount = 5000
	cfg.SnapshotCatchUpEntries = 1000
	cfg.QuotaBackendBytes = 8 << 30
	cfg.MaxRequestBytes = 3<<20 + 512<<10
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s failed: %w", dir, err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s not ready after 60s", dir)
	}
}

// newEtcdClient connects to endpoints, with TLS when files are given.
func newEtcdClient(endpoints []string, opts EtcdOptions) (*clientv3.Client, error) {
	var tlsConfig *tls.Config
	if opts.CertFile != "" || opts.CAFile != "" {
		info := transport.TLSInfo{CertFile: opts.CertFile, KeyFile: opts.KeyFile, TrustedCAFile: opts.CAFile}
		c, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd TLS files: %w", err)
		}
		tlsConfig = c
	}
	return clientv3.New(clientv3.Config{
		Endpoints:          endpoints,
		DialTimeout:        10 * time.Second,
		TLS:                tlsConfig,
		Logger:             zap.NewNop(),
		MaxCallSendMsgSize: 8 << 20,
		MaxCallRecvMsgSize: 1 << 30,
	})
}

func etcdDir(dataDir string) string { return filepath.Join(dataDir, "etcd") }
