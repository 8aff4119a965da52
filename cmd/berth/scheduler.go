package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/reconciler/leader"
	"github.com/berth-io/berth/reconciler/scheduler"
)

func newSchedulerCommand() *cobra.Command {
	var (
		kubeconfig string
		opts       scheduler.ComponentOptions
		qps        float32
		burst      int
		verbose    bool
	)
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the scheduler against an API server",
		Long: `Run the scheduler against the API server of a kubeconfig: it places every pending pod whose
spec.schedulerName is default-scheduler (or empty) on a node and binds it (pods/binding), and
tells why when a pod fits nowhere (a FailedScheduling event and the PodScheduled condition).

With --leader-elect (the default) several copies can run for high availability: only the holder
of the Lease kube-system/kube-scheduler binds, and a standby takes over within the lease duration
when it dies. Use a kubeconfig for the user system:kube-scheduler, whose bootstrap role grants
what the scheduler needs.`,
		Example: `  berth scheduler --kubeconfig scheduler.kubeconfig
  berth scheduler --kubeconfig scheduler.kubeconfig --leader-elect=false --percentage-of-nodes-to-score 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			config, err := restConfig(kubeconfig, qps, burst)
			if err != nil {
				return err
			}
			opts.Log = commandLogger(verbose)
			opts.LeaderElection.Log = opts.Log
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return scheduler.Serve(ctx, config, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server and the identity to use (required)")
	f.BoolVar(&opts.LeaderElect, "leader-elect", true, "bind only while holding the Lease kube-system/kube-scheduler")
	f.DurationVar(&opts.LeaderElection.LeaseDuration, "leader-elect-lease-duration", leader.DefaultLeaseDuration, "how long a standby waits after the leader's last renewal before taking over")
	f.DurationVar(&opts.LeaderElection.RenewDeadline, "leader-elect-renew-deadline", leader.DefaultRenewDeadline, "how long the leader retries renewing before it stops binding")
	f.DurationVar(&opts.LeaderElection.RetryPeriod, "leader-elect-retry-period", leader.DefaultRetryPeriod, "pause between attempts to acquire or renew the Lease")
	f.StringVar(&opts.SchedulerName, "scheduler-name", "default-scheduler", "spec.schedulerName of the pods to place")
	f.Int32Var(&opts.Placement.PercentageOfNodesToScore, "percentage-of-nodes-to-score", 0, "share of the nodes to find feasible before choosing (0: adapt to the cluster size, as kube-scheduler does)")
	f.IntVar(&opts.Placement.Parallelism, "parallelism", 0, "goroutines that filter and score nodes (0: GOMAXPROCS)")
	f.Float32Var(&qps, "kube-api-qps", scheduler.DefaultClientQPS, "requests per second to the API server")
	f.IntVar(&burst, "kube-api-burst", scheduler.DefaultClientBurst, "requests allowed in a burst above --kube-api-qps")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	_ = cmd.MarkFlagRequired("kubeconfig")
	return cmd
}
