package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/agents/agent"
	"github.com/berth-io/berth/agents/kubelet/lifecycle"
)

func newAgentCommand() *cobra.Command {
	var (
		kubeconfig  string
		credentials string
		cfg         agent.Config
		cleanup     bool
		verbose     bool
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run this machine as a node: containerd, the Node and the kubelet",
		Long: `Run the node agent: it registers this machine as a Node (heartbeat Lease, status), starts and
supervises its own containerd under --data-dir (config, root, state, socket and runc root of its
own, so it never touches another containerd), writes the CNI bridge config for the node's pod
CIDR, builds the pause image locally (no registry needed), and runs the pods the scheduler binds
to this node as runc containers through CRI: images, env, volumes, probes, restarts with
back-off, status, graceful deletion. Pods keep running when the agent stops; the next start
adopts them.

--container-runtime-endpoint uses an existing CRI runtime instead of berth's containerd.
--cleanup removes everything the agent left (pods, containers, bridge, CNI chains, cgroups,
runtime state; images stay) and exits; run it only while the agent is stopped.

Needs root and the Debian packages containerd, runc, containernetworking-plugins, iptables and
busybox-static; the agent says which one is missing. Use a kubeconfig for the user
system:node:<node-name> in the group system:nodes.`,
		Example: `  berth agent --credentials-dir /etc/berth/node --data-dir /var/lib/berth
  berth agent --kubeconfig node.kubeconfig --data-dir /var/lib/berth
  berth agent --kubeconfig node.kubeconfig --data-dir /var/lib/berth --node-name web-1 --node-ip 10.0.0.5
  berth agent --data-dir /var/lib/berth --cleanup`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Log = commandLogger(verbose)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if cleanup {
				return agent.Cleanup(ctx, cfg)
			}
			switch {
			case credentials != "" && kubeconfig != "":
				return usageError{errors.New("--credentials-dir and --kubeconfig exclude each other")}
			case credentials != "":
				if err := cfg.UseCredentials(credentials); err != nil {
					return err
				}
			case kubeconfig == "":
				return usageError{errors.New("--kubeconfig or --credentials-dir is required (or --cleanup)")}
			default:
				config, err := restConfig(kubeconfig, 0, 0)
				if err != nil {
					return err
				}
				cfg.Rest = config
			}
			return agent.Run(ctx, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&credentials, "credentials-dir", "", "the node's credentials (berth nodes credentials): kubeconfig, serving certificate and key, cluster CA; serves container logs too")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server with the node's identity (without --credentials-dir)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the agent's containerd, pods, volumes and logs (required)")
	f.StringVar(&cfg.NodeName, "node-name", "", "name of the Node (default: the host name)")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "the node's IP address (default: the address of the default route's interface)")
	f.StringVar(&cfg.RuntimeEndpoint, "container-runtime-endpoint", "", "an existing CRI runtime, unix:///path/to/socket (default: start berth's own containerd)")
	f.StringSliceVar(&cfg.ClusterDNS, "cluster-dns", nil, "cluster DNS server addresses for pods with dnsPolicy ClusterFirst (default: the node IP, where the agent serves the cluster DNS on port 53)")
	addNetworkFlags(f, &cfg.Network, true)
	f.DurationVar(&cfg.Backoff.Initial, "crash-loop-backoff", lifecycle.DefaultBackoff.Initial, "delay before the second restart of a crashing container; it doubles after each crash")
	f.DurationVar(&cfg.Backoff.Max, "crash-loop-backoff-max", lifecycle.DefaultBackoff.Max, "longest delay between restarts of a crashing container")
	f.StringVar(&cfg.ServingCertFile, "tls-cert-file", "", "the agent's HTTPS certificate, signed by the cluster CA (serving.crt from the node's credentials); with the two below it serves container logs to the API server (kubectl logs)")
	f.StringVar(&cfg.ServingKeyFile, "tls-private-key-file", "", "the key of --tls-cert-file (serving.key)")
	f.StringVar(&cfg.ClientCAFile, "client-ca-file", "", "the cluster CA, which signs the API server's client certificate (ca.crt)")
	f.IntVar(&cfg.Port, "port", 10250, "HTTPS port for the API server (container logs)")
	f.BoolVar(&cleanup, "cleanup", false, "remove everything the agent left on this machine and exit")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}
