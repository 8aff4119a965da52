package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/agent"
	"github.com/berth-io/berth/agents/images"
	"github.com/berth-io/berth/agents/kubelet"
	"github.com/berth-io/berth/agents/kubelet/lifecycle"
	"github.com/berth-io/berth/agents/nettest"
	"github.com/berth-io/berth/agents/proxy"
	"github.com/berth-io/berth/agents/routes"
	"github.com/berth-io/berth/agents/runtime"
	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/controllers/builtin"
	"github.com/berth-io/berth/reconciler/scheduler"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// Images the tests run; imported into every host's containerd.
const (
	busybox = "localhost/busybox:latest"
	hello   = "localhost/hello:v1"
)

// childEnv, when set in the environment, makes the test binary run one
// agent (or its cleanup) as described by the JSON value instead of the
// tests: a host starts it from inside its network namespace.
const childEnv = "BERTH_E2E_AGENT"

// childSpec is what a child agent process runs.
type childSpec struct {
	Cleanup                                   bool
	DataDir, NodeName, NodeIP, CredentialsDir string
	Bridge, CgroupRoot, ClusterCIDR           string
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// runChild runs an agent until its standard input closes (the test ends
// or dies), printing "ready" once the kubelet runs; or cleans up after one.
func runChild(specJSON string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", childEnv, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg := agent.Config{
		DataDir: spec.DataDir, NodeName: spec.NodeName, NodeIP: spec.NodeIP,
		NetworkName: spec.Bridge, Bridge: spec.Bridge, CgroupRoot: spec.CgroupRoot,
		Network:     agent.Network{ClusterCIDR: spec.ClusterCIDR},
		Backoff:     lifecycle.Backoff{Initial: time.Second, Max: 8 * time.Second},
		ProbeSecond: 200 * time.Millisecond, RelistPeriod: 200 * time.Millisecond,
		LeaseDuration: 10 * time.Second, LeaseRenewInterval: 2 * time.Second, StatusInterval: 2 * time.Second,
		Log: log,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	if spec.Cleanup {
		err = agent.Cleanup(ctx, cfg)
	} else {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			cancel()
		}()
		if err = cfg.UseCredentials(spec.CredentialsDir); err == nil {
			cfg.Ready = func(*kubelet.Kubelet) { fmt.Println("ready") }
			err = agent.Run(ctx, cfg)
		}
	}
	if err != nil {
		log.Error("agent failed", "err", err)
		return 1
	}
	return 0
}

// cluster is a control plane in the test process and test hosts, each a
// network namespace on one switch running an agent process.
type cluster struct {
	*servertest.Server
	t           *testing.T
	clusterCIDR string
	hosts       []*host
}

// host is a test machine: a network namespace with eth0 on the switch
// and an agent running inside it.
type host struct {
	c                      *cluster
	ns                     *nettest.Netns
	node, ip, dataDir, log string
	spec                   childSpec

	mu    sync.Mutex
	stdin io.WriteCloser
	done  chan error
}

// switchNet is the test hosts' shared segment; the switch's own address is
// their default gateway (isolated in the switch's namespace).
const (
	switchPrefix = "192.168.77."
	switchBits   = 24
)

// startCluster starts the control plane and n hosts with agents, and
// imports the test images into every host.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	s := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	quiet := slog.New(slog.DiscardHandler)
	c := &cluster{Server: s, t: t, clusterCIDR: fmt.Sprintf("10.%d.0.0/16", 150+rand.IntN(40))}
	m, err := controllers.New(s.ConfigAs(server.ControllerManagerUser), controllers.Options{Workers: 4, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	settings := builtin.DefaultSettings()
	settings.ClusterCIDR = netip.MustParsePrefix(c.clusterCIDR)
	if err := builtin.Register(m, settings); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Run(ctx) }()
	opts := scheduler.ComponentOptions{}
	opts.Log = quiet
	go func() { _ = scheduler.Serve(ctx, s.ConfigAs(server.SchedulerUser), opts) }()
	s.Namespace("default")

	api, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	sw := nettest.New(t, "bsw")
	if err := sw.Bridge("br0", fmt.Sprintf("%s1/%d", switchPrefix, switchBits)); err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf("%04x", rand.IntN(1<<16))
	for i := range n {
		ns := nettest.New(t, "bh")
		ip := fmt.Sprintf("%s%d", switchPrefix, i+2)
		if err := sw.Veth(fmt.Sprintf("p%d", i), "", "br0", ns, "eth0", fmt.Sprintf("%s/%d", ip, switchBits)); err != nil {
			t.Fatal(err)
		}
		if err := ns.DefaultRoute(switchPrefix+"1", ""); err != nil {
			t.Fatal(err)
		}
		// The agent reaches the API server at the address of its
		// kubeconfig (127.0.0.1:port): forwarded from inside the host.
		forward(t, ns, api.Host)
		dataDir, err := os.MkdirTemp("", "bne")
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("net-%s-%c", suffix, 'a'+i)
		creds := t.TempDir()
		if err := s.WriteNodeCredentials(creds, name, []string{ip}); err != nil {
			t.Fatal(err)
		}
		h := &host{c: c, ns: ns, node: name, ip: ip, dataDir: dataDir, log: filepath.Join(creds, "agent.log"),
			spec: childSpec{DataDir: dataDir, NodeName: name, NodeIP: ip, CredentialsDir: creds,
				Bridge: fmt.Sprintf("bn%s%c", suffix, 'a'+i), CgroupRoot: fmt.Sprintf("/berth-net-%s-%c", suffix, 'a'+i), ClusterCIDR: c.clusterCIDR}}
		c.hosts = append(c.hosts, h)
		t.Cleanup(func() {
			h.stop()
			h.cleanup()
			if t.Failed() {
				b, _ := os.ReadFile(h.log)
				t.Logf("agent %s log:\n%s", h.node, tail(string(b), 60))
			}
			_ = os.RemoveAll(dataDir)
		})
	}
	img, err := images.BuildGo(context.Background(), "../../examples-repo/images/hello", images.GoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, h := range c.hosts {
		wg.Go(func() {
			if errs[i] = h.start(); errs[i] == nil {
				errs[i] = h.importImages(img)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return c
}

// start runs the agent process inside the host and waits until its
// kubelet runs.
func (h *host) start() error {
	spec, _ := json.Marshal(h.spec)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(h.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stderr = logFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	// Forked from a thread inside the namespace, the child lives there.
	if err := h.ns.Do(cmd.Start); err != nil {
		return fmt.Errorf("starting the agent of %s: %w", h.node, err)
	}
	done := make(chan error, 1)
	readyc := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				close(readyc)
			}
		}
		done <- cmd.Wait()
	}()
	h.mu.Lock()
	h.stdin, h.done = stdin, done
	h.mu.Unlock()
	select {
	case <-readyc:
		return nil
	case err := <-done:
		done <- err
		return fmt.Errorf("agent of %s exited before running: %v (log %s)", h.node, err, h.log)
	case <-time.After(90 * time.Second):
		return fmt.Errorf("agent of %s not running after 90s (log %s)", h.node, h.log)
	}
}

// stop ends the agent process (pods keep running).
func (h *host) stop() {
	h.mu.Lock()
	stdin, done := h.stdin, h.done
	h.stdin = nil
	h.mu.Unlock()
	if stdin == nil {
		return
	}
	_ = stdin.Close()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		h.c.t.Errorf("agent of %s did not stop within 30s", h.node)
	}
}

// cleanup runs the agent's cleanup inside the host and checks that it
// left no nftables table of the proxy and no route of berth's.
func (h *host) cleanup() {
	t := h.c.t
	spec := h.spec
	spec.Cleanup = true
	b, _ := json.Marshal(spec)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	self, _ := os.Executable()
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	if err := h.ns.Do(func() error {
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, tail(string(out), 20))
		}
		return nil
	}); err != nil {
		t.Errorf("cleanup of %s: %v", h.node, err)
	}
	conn, err := nftables.New(nftables.WithNetNSFd(h.ns.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := conn.ListTables()
	if err != nil {
		t.Errorf("listing nftables tables in %s: %v", h.node, err)
	}
	for _, tb := range tables {
		if tb.Name == proxy.DefaultTable {
			t.Errorf("nftables table %s left in %s after cleanup", tb.Name, h.node)
		}
	}
	if rs := h.berthRoutes(); len(rs) > 0 {
		t.Errorf("routes left in %s after cleanup: %v", h.node, rs)
	}
	if _, err := h.ns.Netlink().LinkByName(h.spec.Bridge); err == nil {
		t.Errorf("bridge %s left in %s after cleanup", h.spec.Bridge, h.node)
	}
}

// berthRoutes are the routes berth's agent installed in the host.
func (h *host) berthRoutes() []string {
	list, err := h.ns.Netlink().RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routes.Protocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		h.c.t.Fatalf("listing routes in %s: %v", h.node, err)
	}
	var out []string
	for _, r := range list {
		out = append(out, fmt.Sprintf("%s via %s", r.Dst, r.Gw))
	}
	return out
}

// importImages puts busybox and hello into the host's containerd.
func (h *host) importImages(img v1.Image) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := runtime.Address(h.dataDir)
	if err := runtime.EnsureBusyboxImage(ctx, addr, busybox); err != nil {
		return err
	}
	store, err := images.Open(ctx, addr)
	if err != nil {
		return err
	}
	defer store.Close()
	_, err = store.ImportImage(ctx, hello, img)
	return err
}

// forward accepts connections to addr inside ns and relays each to addr in
// the test's own network namespace, until the test ends.
func forward(t *testing.T, ns *nettest.Netns, addr string) {
	l, err := ns.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("forwarding %s into %s: %v", addr, ns.Name, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				_ = in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
}

// exec runs cmd in the pod's first container through the host's CRI and
// returns its output, exit code and how long it took.
func (h *host) exec(p *corev1.Pod, timeout time.Duration, cmd ...string) (string, int32, time.Duration, error) {
	conn, err := runtime.DialCRI(runtime.Address(h.dataDir))
	if err != nil {
		return "", 0, 0, err
	}
	defer conn.Close()
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	start := time.Now()
	resp, err := runtimeapi.NewRuntimeServiceClient(conn).ExecSync(context.Background(), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: int64(timeout / time.Second)})
	took := time.Since(start)
	if err != nil {
		return "", 0, took, fmt.Errorf("exec %v in %s: %w", cmd, p.Name, err)
	}
	return string(resp.Stdout) + string(resp.Stderr), resp.ExitCode, took, nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
