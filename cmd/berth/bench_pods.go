package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/agents/agent/podbench"
	"github.com/berth-io/berth/agents/images"
	"github.com/berth-io/berth/agents/runtime"
	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/controllers/builtin"
	"github.com/berth-io/berth/reconciler/scheduler"
	"github.com/berth-io/berth/store/server"
)

func newBenchPodsCommand() *cobra.Command {
	s := podbench.DefaultSettings()
	imageDir := filepath.Join("examples-repo", "images", "hello")
	cmd := &cobra.Command{
		Use:   "pods",
		Short: "Measure real pod startup on this machine: create → Running and → first HTTP answer, agent memory",
		Long: `Start an API server, the controller manager and the scheduler in this process, and "berth agent"
as a child process with its own containerd in a temporary data dir (root and the agent's Debian
packages needed). Build the hello image from --image-dir and import it, create --pods pods of it
(all at once, or --rate per second), and report the latency from each create to the pod seen Running through a watch and to
its first HTTP answer, and the resident memory of the agent (without containerd, reported
apart) while the pods run. Everything is deleted and cleaned up (berth agent --cleanup) after.`,
		Example: `  berth bench pods
  berth bench pods --pods 20
  berth bench pods --rate 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return benchPods(ctx, cmd.OutOrStdout(), progressTo(cmd.ErrOrStderr()), s, imageDir)
		},
	}
	f := cmd.Flags()
	f.IntVar(&s.Pods, "pods", s.Pods, "pods to start")
	f.Float64Var(&s.Rate, "rate", 0, "pods created per second (0: all at once)")
	f.StringVar(&imageDir, "image-dir", imageDir, "Go main package of the HTTP image (answers GET / on port 8080)")
	f.DurationVar(&s.Timeout, "timeout", s.Timeout, "longest the measurement may take")
	return cmd
}

func benchPods(ctx context.Context, out io.Writer, progress func(string, ...any), s podbench.Settings, imageDir string) error {
	srv, admin, sched, cleanup, err := benchServer(ctx)
	if err != nil {
		return err
	}
	defer cleanup()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir, err := os.MkdirTemp("", "bpods")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmPath, nodePath := filepath.Join(dir, "cm.kubeconfig"), filepath.Join(dir, "node.kubeconfig")
	const node = "bench-pods"
	if err := srv.WriteComponentKubeconfig(cmPath, server.ControllerManagerUser, nil); err != nil {
		return err
	}
	if err := srv.WriteComponentKubeconfig(nodePath, "system:node:"+node, []string{"system:nodes"}); err != nil {
		return err
	}
	cmConfig, err := restConfig(cmPath, -1, 0)
	if err != nil {
		return err
	}
	m, err := controllers.New(cmConfig, controllers.Options{Workers: 4, Log: quiet})
	if err != nil {
		return err
	}
	if err := builtin.Register(m, builtin.DefaultSettings()); err != nil {
		return err
	}
	go func() { _ = m.Run(ctx) }()
	opts := scheduler.ComponentOptions{}
	opts.Log = quiet
	go func() { _ = scheduler.Serve(ctx, sched, opts) }()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	dataDir := filepath.Join(dir, "d")
	agentLog, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		return err
	}
	defer agentLog.Close()
	agentCmd := exec.Command(self, "agent", "--kubeconfig", nodePath, "--data-dir", dataDir, "--node-name", node)
	agentCmd.Stdout, agentCmd.Stderr = agentLog, agentLog
	if err := agentCmd.Start(); err != nil {
		return err
	}
	progress("berth agent started (pid %d, log %s)", agentCmd.Process.Pid, agentLog.Name())
	defer func() {
		_ = agentCmd.Process.Signal(syscall.SIGTERM)
		_ = agentCmd.Wait()
		c := exec.Command(self, "agent", "--cleanup", "--data-dir", dataDir)
		if b, err := c.CombinedOutput(); err != nil {
			progress("agent cleanup failed: %v: %s", err, b)
		}
	}()
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	if err := waitNodeReady(ctx, client, node, 2*time.Minute); err != nil {
		return fmt.Errorf("%w; agent log: %s", err, tail(agentLog.Name()))
	}
	address := runtime.Address(dataDir)
	if err := runtime.WaitNetworkReady(ctx, address, time.Minute); err != nil {
		return err
	}
	progress("node ready; building and importing %s from %s", s.Image, imageDir)
	img, err := images.BuildGo(ctx, imageDir, images.GoOptions{})
	if err != nil {
		return err
	}
	store, err := images.Open(ctx, address)
	if err != nil {
		return err
	}
	_, err = store.ImportImage(ctx, s.Image, img)
	store.Close()
	if err != nil {
		return err
	}
	r, err := podbench.Measure(ctx, client, s, progress)
	if err != nil {
		return fmt.Errorf("%w; agent log: %s", err, tail(agentLog.Name()))
	}
	agentRSS, agentAnon := rss(agentCmd.Process.Pid, "VmRSS"), rss(agentCmd.Process.Pid, "RssAnon")
	var ctrdRSS int64
	if b, err := os.ReadFile(runtime.NewLayout(dataDir).PIDFile); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if pid, err := strconv.Atoi(f[0]); err == nil {
				ctrdRSS = rss(pid, "VmRSS")
			}
		}
	}
	progress("deleting the pods")
	if err := podbench.Cleanup(ctx, client, s); err != nil {
		progress("deleting the pods: %v", err)
	}
	w := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(w, "PODS\tRATE/S\tTO RUNNING P50\tP90\tP99\tMAX\tTO HTTP P50\tP90\tP99\tMAX\tAGENT RSS\tOF IT ANON\tCONTAINERD RSS")
	fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f MiB\t%.1f MiB\t%.1f MiB\n", r.Pods, rate(s.Rate),
		ms(r.Running.P50), ms(r.Running.P90), ms(r.Running.P99), ms(r.Running.Max),
		ms(r.HTTP.P50), ms(r.HTTP.P90), ms(r.HTTP.P99), ms(r.HTTP.Max), mib(agentRSS), mib(agentAnon), mib(ctrdRSS))
	return w.Flush()
}

func waitNodeReady(ctx context.Context, client kubernetes.Interface, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("node " + name + " not Ready with a pod CIDR in time")
}

// rss is a process's resident memory in bytes (field VmRSS, or RssAnon:
// heap and stacks without the mapped binary), 0 if unknown.
func rss(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func rate(r float64) string {
	if r <= 0 {
		return "burst"
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
