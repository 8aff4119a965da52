package main

import (
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
	"k8s.io/client-go/rest"

	gitsyncbench "github.com/berth-io/berth/reconciler/gitsync/bench"
	"github.com/berth-io/berth/store/server"
)

func newBenchGitSyncCommand() *cobra.Command {
	var commits, apps, nodes int
	cmd := &cobra.Command{
		Use:   "gitsync",
		Short: "Measure gitsync: commit → applied latency, and one commit of many apps to healthy",
		Long: `Start an API server in a temporary data dir and gitsync (as berth:gitsync, over HTTPS), then:

1. commit --commits changes, one at a time, to a local repository and report the latency
   from each commit to the changed object seen through a watch (p50/p99);
2. start the controller manager, the scheduler and --nodes hollow nodes, commit --apps apps of
   10 objects each (Deployment, Service, ServiceAccount, 4 ConfigMaps, 3 Secrets) in one
   commit, and report the time from the commit to every object applied and to every object
   healthy (Deployments available, Services with ready endpoints), then the time to apply a
   commit that changes one ConfigMap of one app.

--apps 0 skips the second part.`,
		Example: `  berth bench gitsync
  berth bench gitsync --commits 100 --apps 1000 --nodes 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if commits < 1 || apps < 0 || nodes < 1 {
				return usageError{fmt.Errorf("--commits and --nodes must be at least 1, --apps at least 0")}
			}
			commandLogger(false) // client-go's chatter at debug level, hidden
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			dir, err := os.MkdirTemp("", "berth-bench-gitsync-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			policies := filepath.Join(dir, "policies")
			if err := os.MkdirAll(policies, 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(policies, "bench.yaml"), []byte(gitsyncbench.Policy), 0o644); err != nil {
				return err
			}
			s, err := server.Start(ctx, server.Options{DataDir: filepath.Join(dir, "data"), Etcd: server.EtcdOptions{}, MaxInFlight: 4000,
				CompactInterval: time.Hour, PolicyDirs: []string{policies}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				return err
			}
			defer s.Stop()
			admin, err := restConfig(s.Kubeconfig(), -1, 0)
			if err != nil {
				return err
			}
			c := gitsyncbench.Cluster{
				Admin: admin,
				ConfigAs: func(user string) (*rest.Config, error) {
					path := filepath.Join(dir, fmt.Sprintf("%x.kubeconfig", user))
					if err := s.WriteComponentKubeconfig(path, user, nil); err != nil {
						return nil, err
					}
					return restConfig(path, -1, 0)
				},
				GitSyncUser: server.GitSyncUser, ControllerManagerUser: server.ControllerManagerUser, SchedulerUser: server.SchedulerUser,
			}
			progress := progressTo(cmd.ErrOrStderr())
			l, err := gitsyncbench.Latency(ctx, c, commits, progress)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 3, ' ', 0)
			fmt.Fprintln(w, "SCENARIO\tCOUNT\tP50\tP90\tP99\tMAX")
			fmt.Fprintf(w, "commit → applied (local repository)\t%d\t%s\t%s\t%s\t%s\n", l.Commits, ms(l.Latency.P50), ms(l.Latency.P90), ms(l.Latency.P99), ms(l.Latency.Max))
			if err := w.Flush(); err != nil {
				return err
			}
			if apps == 0 {
				return nil
			}
			r, err := gitsyncbench.Scale(ctx, c, apps, nodes, progress)
			if err != nil {
				return err
			}
			w = tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 3, ' ', 0)
			fmt.Fprintln(w, "\nAPPS\tOBJECTS\tNODES\tCOMMIT → APPLIED\tCOMMIT → HEALTHY\tONE-APP CHANGE → APPLIED")
			fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%s\t%s\n", r.Apps, r.Objects, r.Nodes, ms(r.Applied), ms(r.Healthy), ms(r.OneChange))
			return w.Flush()
		},
	}
	f := cmd.Flags()
	f.IntVar(&commits, "commits", 20, "commits of the latency scenario")
	f.IntVar(&apps, "apps", 1000, "apps of the scale scenario (10 objects each)")
	f.IntVar(&nodes, "nodes", 10, "hollow nodes of the scale scenario")
	return cmd
}
