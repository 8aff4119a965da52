package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/reconciler/gitsync"
	"github.com/berth-io/berth/reconciler/leader"
)

// newGitSyncCommand runs the git synchronizer on its own.
func newGitSyncCommand() *cobra.Command {
	var (
		kubeconfig string
		opts       gitsync.Options
		qps        float32
		burst      int
		verbose    bool
	)
	cmd := &cobra.Command{
		Use:   "gitsync",
		Short: "Run the git synchronizer (GitSources → the cluster) against an API server",
		Long: `Run gitsync against the API server of a kubeconfig: it fetches every GitSource's repository,
validates each new commit whole, applies it with server-side apply as the source's ServiceAccount,
prunes what left git and reports health on the GitSource's status.

With --leader-elect (the default) several copies can run; only the holder of the Lease
kube-system/berth-gitsync acts. Use a kubeconfig for the user berth:gitsync, whose bootstrap role
grants reading everything, writing GitSource status and impersonating ServiceAccounts.`,
		Example: `  berth gitsync --kubeconfig gitsync.kubeconfig --data-dir /var/lib/berth`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			config, err := restConfig(kubeconfig, qps, burst)
			if err != nil {
				return err
			}
			if opts.DataDir == "" {
				opts.DataDir = defaultDataDir()
			}
			opts.DataDir = filepath.Join(opts.DataDir, "gitsync")
			opts.Log = commandLogger(verbose)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return gitsync.Run(ctx, config, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server and the identity to use (required)")
	f.StringVar(&opts.DataDir, "data-dir", "", "directory for the git caches (default the berth data dir); a gitsync/ folder is used inside")
	f.BoolVar(&opts.LeaderElect, "leader-elect", true, "act only while holding the Lease kube-system/berth-gitsync")
	f.DurationVar(&opts.Leader.LeaseDuration, "leader-elect-lease-duration", leader.DefaultLeaseDuration, "how long a standby waits after the leader's last renewal before taking over")
	f.DurationVar(&opts.Leader.RenewDeadline, "leader-elect-renew-deadline", leader.DefaultRenewDeadline, "how long the leader retries renewing before it stops acting")
	f.DurationVar(&opts.Leader.RetryPeriod, "leader-elect-retry-period", leader.DefaultRetryPeriod, "pause between attempts to acquire or renew the Lease")
	f.IntVar(&opts.Workers, "workers", 2, "sources synced at once")
	f.IntVar(&opts.ApplyWorkers, "apply-workers", 32, "objects of one apply step applied at once")
	f.Float32Var(&qps, "kube-api-qps", 500, "requests per second to the API server")
	f.IntVar(&burst, "kube-api-burst", 1000, "requests allowed in a burst above --kube-api-qps")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	_ = cmd.MarkFlagRequired("kubeconfig")
	return cmd
}
