package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/images"
)

const helloImage = "berth-test/hello:v1"

// node is a managed containerd with the pause image, a pod network on a
// bridge of its own and the hello image: what a kubelet stands on.
type node struct {
	cfg     Config
	c       *Containerd
	network Network
	rs      runtimeapi.RuntimeServiceClient
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// freePodCIDR picks a /24 in 10.254.0.0/16 that no route on this machine overlaps.
func freePodCIDR(t testing.TB) string {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		b := make([]byte, 1)
		rand.Read(b)
		p := netip.MustParsePrefix(fmt.Sprintf("10.254.%d.0/24", b[0]))
		used := false
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			rp, err := netip.ParsePrefix(r.Dst.String())
			if err == nil && rp.Bits() > 0 && rp.Overlaps(p) {
				used = true
			}
		}
		if !used {
			return p.String()
		}
	}
	t.Fatal("no free /24 in 10.254.0.0/16")
	return ""
}

// startNode starts containerd in a temp data dir with a unique bridge,
// network name, pod CIDR and cgroup parent, and imports pause and hello.
func startNode(t testing.TB) *node {
	t.Helper()
	ctx := context.Background()
	id := randomHex(3)
	cfg := Config{DataDir: t.TempDir(), Log: testLogger(t), CgroupParent: "/berth-test-" + id}
	c, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{cfg: cfg, c: c}
	t.Cleanup(func() {
		c.Stop()
		if err := Cleanup(context.Background(), n.cfg); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	if err := EnsurePauseImage(ctx, c.Address(), DefaultPauseImage); err != nil {
		t.Fatal(err)
	}
	img, err := images.BuildGo(ctx, "../../examples-repo/images/hello", images.GoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store, err := images.Open(ctx, c.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.ImportImage(ctx, helloImage, img); err != nil {
		t.Fatal(err)
	}
	n.network = Network{Name: "berth-test-" + id, Bridge: "bt" + id, PodCIDR: freePodCIDR(t), IPAMDir: c.Layout().IPAMDir}
	if err := WriteCNIConfig(c.Layout().CNIConfDir, n.network); err != nil {
		t.Fatal(err)
	}
	if err := EnsureMasquerade(n.network); err != nil {
		t.Fatal(err)
	}
	if err := WaitNetworkReady(ctx, c.Address(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	conn, err := DialCRI(c.Address())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	n.rs = runtimeapi.NewRuntimeServiceClient(conn)
	return n
}

// podTimes are the CRI latencies of one pod's life.
type podTimes struct {
	run, create, start, serve, stop, remove time.Duration
}

// pod is one running hello pod.
type pod struct {
	name, sandbox, container, ip string
	times                        podTimes
}

// sandbox runs a pod sandbox with the pod network and returns its id and config.
func (n *node) sandbox(t testing.TB, name string) (string, *runtimeapi.PodSandboxConfig) {
	return n.sandboxOn(t, name, false)
}

// sandboxOn runs a pod sandbox on the pod network or, with hostNetwork, in
// the node's network namespace (without a hostname: runc cannot set one
// without a private UTS namespace).
func (n *node) sandboxOn(t testing.TB, name string, hostNetwork bool) (string, *runtimeapi.PodSandboxConfig) {
	t.Helper()
	uid := randomHex(8)
	network, hostname := runtimeapi.NamespaceMode_POD, name
	if hostNetwork {
		network, hostname = runtimeapi.NamespaceMode_NODE, ""
	}
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: uid},
		Hostname:     hostname,
		LogDirectory: filepath.Join(n.cfg.DataDir, "pods", uid),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: n.cfg.CgroupParent + "/pod" + uid,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: network, Pid: runtimeapi.NamespaceMode_CONTAINER},
			},
		},
	}
	run, err := n.rs.RunPodSandbox(context.Background(), &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatalf("RunPodSandbox %s: %v", name, err)
	}
	return run.PodSandboxId, cfg
}

// container creates and starts a container in a sandbox.
func (n *node) container(t testing.TB, sandbox string, sandboxCfg *runtimeapi.PodSandboxConfig, cfg *runtimeapi.ContainerConfig) string {
	t.Helper()
	ctx := context.Background()
	created, err := n.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sandbox, Config: cfg, SandboxConfig: sandboxCfg})
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", cfg.Metadata.Name, err)
	}
	if _, err := n.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		t.Fatalf("StartContainer %s: %v", cfg.Metadata.Name, err)
	}
	return created.ContainerId
}

// runHello runs a pod with one hello container and waits until it serves HTTP.
func (n *node) runHello(t testing.TB, name string) *pod {
	return n.runHelloOn(t, name, false)
}

// runHelloOn is runHello on the pod network or, with hostNetwork, on the
// node's (hello then listens on a free port of 127.0.0.1's).
func (n *node) runHelloOn(t testing.TB, name string, hostNetwork bool) *pod {
	t.Helper()
	port := "8080"
	if hostNetwork {
		port = freePort(t)
	}
	ctx := context.Background()
	p := &pod{name: name}
	t0 := time.Now()
	var sandboxCfg *runtimeapi.PodSandboxConfig
	p.sandbox, sandboxCfg = n.sandboxOn(t, name, hostNetwork)
	t1 := time.Now()
	created, err := n.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: p.sandbox,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "hello"},
			Image:    &runtimeapi.ImageSpec{Image: helloImage},
			Envs:     []*runtimeapi.KeyValue{{Key: "POD_NAME", Value: []byte(name)}, {Key: "VERSION", Value: []byte("v1")}, {Key: "PORT", Value: []byte(port)}},
			LogPath:  "hello.log",
			Linux:    &runtimeapi.LinuxContainerConfig{},
		},
		SandboxConfig: sandboxCfg,
	})
	if err != nil {
		t.Fatalf("CreateContainer in %s: %v", name, err)
	}
	p.container = created.ContainerId
	t2 := time.Now()
	if _, err := n.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: p.container}); err != nil {
		t.Fatalf("StartContainer in %s: %v", name, err)
	}
	t3 := time.Now()
	st, err := n.rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.sandbox})
	if err != nil {
		t.Fatal(err)
	}
	p.ip = st.GetStatus().GetNetwork().GetIp()
	switch {
	case hostNetwork && p.ip != "":
		t.Fatalf("hostNetwork pod has IP %q, want none", p.ip)
	case hostNetwork:
		p.ip = "127.0.0.1"
	case !netip.MustParsePrefix(n.network.PodCIDR).Contains(netip.MustParseAddr(p.ip)):
		t.Fatalf("pod IP %q not in the pod CIDR %s", p.ip, n.network.PodCIDR)
	}
	want := fmt.Sprintf("hello from %s (version v1)\n", name)
	if got := httpGet(t, "http://"+net.JoinHostPort(p.ip, port)+"/", 10*time.Second); got != want {
		t.Fatalf("GET pod %s: %q, want %q", name, got, want)
	}
	p.times = podTimes{run: t1.Sub(t0), create: t2.Sub(t1), start: t3.Sub(t2), serve: time.Since(t3)}
	return p
}

// remove stops and removes the pod and its cgroup, as the kubelet does.
func (n *node) remove(t testing.TB, p *pod) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Now()
	if _, err := n.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.sandbox}); err != nil {
		t.Fatalf("StopPodSandbox %s: %v", p.name, err)
	}
	t1 := time.Now()
	if _, err := n.rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.sandbox}); err != nil {
		t.Fatalf("RemovePodSandbox %s: %v", p.name, err)
	}
	p.times.stop, p.times.remove = t1.Sub(t0), time.Since(t1)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// httpGet polls url until it answers 200 or timeout passes, and returns the body.
func httpGet(t testing.TB, url string, timeout time.Duration) string {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			err = fmt.Errorf("status %s: %s", resp.Status, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPodOnBridgeServesHTTPAndCleanupRemovesEverything(t *testing.T) {
	n := startNode(t)
	p := n.runHello(t, "hello-0")
	t.Logf("pod %s at %s: %+v", p.name, p.ip, p.times)

	// An agent restart must leave pods running: containerd stops, the shims stay.
	pid := n.c.PID()
	if err := n.c.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := httpGet(t, "http://"+p.ip+":8080/", 5*time.Second); !strings.HasPrefix(got, "hello from hello-0") {
		t.Fatalf("pod after containerd stopped: %q", got)
	}

	ctx := context.Background()
	if err := Cleanup(ctx, n.cfg); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	assertNodeClean(t, n, pid)
	if err := Cleanup(ctx, n.cfg); err != nil {
		t.Fatalf("second Cleanup: %v", err)
	}
	assertNodeClean(t, n, pid)
}

// assertNodeClean checks that nothing of n is left on the machine.
func assertNodeClean(t *testing.T, n *node, containerdPID int) {
	t.Helper()
	layout := NewLayout(n.cfg.DataDir)
	if syscall.Kill(containerdPID, 0) == nil {
		t.Errorf("containerd pid %d still runs", containerdPID)
	}
	if b, err := os.ReadFile(layout.PIDFile); err == nil {
		t.Errorf("pid file left: %s", b)
	}
	if _, err := netlink.LinkByName(n.network.Bridge); !errors.As(err, new(netlink.LinkNotFoundError)) {
		t.Errorf("bridge %s: %v, want it gone", n.network.Bridge, err)
	}
	tag := `name: \"` + n.network.Name + `\"`
	for _, table := range []string{"nat", "filter"} {
		out, err := exec.Command("iptables", "-w", "5", "-t", table, "-S").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, tag) {
				t.Errorf("iptables %s rule left: %s", table, line)
			}
		}
	}
	if tables := masqueradeTables(t, n.network.Name); len(tables) != 0 {
		t.Errorf("masquerade tables left: %v", tables)
	}
	mounts, err := cgroupMounts()
	if err != nil || len(mounts) == 0 {
		t.Fatalf("cgroup mounts: %v %v", mounts, err)
	}
	for _, m := range mounts {
		if _, err := os.Stat(filepath.Join(m, n.cfg.CgroupParent)); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left in %s (%v)", n.cfg.CgroupParent, m, err)
		}
	}
	for _, d := range []string{layout.State, layout.RuncRoot, layout.IPAMDir, layout.CNIConfDir, filepath.Dir(layout.Address)} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s left (%v)", d, err)
		}
	}
	info, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(info), layout.Dir+"/") {
		t.Errorf("mounts left below %s", layout.Dir)
	}
}

func TestBusyboxContainerRunsShellAndPauseIsSmall(t *testing.T) {
	n := startNode(t)
	ctx := context.Background()
	if err := EnsureBusyboxImage(ctx, n.c.Address(), DefaultBusyboxImage); err != nil {
		t.Fatal(err)
	}
	// Ensuring again finds the image and does nothing.
	if err := EnsureBusyboxImage(ctx, n.c.Address(), DefaultBusyboxImage); err != nil {
		t.Fatal(err)
	}
	sandbox, sandboxCfg := n.sandbox(t, "shell")
	id := n.container(t, sandbox, sandboxCfg, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "sh"},
		Image:    &runtimeapi.ImageSpec{Image: DefaultBusyboxImage},
		Command:  []string{"sh", "-c", `echo "greeting=$GREETING"; hostname; ls /bin/wget >/dev/null && exit 3`},
		Envs:     []*runtimeapi.KeyValue{{Key: "GREETING", Value: []byte("hi")}},
		LogPath:  "sh.log",
		Linux:    &runtimeapi.LinuxContainerConfig{},
	})
	var status *runtimeapi.ContainerStatus
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := n.rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			t.Fatal(err)
		}
		if status = resp.Status; status.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container still %s after 10s", status.State)
		}
	}
	if status.ExitCode != 3 {
		t.Errorf("exit code %d, want 3 (%s: %s)", status.ExitCode, status.Reason, status.Message)
	}
	logs, err := os.ReadFile(status.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stdout F greeting=hi", "stdout F shell"} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("container log lacks %q:\n%s", want, logs)
		}
	}

	// The pause process of the sandbox costs about a megabyte.
	st, err := n.rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sandbox, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Pid int }
	if err := json.Unmarshal([]byte(st.Info["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("sandbox info %q: %v", st.Info["info"], err)
	}
	rss := vmRSSKiB(t, info.Pid)
	t.Logf("pause pid %d: VmRSS %d KiB", info.Pid, rss)
	if rss > 2048 {
		t.Errorf("pause VmRSS = %d KiB, want under 2 MiB", rss)
	}
}

// vmRSSKiB reads a process's resident set size from /proc.
func vmRSSKiB(t testing.TB, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kib)
			return kib
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

func TestStopPodSandboxToleratesAVanishedCNIChain(t *testing.T) {
	n := startNode(t)
	p := n.runHello(t, "vanished")
	ctx := context.Background()
	// Someone removed the pod's iptables rules and chain behind CNI's back.
	if err := removeCNIRules(ctx, n.network.Name, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if err := StopPodSandbox(ctx, n.rs, p.sandbox); err != nil {
		t.Fatalf("StopPodSandbox: %v", err)
	}
	if _, err := n.rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.sandbox}); err != nil {
		t.Fatalf("RemovePodSandbox: %v", err)
	}
	resp, err := n.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(resp.Items) != 0 {
		t.Errorf("sandboxes left: %v %v", resp, err)
	}
}

func TestHostNetworkPodServesOnTheNode(t *testing.T) {
	n := startNode(t)
	p := n.runHelloOn(t, "on-node", true)
	n.remove(t, p)
}
