package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-io/berth/store/bench"
)

func newBenchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure berth's components under load",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(
		newBenchAPICommand(),
		newBenchProxyCommand(),
		newBenchSchedulerCommand(),
		newBenchStartupCommand(),
		newBenchPodsCommand(),
		newBenchGitSyncCommand(),
	)
	return cmd
}

func newBenchAPICommand() *cobra.Command {
	var (
		dataDir, kubeconfig, output string
		serverPIDs                  []int
		s                           bench.Settings
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Measure an API server: creates, updates and gets per second, watch fan-out and memory",
		Long: `Measure an API server the way client-go programs load it (protobuf, no client rate limit).

Without --kubeconfig, it starts "berth server" as a child process with a fresh data dir
and an embedded etcd, so the server's resident memory (read from /proc) is not mixed with
the load generator's, and its CPU time per request is known. With --kubeconfig it
measures that server instead (berth or kube-apiserver) and reads its memory and CPU
time only when --server-pid names its processes.

Progress goes to stderr, the results to stdout. The run takes a few minutes.`,
		Example: `  berth bench api
  berth bench api --pods 2000 --clients 1,10 --watchers 100 --duration 5s -o json
  berth bench api --kubeconfig admin.kubeconfig --server-pid $(pgrep -d, kube-apiserver),$(pgrep -d, etcd)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want table or json", output)}
			}
			if len(serverPIDs) > 0 && kubeconfig == "" {
				return usageError{fmt.Errorf("--server-pid is for a server given with --kubeconfig; without it the benchmark starts its own")}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			progress := func(format string, args ...any) {
				fmt.Fprintf(cmd.ErrOrStderr(), "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
			}
			target, cleanup, err := benchTarget(ctx, kubeconfig, dataDir, serverPIDs, progress)
			if err != nil {
				return err
			}
			defer cleanup()
			s.Cleanup = kubeconfig != ""
			report, err := bench.Run(ctx, target, s, progress)
			if report == nil {
				return err
			}
			if err != nil {
				progress("stopped early: %v; figures so far:", err)
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(report); jerr != nil {
					return jerr
				}
				return err
			}
			if terr := bench.WriteTable(cmd.OutOrStdout(), report); terr != nil {
				return terr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "", "data dir of the server the benchmark starts (default: a temporary dir, removed afterwards); wiped if an earlier run left it")
	f.StringVar(&kubeconfig, "kubeconfig", "", "measure the server of this kubeconfig instead of starting one (needs admin rights; namespaces bench-* are created and deleted)")
	f.IntSliceVar(&serverPIDs, "server-pid", nil, "with --kubeconfig: process ids whose memory and CPU time are the server's (e.g. kube-apiserver and etcd)")
	f.IntVar(&s.Pods, "pods", 10000, "pods stored before the update, get and memory figures")
	f.IntSliceVar(&s.Clients, "clients", []int{1, 10, 50}, "concurrent clients of the create, update and get scenarios")
	f.IntVar(&s.Watchers, "watchers", 1000, "watches on one namespace during the fan-out scenario (0: no fan-out scenario)")
	f.IntVar(&s.WatchWrites, "watch-writes", 100, "pods created in the watched namespace")
	f.DurationVar(&s.Duration, "duration", 10*time.Second, "how long each create, update and get scenario runs")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// benchTarget is the server to measure: the one of kubeconfig, or a berth
// server child process in dataDir (a temporary dir when empty). cleanup
// stops what it started.
func benchTarget(ctx context.Context, kubeconfig, dataDir string, pids []int, progress func(string, ...any)) (bench.Target, func(), error) {
	if kubeconfig != "" {
		config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return bench.Target{}, nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
		}
		target := bench.Target{Config: config, Description: "server at " + config.Host}
		if len(pids) > 0 {
			target.Description += fmt.Sprintf(" (processes %v)", pids)
			target.Memory = func() (bench.ProcMemory, error) { return bench.ProcessMemory(pids...) }
			target.CPU = func() (time.Duration, error) { return bench.ProcessCPU(pids...) }
		}
		return target, func() {}, nil
	}
	removeDir := func() {}
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "berth-bench-")
		if err != nil {
			return bench.Target{}, nil, err
		}
		dataDir, removeDir = dir, func() { _ = os.RemoveAll(dir) }
	} else if err := bench.PrepareDataDir(dataDir); err != nil {
		return bench.Target{}, nil, usageError{fmt.Errorf("--data-dir: %w", err)}
	}
	binary, err := os.Executable()
	if err != nil {
		removeDir()
		return bench.Target{}, nil, fmt.Errorf("finding the berth binary to start the server: %w", err)
	}
	started := time.Now()
	p, err := bench.StartServerProcess(ctx, binary, dataDir)
	if err != nil {
		removeDir()
		return bench.Target{}, nil, err
	}
	progress("berth server pid %d ready at %s after %s (data dir %s, log %s)", p.Pid(), p.URL, time.Since(started).Round(time.Millisecond), dataDir, p.LogPath)
	cleanup := func() {
		if err := p.Stop(); err != nil {
			progress("%v", err)
		}
		removeDir()
	}
	target := bench.Target{
		Config:      p.Config,
		Description: fmt.Sprintf("berth server (child process pid %d, embedded etcd in the same process)", p.Pid()),
		Memory:      p.Memory,
		CPU:         p.CPU,
	}
	return target, cleanup, nil
}
