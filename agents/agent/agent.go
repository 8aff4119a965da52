// Package agent is what runs on every node (`berth agent`, and inside
// `berth server` unless --disable-agent): the managed containerd (or an
// existing CRI runtime), the Node with its heartbeat, the pod network for
// the node's pod CIDR, and the kubelet that runs the node's pods.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/kubelet"
	"github.com/berth-io/berth/agents/kubelet/lifecycle"
	"github.com/berth-io/berth/agents/kubelet/logs"
	"github.com/berth-io/berth/agents/kubelet/node"
	"github.com/berth-io/berth/agents/runtime"
	"github.com/berth-io/berth/store/server"
)

// Config configures an agent.
type Config struct {
	// Rest reaches the API server as the node (system:node:<name>).
	Rest *rest.Config
	// DataDir holds everything the agent keeps on the node.
	DataDir string
	// NodeName names the node (default: the host name, lower case).
	NodeName string
	// NodeIP is the node's address (default: the address of the
	// interface holding the default route).
	NodeIP string
	// RuntimeEndpoint is an existing CRI runtime (unix:///path); empty
	// starts and supervises berth's own containerd under DataDir.
	RuntimeEndpoint string
	// NetworkName and Bridge name the pod network (defaults
	// runtime.DefaultNetworkName and runtime.DefaultBridge); tests that
	// run several agents on one machine make them unique.
	NetworkName, Bridge string
	// CgroupRoot is the cgroupfs parent of the pods (default
	// runtime.DefaultCgroupParent).
	CgroupRoot string
	// ClusterDNS are the cluster DNS servers for dnsPolicy ClusterFirst
	// (default: the node IP, where the agent serves the cluster DNS).
	ClusterDNS []string
	// Network configures the Service proxy, cluster DNS and pod routes.
	Network Network
	// Backoff is the crash-loop back-off (default 10 s doubling to 5 min).
	Backoff lifecycle.Backoff
	// ProbeSecond shortens probe timing in tests (default 1 s).
	ProbeSecond time.Duration
	// RelistPeriod is how often the runtime is checked for exits (1 s).
	RelistPeriod time.Duration
	// VolumeSyncPeriod is how often ConfigMap, Secret and downward API
	// volumes of running pods are refreshed (1 min).
	VolumeSyncPeriod time.Duration
	// LeaseDuration, LeaseRenewInterval and StatusInterval time the node
	// heartbeat (defaults 40 s, 10 s and 10 s).
	LeaseDuration, LeaseRenewInterval, StatusInterval time.Duration
	// Log receives the agent's logs (default slog.Default()).
	Log *slog.Logger
	// ServingCertFile, ServingKeyFile and ClientCAFile, when set, make the
	// agent serve container logs over HTTPS (pods/log) on Port (default
	// 10250; 0 picks a free port): its certificate signed by the cluster
	// CA (server.WriteNodeCredentials), and the CA that signs the API
	// server's client certificate.
	ServingCertFile, ServingKeyFile, ClientCAFile string
	Port                                          int
	// Ready, when set, is called once the kubelet runs (tests, benchmarks).
	Ready func(*kubelet.Kubelet)
}

// Run runs the agent until ctx ends. Pods keep running after it returns;
// the next Run adopts them.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	log := cfg.Log
	client, err := kubernetes.NewForConfig(withKubeletRateLimit(cfg.Rest))
	if err != nil {
		return fmt.Errorf("agent: client: %w", err)
	}
	address, managed, stop, err := cfg.startRuntime(ctx)
	if err != nil {
		return err
	}
	defer stop()
	conn, err := runtime.DialCRI(address)
	if err != nil {
		return fmt.Errorf("agent: CRI at %s: %w", address, err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	version, err := rt.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		return fmt.Errorf("agent: CRI runtime at %s does not answer: %w", address, err)
	}
	if err := importImages(ctx, address, runtime.NewLayout(cfg.DataDir).ImagesDir, log.With("component", "images")); err != nil {
		return err
	}

	logServer, err := cfg.listenLogs()
	if err != nil {
		return err
	}
	if logServer != nil {
		defer logServer.listener.Close()
	}
	n, err := node.Register(ctx, node.Config{
		Name: cfg.NodeName, Client: client, NodeIPs: cfg.nodeIPs(), DataDir: cfg.DataDir, Port: logServer.port(),
		KubeletVersion: server.KubernetesVersion, RuntimeVersion: node.RuntimeVersion(rt), RuntimeHealthy: node.RuntimeHealthy(rt),
		LeaseDuration: cfg.LeaseDuration, LeaseRenewInterval: cfg.LeaseRenewInterval, StatusUpdateFrequency: cfg.StatusInterval,
		Log: log.With("component", "node"),
	})
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	go n.Run(ctx)
	podCIDR := ""
	if managed {
		if podCIDR, err = n.WaitForPodCIDR(ctx); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		layout := runtime.NewLayout(cfg.DataDir)
		network := runtime.Network{Name: cfg.NetworkName, Bridge: cfg.Bridge, PodCIDR: podCIDR, IPAMDir: layout.IPAMDir, ClusterCIDR: cfg.Network.ClusterCIDR}
		if err := runtime.WriteCNIConfig(layout.CNIConfDir, network); err != nil {
			return fmt.Errorf("agent: pod network: %w", err)
		}
		if err := runtime.EnsureMasquerade(network); err != nil {
			return fmt.Errorf("agent: pod network: %w", err)
		}
		if err := runtime.WaitNetworkReady(ctx, address, 30*time.Second); err != nil {
			return fmt.Errorf("agent: pod network: %w", err)
		}
		n.UpdateStatusNow()
	}
	clusterDNS, stopNetwork, err := cfg.startNetwork(ctx, client, n.NodeIPs(), managed)
	if err != nil {
		return err
	}
	defer stopNetwork()
	k, err := kubelet.New(kubelet.Config{
		NodeName: cfg.NodeName, Client: client,
		Runtime: rt, Images: runtimeapi.NewImageServiceClient(conn),
		RootDir: podsDir(cfg.DataDir), LogDir: logsDir(cfg.DataDir),
		CgroupRoot: cfg.CgroupRoot, RemoveCgroup: runtime.RemoveCgroup,
		NodeIPs: n.NodeIPs(), ClusterDNS: clusterDNS, ClusterDomain: cfg.Network.ClusterDomain, Allocatable: n.Allocatable(),
		Backoff: cfg.Backoff, ProbeSecond: cfg.ProbeSecond, RelistPeriod: cfg.RelistPeriod, VolumeSyncPeriod: cfg.VolumeSyncPeriod, Log: log.With("component", "kubelet"),
	})
	if err != nil {
		return err
	}
	if logServer != nil {
		srv, err := logs.NewServer(logs.Config{Root: logsDir(cfg.DataDir), ClientCA: logServer.clientCA, Lookup: k.Lookup, Log: log.With("component", "logs")})
		if err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		go func() {
			if err := srv.Serve(ctx, logServer.listener, logs.TLSConfig(logServer.cert, logServer.clientCA), nil); err != nil && ctx.Err() == nil {
				log.Error("container log server stopped", "err", err)
			}
		}()
	}
	if cfg.Ready != nil {
		cfg.Ready(k)
	}
	log.Info("agent running", "node", cfg.NodeName, "ips", n.NodeIPs(), "podCIDR", podCIDR, "runtime", version.RuntimeName+" "+version.RuntimeVersion)
	return k.Run(ctx)
}

// Cleanup removes what the agent left on the node (`berth agent
// --cleanup`): pods, containers, the pod network, cgroups, runtime state,
// the proxy's nftables table and the routes to other nodes' pods.
func Cleanup(ctx context.Context, cfg Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	err := errors.Join(runtime.Cleanup(ctx, runtime.Config{DataDir: cfg.DataDir, CgroupParent: cfg.CgroupRoot, Log: cfg.Log}), cfg.cleanupNetwork())
	for _, d := range []string{podsDir(cfg.DataDir), logsDir(cfg.DataDir)} {
		if rmErr := os.RemoveAll(d); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	}
	return err
}

// podsDir holds the pods' volumes; logsDir their container logs.
func podsDir(dataDir string) string { return filepath.Join(runtime.AgentDir(dataDir), "pods") }
func logsDir(dataDir string) string { return filepath.Join(runtime.AgentDir(dataDir), "logs") }

func (cfg *Config) defaults() error {
	if cfg.DataDir == "" {
		return errors.New("agent: --data-dir is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("agent: no --node-name and no host name: %w", err)
		}
		cfg.NodeName = strings.ToLower(h)
	}
	if cfg.NetworkName == "" {
		cfg.NetworkName = runtime.DefaultNetworkName
	}
	if cfg.Bridge == "" {
		cfg.Bridge = runtime.DefaultBridge
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = runtime.DefaultCgroupParent
	}
	return nil
}

// Kubelet's client rate limit (its --kube-api-qps and --kube-api-burst
// defaults). client-go's own default, 5 per second with a burst of 10,
// queued the status updates and Service lookups of 50 pods created at once
// for 10 s and more each.
const (
	kubeletQPS   = 50
	kubeletBurst = 100
)

// withKubeletRateLimit returns a copy of c with the kubelet's rate limit
// where c sets none (QPS 0 and no RateLimiter).
func withKubeletRateLimit(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	if c.QPS == 0 && c.RateLimiter == nil {
		c.QPS, c.Burst = kubeletQPS, kubeletBurst
	}
	return c
}

// startRuntime starts the managed containerd (with the pause image) or
// checks the given endpoint; it returns the socket path, whether the
// runtime is berth's own, and how to stop it.
func (cfg *Config) startRuntime(ctx context.Context) (string, bool, func(), error) {
	if cfg.RuntimeEndpoint != "" {
		path, ok := strings.CutPrefix(cfg.RuntimeEndpoint, "unix://")
		if !ok {
			return "", false, nil, fmt.Errorf("agent: --container-runtime-endpoint %q: want unix:///path/to/socket", cfg.RuntimeEndpoint)
		}
		return path, false, func() {}, nil
	}
	if err := runtime.CheckHost(); err != nil {
		return "", false, nil, fmt.Errorf("agent: %w", err)
	}
	c, err := runtime.Start(ctx, runtime.Config{DataDir: cfg.DataDir, CgroupParent: cfg.CgroupRoot, Log: cfg.Log.With("component", "containerd")})
	if err != nil {
		return "", false, nil, fmt.Errorf("agent: %w", err)
	}
	stop := func() {
		if err := c.Stop(); err != nil {
			cfg.Log.Warn("stopping containerd", "err", err)
		}
	}
	if err := runtime.EnsurePauseImage(ctx, c.Address(), runtime.DefaultPauseImage); err != nil {
		stop()
		return "", false, nil, fmt.Errorf("agent: pause image: %w", err)
	}
	return c.Address(), true, stop, nil
}

// logListener is the agent's HTTPS listener and credentials.
type logListener struct {
	listener net.Listener
	cert     tls.Certificate
	clientCA *x509.CertPool
}

// port is the listener's port, 0 without one.
func (l *logListener) port() int32 {
	if l == nil {
		return 0
	}
	return int32(l.listener.Addr().(*net.TCPAddr).Port)
}

// listenLogs loads the serving credentials and listens on Port; nil
// without credentials.
func (cfg *Config) listenLogs() (*logListener, error) {
	if cfg.ServingCertFile == "" && cfg.ServingKeyFile == "" && cfg.ClientCAFile == "" {
		return nil, nil
	}
	if cfg.ServingCertFile == "" || cfg.ServingKeyFile == "" || cfg.ClientCAFile == "" {
		return nil, errors.New("agent: serving logs needs all of --tls-cert-file, --tls-private-key-file and --client-ca-file")
	}
	cert, err := tls.LoadX509KeyPair(cfg.ServingCertFile, cfg.ServingKeyFile)
	if err != nil {
		return nil, fmt.Errorf("agent: serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(cfg.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("agent: client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("agent: client CA %s holds no PEM certificate", cfg.ClientCAFile)
	}
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		return nil, fmt.Errorf("agent: listening for the API server on port %d: %w", cfg.Port, err)
	}
	return &logListener{listener: l, cert: cert, clientCA: pool}, nil
}

// nodeIPs is --node-ip as a list (empty: the node package finds it).
func (cfg *Config) nodeIPs() []string {
	if cfg.NodeIP == "" {
		return nil
	}
	return []string{cfg.NodeIP}
}
