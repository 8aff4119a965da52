package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-io/berth/agents/hollow"
	"github.com/berth-io/berth/store/server"
)

func newHollowCommand() *cobra.Command {
	var (
		kubeconfig, cpu, memory string
		opts                    hollow.Options
		verbose                 bool
	)
	cmd := &cobra.Command{
		Use:   "hollow",
		Short: "Run simulated nodes that play kubelet for the pods bound to them",
		Long: `Register simulated ("hollow") nodes and keep them alive: Leases in kube-node-lease renewed,
Ready conditions reported, and the pods bound to them marked Running and Ready with an IP from the
node's pod CIDR, without running any container. For testing and benchmarking the control plane at
thousands of nodes, as kubemark and kwok do for Kubernetes.

Pods with restartPolicy Never or OnFailure can script their end with annotations:
  hollow.berth.io/run-for: 2s     the containers exit 0 after 2 s
  hollow.berth.io/fail: "true"    they exit 1 instead (OnFailure: restart after a crash-loop back-off)

Every node uses the identity of the kubeconfig: the admin's, or the user berth:hollow in the
group berth:hollow-nodes, whom the bootstrap role system:node lets act for any node. A real
node's identity (system:node:<name>, from berth nodes credentials) may only act for itself.`,
		Example: `  berth hollow --kubeconfig admin.kubeconfig --nodes 100
  berth hollow --kubeconfig admin.kubeconfig --nodes 5000 --cpu 16 --memory 64Gi --startup-delay 2s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.CPU, err = resource.ParseQuantity(cpu); err != nil {
				return usageError{fmt.Errorf("--cpu %q: %w", cpu, err)}
			}
			if opts.Memory, err = resource.ParseQuantity(memory); err != nil {
				return usageError{fmt.Errorf("--memory %q: %w", memory, err)}
			}
			// The fleet limits its heartbeats itself; pod updates are bounded by its workers.
			config, err := restConfig(kubeconfig, -1, 0)
			if err != nil {
				return err
			}
			client, err := kubernetes.NewForConfig(config)
			if err != nil {
				return fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
			}
			opts.Log = commandLogger(verbose)
			opts.KubeletVersion = server.KubernetesVersion
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fleet, err := hollow.Start(ctx, client, opts)
			if err != nil {
				return err
			}
			<-ctx.Done()
			fleet.Wait()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server and the identity the nodes use (required)")
	f.IntVar(&opts.Nodes, "nodes", 1, "how many nodes to run (at most 16384)")
	f.StringVar(&opts.NamePrefix, "name-prefix", "hollow-", "start of every node name; the node's index follows")
	f.IntVar(&opts.FirstIndex, "first-index", 0, "index of the first node, so that several processes can share a cluster")
	f.StringVar(&cpu, "cpu", "8", "CPU capacity of each node")
	f.StringVar(&memory, "memory", "32Gi", "memory capacity of each node")
	f.IntVar(&opts.Pods, "pods", 110, "pod capacity of each node")
	f.StringToStringVar(&opts.Labels, "label", nil, "labels added to every node (key=value, repeatable)")
	f.DurationVar(&opts.StartupDelay, "startup-delay", 0, "how long a bound pod stays ContainerCreating before it runs")
	f.DurationVar(&opts.LeaseDuration, "lease-duration", 0, "leaseDurationSeconds of the node Leases (default 40s)")
	f.DurationVar(&opts.LeaseRenewInterval, "lease-renew-interval", 0, "how often each node renews its Lease (default 10s)")
	f.DurationVar(&opts.StatusReportInterval, "status-report-interval", 0, "how often each node reports its conditions when nothing changed (default 5m)")
	f.IntVar(&opts.Workers, "workers", 0, "concurrent API calls for heartbeats and for pods, each (default 16)")
	f.Float64Var(&opts.HeartbeatQPS, "heartbeat-qps", 0, "registrations, Lease renewals and status reports per second at most (default 1000)")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	_ = cmd.MarkFlagRequired("kubeconfig")
	return cmd
}
