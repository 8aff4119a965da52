package agent_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/agent"
	"github.com/berth-io/berth/agents/images"
	"github.com/berth-io/berth/agents/kubelet"
	"github.com/berth-io/berth/agents/kubelet/lifecycle"
	"github.com/berth-io/berth/agents/kubelet/logs"
	kubeletnode "github.com/berth-io/berth/agents/kubelet/node"
	"github.com/berth-io/berth/agents/kubelet/podspec"
	"github.com/berth-io/berth/agents/runtime"
	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/controllers/builtin"
	"github.com/berth-io/berth/reconciler/scheduler"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// Images every end-to-end test may use; imported once per agent.
const (
	busybox = "localhost/busybox:latest"
	hello   = "localhost/hello:v1"
)

// cluster is a control plane (API server, controller manager, scheduler)
// and one real agent with its own containerd.
type cluster struct {
	*servertest.Server
	t       testing.TB
	node    string
	dataDir string
	cfg     agent.Config
	ctx     context.Context

	mu      sync.Mutex
	stop    context.CancelFunc
	done    chan error
	kubelet *kubelet.Kubelet
}

// testBackoff is the crash-loop back-off of the tests: 10 s would make
// them slow.
var testBackoff = lifecycle.Backoff{Initial: time.Second, Max: 8 * time.Second}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	s := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// A cluster CIDR of its own, so that agents of tests running at the
	// same time on this machine never share pod addresses.
	n := rand.IntN(40)
	m, err := controllers.New(s.ConfigAs(server.ControllerManagerUser), controllers.Options{Workers: 4, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	settings := builtin.DefaultSettings()
	settings.ClusterCIDR = netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", 200+n))
	settings.JobBackoff, settings.JobMaxBackoff = 100*time.Millisecond, time.Second
	if err := builtin.Register(m, settings); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Run(ctx) }()
	opts := scheduler.ComponentOptions{}
	opts.Log = quiet
	go func() { _ = scheduler.Serve(ctx, s.ConfigAs(server.SchedulerUser), opts) }()

	dataDir, err := os.MkdirTemp("", "bag")
	if err != nil {
		t.Fatal(err)
	}
	suffix := fmt.Sprintf("%04x", rand.IntN(1<<16))
	node := "node-" + suffix
	c := &cluster{Server: s, t: t, node: node, dataDir: dataDir, ctx: ctx}
	// The node's own credentials, as berth server writes them for its
	// agent: a kubeconfig, and the HTTPS certificate the API server
	// checks when it asks for logs.
	ip, err := kubeletnode.DefaultRouteIP()
	if err != nil {
		t.Fatal(err)
	}
	creds := t.TempDir()
	if err := s.WriteNodeCredentials(creds, node, []string{ip}); err != nil {
		t.Fatal(err)
	}
	c.cfg = agent.Config{
		DataDir: dataDir, NodeName: node, NodeIP: ip,
		NetworkName: "bt" + suffix, Bridge: "bt" + suffix, CgroupRoot: "/berth-test-" + suffix,
		Backoff: testBackoff, ProbeSecond: 200 * time.Millisecond, RelistPeriod: 200 * time.Millisecond, VolumeSyncPeriod: time.Second,
		LeaseDuration: 10 * time.Second, LeaseRenewInterval: 2 * time.Second, StatusInterval: 2 * time.Second, Log: testLog(t),
	}
	if err := c.cfg.UseCredentials(creds); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stopAgent()
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		defer ccancel()
		if err := agent.Cleanup(cctx, c.cfg); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		c.checkNothingLeft()
		_ = os.RemoveAll(dataDir)
	})
	c.stageHello()
	c.startAgent()
	c.importImages()
	c.Namespace("e2e")
	return c
}

// startAgent runs the agent in-process and waits until its kubelet runs.
func (c *cluster) startAgent() {
	c.t.Helper()
	ctx, cancel := context.WithCancel(c.ctx)
	ready := make(chan *kubelet.Kubelet, 1)
	cfg := c.cfg
	cfg.Ready = func(k *kubelet.Kubelet) { ready <- k }
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx, cfg) }()
	select {
	case k := <-ready:
		c.mu.Lock()
		c.stop, c.done, c.kubelet = cancel, done, k
		c.mu.Unlock()
	case err := <-done:
		cancel()
		c.t.Fatalf("agent: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		c.t.Fatal("agent not running after 60s")
	}
}

// stopAgent stops the agent (and its containerd); pods keep running.
func (c *cluster) stopAgent() {
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.stop, c.done = nil, nil
	c.mu.Unlock()
	if stop == nil {
		return
	}
	stop()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		c.t.Error("agent did not stop within 30s")
	}
}

// stageHello builds the hello image into the agent's images directory,
// which the agent imports when it starts (no registry, no import step).
func (c *cluster) stageHello() {
	c.t.Helper()
	img, err := images.BuildGo(c.ctx, "../../examples-repo/images/hello", images.GoOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	dir := runtime.NewLayout(c.dataDir).ImagesDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := images.WriteTar(img, hello, filepath.Join(dir, "hello.tar")); err != nil {
		c.t.Fatal(err)
	}
}

// importImages adds busybox and checks that the agent imported the staged
// hello image at start.
func (c *cluster) importImages() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr := runtime.Address(c.dataDir)
	if err := runtime.EnsureBusyboxImage(ctx, addr, busybox); err != nil {
		c.t.Fatal(err)
	}
	store, err := images.Open(ctx, addr)
	if err != nil {
		c.t.Fatal(err)
	}
	defer store.Close()
	if ok, err := store.Has(ctx, hello); err != nil || !ok {
		c.t.Fatalf("the agent did not import %s from its images directory at start (err %v)", hello, err)
	}
}

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last: %v)", timeout, what, last)
}

// waitPod waits until cond holds for the pod and returns it.
func waitPod(t *testing.T, c kubernetes.Interface, ns, name string, timeout time.Duration, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	waitFor(t, timeout, "pod "+name+": "+what, func() (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pod = p
		return cond(p), fmt.Errorf("phase %s, statuses %s", p.Status.Phase, describe(p))
	})
	return pod
}

func describe(p *corev1.Pod) string {
	var b strings.Builder
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, "[%s restarts=%d ready=%v", cs.Name, cs.RestartCount, cs.Ready)
		switch {
		case cs.State.Running != nil:
			b.WriteString(" running")
		case cs.State.Waiting != nil:
			fmt.Fprintf(&b, " waiting %s %s", cs.State.Waiting.Reason, cs.State.Waiting.Message)
		case cs.State.Terminated != nil:
			fmt.Fprintf(&b, " terminated %s %d", cs.State.Terminated.Reason, cs.State.Terminated.ExitCode)
		}
		b.WriteString("] ")
	}
	return b.String()
}

func running(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" }

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// httpGet fetches a URL with a short timeout.
func httpGet(url string) (string, error) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

func busyboxPod(name string, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "e2e"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: new(int64(2)),
			Containers: []corev1.Container{{Name: "main", Image: busybox, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sh", "-c"}, Args: args}},
		},
	}
}

// containerLog is the CRI log file of a container run, as text.
func (c *cluster) containerLog(p *corev1.Pod, container string, restart int) string {
	b, _ := os.ReadFile(filepath.Join(logs.PodDir(filepath.Join(c.dataDir, "agent", "logs"), p.Namespace, p.Name, p.UID), logs.ContainerFile(container, restart)))
	return string(b)
}

// exec runs a command in the pod's first container through CRI.
func (c *cluster) exec(t *testing.T, p *corev1.Pod, cmd ...string) {
	t.Helper()
	c.output(t, p, cmd...)
}

// output runs a command in the pod's first container through CRI and
// returns its standard output.
func (c *cluster) output(t *testing.T, p *corev1.Pod, cmd ...string) string {
	t.Helper()
	conn, err := runtime.DialCRI(runtime.Address(c.dataDir))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	resp, err := runtimeapi.NewRuntimeServiceClient(conn).ExecSync(context.Background(), &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: 5})
	if err != nil || resp.ExitCode != 0 {
		t.Fatalf("exec %v in %s: %v %v", cmd, p.Name, err, resp)
	}
	return string(resp.Stdout)
}

// checkNothingLeft checks what agent.Cleanup must remove: the bridge, the
// pod cgroups, runc's containers, the pods' volumes and logs.
func (c *cluster) checkNothingLeft() {
	t := c.t
	if out, err := exec.Command("ip", "link", "show", c.cfg.Bridge).CombinedOutput(); err == nil {
		t.Errorf("bridge %s is still there after cleanup: %s", c.cfg.Bridge, out)
	}
	left, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", c.cfg.CgroupRoot))
	if len(left) > 0 {
		t.Errorf("cgroups left after cleanup: %v", left)
	}
	if out, _ := exec.Command("runc", "--root", filepath.Join(c.dataDir, "agent", "runc"), "list", "-q").Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("runc containers left after cleanup: %s", out)
	}
	for _, d := range []string{"pods", "logs"} {
		if _, err := os.Stat(filepath.Join(c.dataDir, "agent", d)); !os.IsNotExist(err) {
			t.Errorf("agent/%s left after cleanup (%v)", d, err)
		}
	}
}

// sandboxes counts the CRI sandboxes of the pod with uid.
func (c *cluster) sandboxes(uid types.UID) (int, error) {
	conn, err := runtime.DialCRI(runtime.Address(c.dataDir))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	resp, err := runtimeapi.NewRuntimeServiceClient(conn).ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{podspec.LabelPodUID: string(uid)}}})
	if err != nil {
		return 0, err
	}
	return len(resp.Items), nil
}

// runs are the start and finish times of the runs of a pod's container
// that the runtime still has, by restart count.
func (c *cluster) runs(uid types.UID, container string) map[int][2]time.Time {
	conn, err := runtime.DialCRI(runtime.Address(c.dataDir))
	if err != nil {
		return nil
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	ctx := context.Background()
	list, err := rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{podspec.LabelPodUID: string(uid), podspec.LabelContainerName: container}}})
	if err != nil {
		return nil
	}
	out := map[int][2]time.Time{}
	for _, ctr := range list.Containers {
		st, err := rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: ctr.Id})
		if err != nil || st.Status.FinishedAt == 0 {
			continue
		}
		n, _ := strconv.Atoi(st.Status.Annotations[podspec.AnnotationRestartCount])
		out[n] = [2]time.Time{time.Unix(0, st.Status.StartedAt), time.Unix(0, st.Status.FinishedAt)}
	}
	return out
}
