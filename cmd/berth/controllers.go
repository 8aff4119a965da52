package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/leader"
)

func newControllersCommand() *cobra.Command {
	var (
		kubeconfig string
		opts       controllers.Options
		qps        float32
		burst      int
		verbose    bool
		settings   controllerSettings
	)
	cmd := &cobra.Command{
		Use:   "controllers",
		Short: "Run the controller manager against an API server",
		Long: `Run the controllers (deployment, replicaset, job, ...) against the API server of a kubeconfig.

With --leader-elect (the default) several copies can run for high availability: only the holder
of the Lease kube-system/kube-controller-manager acts, and a standby takes over within the lease
duration when it dies. Use a kubeconfig for the user system:kube-controller-manager, whose
bootstrap role grants what the controllers need.`,
		Example: `  berth controllers --kubeconfig controller-manager.kubeconfig
  berth controllers --kubeconfig cm.kubeconfig --disable garbagecollector --workers 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			config, err := restConfig(kubeconfig, qps, burst)
			if err != nil {
				return err
			}
			opts.Log = commandLogger(verbose)
			m, err := controllers.New(config, opts)
			if err != nil {
				return err
			}
			if err := registerControllers(m, settings); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return m.Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server and the identity to use (required)")
	f.BoolVar(&opts.LeaderElect, "leader-elect", true, "act only while holding the Lease kube-system/kube-controller-manager")
	f.DurationVar(&opts.Leader.LeaseDuration, "leader-elect-lease-duration", leader.DefaultLeaseDuration, "how long a standby waits after the leader's last renewal before taking over")
	f.DurationVar(&opts.Leader.RenewDeadline, "leader-elect-renew-deadline", leader.DefaultRenewDeadline, "how long the leader retries renewing before it stops acting")
	f.DurationVar(&opts.Leader.RetryPeriod, "leader-elect-retry-period", leader.DefaultRetryPeriod, "pause between attempts to acquire or renew the Lease")
	f.StringSliceVar(&opts.Disabled, "disable", nil, "controllers not to run, by name (comma-separated)")
	f.IntVar(&opts.Workers, "workers", 5, "workers per controller")
	f.Float32Var(&qps, "kube-api-qps", 200, "requests per second to the API server")
	f.IntVar(&burst, "kube-api-burst", 400, "requests allowed in a burst above --kube-api-qps")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	settings.addFlags(f)
	_ = cmd.MarkFlagRequired("kubeconfig")
	return cmd
}

// restConfig reads a kubeconfig for a component: protobuf, and a client
// rate limit of qps (none when negative).
func restConfig(kubeconfig string, qps float32, burst int) (*rest.Config, error) {
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
	}
	config.ContentType = "application/vnd.kubernetes.protobuf"
	config.QPS, config.Burst = qps, burst
	return config, nil
}

// commandLogger logs text to stderr, with debug messages when verbose.
// client-go's own logging (klog) goes through it too, at debug level.
func commandLogger(verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	klog.SetSlogLogger(slog.New(debugOnly{log.Handler()}))
	return log
}

// debugOnly demotes every record to debug, for libraries that log chatter
// at info level.
type debugOnly struct{ slog.Handler }

func (d debugOnly) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.Handler.Enabled(ctx, slog.LevelDebug)
}

func (d debugOnly) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		r.Level = slog.LevelDebug
	}
	return d.Handler.Handle(ctx, r)
}

func (d debugOnly) WithAttrs(attrs []slog.Attr) slog.Handler {
	return debugOnly{d.Handler.WithAttrs(attrs)}
}

func (d debugOnly) WithGroup(name string) slog.Handler { return debugOnly{d.Handler.WithGroup(name)} }
