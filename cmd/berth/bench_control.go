package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/berth-io/berth/agents/hollow"
	"github.com/berth-io/berth/reconciler/scheduler"
	schedbench "github.com/berth-io/berth/reconciler/scheduler/bench"
	"github.com/berth-io/berth/store/server"
)

// benchServer starts an API server in a fresh temporary data dir for a
// control-plane benchmark and returns admin and scheduler client configs.
func benchServer(ctx context.Context) (s *server.Server, admin, sched *rest.Config, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "berth-bench-")
	if err != nil {
		return nil, nil, nil, nil, err
	}
	s, err = server.Start(ctx, server.Options{DataDir: dir, SecurePort: 0, Etcd: server.EtcdOptions{ClientPort: 0, PeerPort: 0},
		MaxInFlight: 4000, CompactInterval: time.Hour, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, nil, nil, err
	}
	cleanup = func() { s.Stop(); _ = os.RemoveAll(dir) }
	if admin, err = restConfig(s.Kubeconfig(), -1, 0); err != nil {
		cleanup()
		return nil, nil, nil, nil, err
	}
	path := filepath.Join(dir, "scheduler.kubeconfig")
	if err = s.WriteComponentKubeconfig(path, server.SchedulerUser, nil); err != nil {
		cleanup()
		return nil, nil, nil, nil, err
	}
	if sched, err = restConfig(path, 0, 0); err != nil {
		cleanup()
		return nil, nil, nil, nil, err
	}
	return s, admin, sched, cleanup, nil
}

func progressTo(w io.Writer) func(string, ...any) {
	start := time.Now()
	return func(format string, args ...any) {
		fmt.Fprintf(w, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
}

func newBenchSchedulerCommand() *cobra.Command {
	s := schedbench.DefaultSettings()
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Measure the scheduler: pods scheduled per second and create-to-bound latency",
		Long: `Start an API server in a temporary data dir, register --nodes nodes (no kubelet: Ready
nodes with allocatable resources), create --pods pods with --clients clients while the
scheduler (as system:kube-scheduler, over HTTPS) binds them, and report pods/s and the
latency from each create to the binding seen through a watch. With --backlog N the
scheduler is then stopped, N more pods created, and its drain rate measured alone.`,
		Example: `  berth bench scheduler
  berth bench scheduler --nodes 1000 --pods 3000 --backlog 3000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, admin, sched, cleanup, err := benchServer(ctx)
			if err != nil {
				return err
			}
			defer cleanup()
			r, err := schedbench.Run(ctx, admin, sched, s, progressTo(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 3, ' ', 0)
			fmt.Fprintln(w, "NODES\tPODS\tPODS/S\tP50\tP90\tP99\tMAX\tCPU-S/1000 PODS")
			fmt.Fprintf(w, "%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%.2f\n", r.Nodes, r.Pods, r.PodsPerSecond, ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max), r.CPUSeconds*1000/float64(max(r.Pods, 1)))
			if r.Backlog != nil {
				fmt.Fprintf(w, "backlog\t%d\t%.0f\t\t\t\t\t%.2f\n", r.Backlog.Pods, r.Backlog.PodsPerSecond, r.Backlog.CPUSeconds*1000/float64(max(r.Backlog.Pods, 1)))
			}
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.IntVar(&s.Nodes, "nodes", s.Nodes, "nodes to register")
	f.IntVar(&s.Pods, "pods", s.Pods, "pods to create and schedule")
	f.IntVar(&s.Clients, "clients", s.Clients, "concurrent pod creators")
	f.IntVar(&s.Backlog, "backlog", 0, "pods for a second phase that measures the scheduler draining a backlog alone")
	return cmd
}

func newBenchStartupCommand() *cobra.Command {
	s := hollow.StartupSettings{Nodes: 100, Pods: 3000, Clients: 10, Rate: -1}
	cmd := &cobra.Command{
		Use:   "startup",
		Short: "Measure pod startup latency (create → Running seen through a watch) on hollow nodes",
		Long: `Start an API server in a temporary data dir and --nodes hollow nodes with no startup delay,
create --pods pods at --rate per second (negative: as fast as --clients allow), and report
the latency from each create to the pod seen Running through a watch. The scheduler (as
system:kube-scheduler, over HTTPS) binds them, so the figure covers the whole flow; with
--bind-directly the benchmark binds each pod round robin itself instead.
Kubernetes' SLO for this is p99 ≤ 5 s.`,
		Example: `  berth bench startup
  berth bench startup --nodes 100 --pods 3000 --rate 300`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			_, admin, sched, cleanup, err := benchServer(ctx)
			if err != nil {
				return err
			}
			defer cleanup()
			if s.Scheduled {
				opts := scheduler.ComponentOptions{}
				opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
				go func() { _ = scheduler.Serve(ctx, sched, opts) }()
			}
			client, err := kubernetes.NewForConfig(admin)
			if err != nil {
				return err
			}
			r, err := hollow.MeasureStartup(ctx, client, s, progressTo(cmd.ErrOrStderr()))
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 3, ' ', 0)
			fmt.Fprintln(w, "NODES\tPODS\tRUNNING/S\tP50\tP90\tP99\tMAX")
			fmt.Fprintf(w, "%d\t%d\t%.0f\t%s\t%s\t%s\t%s\n", r.Nodes, r.Pods, r.Throughput, ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.IntVar(&s.Nodes, "nodes", s.Nodes, "hollow nodes")
	f.IntVar(&s.Pods, "pods", s.Pods, "pods to start")
	f.IntVar(&s.Clients, "clients", s.Clients, "concurrent pod creators")
	f.Float64Var(&s.Rate, "rate", s.Rate, "pod creations per second (negative: no limit)")
	var direct bool
	f.BoolVar(&direct, "bind-directly", false, "bind pods round robin from the benchmark instead of running the scheduler")
	cmd.PreRun = func(*cobra.Command, []string) { s.Scheduled = !direct }
	return cmd
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }
