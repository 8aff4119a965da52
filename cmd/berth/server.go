package main

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-io/berth/reconciler/gitsync/webhook"
	"github.com/berth-io/berth/store/server"
)

func newServerCommand() *cobra.Command {
	var (
		opts         server.Options
		verbose      bool
		components   inProcess
		disableAgent bool
		repo         repoFlags
		memLimit     string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server (with an embedded etcd unless --etcd-endpoints is given)",
		Example: `  berth server --data-dir /var/lib/berth
  berth server --data-dir ./data --bind-address 0.0.0.0 --secure-port 6443
  berth server --data-dir ./data --etcd-endpoints https://10.0.0.1:2379 --etcd-cafile ca.crt --etcd-certfile c.crt --etcd-keyfile c.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Log = commandLogger(verbose)
			components.log = opts.Log
			if disableAgent {
				components.disabled = append(components.disabled, componentAgent)
			}
			if err := components.validate(); err != nil {
				return err
			}
			if repo.url != "" && !components.enabled(componentGitSync) {
				return usageError{fmt.Errorf("--repo needs gitsync, which --disable turns off")}
			}
			opts.PublicPaths = map[string]http.Handler{webhook.Path: &components.webhook}
			if memLimit != "" {
				q, err := resource.ParseQuantity(memLimit)
				if err != nil || q.Value() <= 0 {
					return usageError{fmt.Errorf("--memory-limit %q: want a size such as 512Mi", memLimit)}
				}
				debug.SetMemoryLimit(q.Value())
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			s, err := server.Start(ctx, opts)
			if err != nil {
				return err
			}
			componentErrs, err := components.start(ctx, s)
			if err == nil && repo.url != "" {
				err = repo.ensure(ctx, s)
			}
			if err != nil {
				s.Stop()
				return err
			}
			opts.Log.Info("ready", "took", time.Since(start).Round(time.Millisecond), "try", "berth kubectl --kubeconfig "+s.Kubeconfig()+" get namespaces")
			select {
			case <-ctx.Done():
			case err = <-componentErrs:
				if err != nil {
					opts.Log.Error("a component stopped; shutting down", "err", err)
				}
			}
			opts.Log.Info("shutting down")
			stop()
			s.Stop()
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DataDir, "data-dir", defaultDataDir(), "directory for etcd data, TLS certificates, admin.kubeconfig and the audit log")
	f.StringVar(&opts.BindAddress, "bind-address", "127.0.0.1", "address to serve HTTPS on")
	f.IntVar(&opts.SecurePort, "secure-port", 6443, "port to serve HTTPS on")
	f.StringSliceVar(&opts.Etcd.Endpoints, "etcd-endpoints", nil, "external etcd cluster URLs (default: an embedded etcd in DATA_DIR/etcd)")
	f.StringVar(&opts.Etcd.CAFile, "etcd-cafile", "", "CA bundle to verify the external etcd")
	f.StringVar(&opts.Etcd.CertFile, "etcd-certfile", "", "client certificate for the external etcd")
	f.StringVar(&opts.Etcd.KeyFile, "etcd-keyfile", "", "client key for the external etcd")
	f.IntVar(&opts.Etcd.ClientPort, "etcd-client-port", 2379, "client port of the embedded etcd on 127.0.0.1 (0: any free port)")
	f.IntVar(&opts.Etcd.PeerPort, "etcd-peer-port", 2380, "peer port of the embedded etcd on 127.0.0.1 (0: any free port)")
	f.StringArrayVar(&opts.PolicyDirs, "policy-dir", nil, "directory of RBAC policy files to add to the built-in set (repeatable; watched and reloaded)")
	f.StringVar(&opts.TokenAuthFile, "token-auth-file", "", "static bearer tokens, kube-apiserver CSV format: token,user,uid,\"group1,group2\"")
	f.StringVar(&opts.ServiceCIDR, "service-cluster-ip-range", "10.96.0.0/16", "range Service ClusterIPs are allocated from")
	f.StringVar(&opts.NodePortRange, "service-node-port-range", "30000-32767", "range Service NodePorts are allocated from")
	f.IntVar(&opts.MaxInFlight, "max-requests-inflight", 1000, "requests served at once before answering 429 (watches excluded)")
	f.DurationVar(&opts.CompactInterval, "etcd-compaction-interval", 5*time.Minute, "how often etcd history is compacted")
	f.StringSliceVar(&components.disabled, "disable", nil, "in-process components not to run: controllers, scheduler, gitsync, agent (run them apart with berth controllers / scheduler / gitsync / agent)")
	f.BoolVar(&disableAgent, "disable-agent", false, "do not run this machine as a node (same as --disable agent): a control plane only")
	f.StringVar(&components.agent.NodeName, "node-name", "", "name of this machine's Node (default: the host name)")
	f.StringVar(&components.agent.NodeIP, "node-ip", "", "this machine's node address (default: the address of the default route's interface)")
	addNetworkFlags(f, &components.agent.Network, false)
	repo.addFlags(f)
	components.controllers.addFlags(f)
	f.StringVar(&memLimit, "memory-limit", "", "soft limit for the Go heap (e.g. 512Mi): the collector works harder near it instead of letting the heap double (same as GOMEMLIMIT)")
	f.BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	return cmd
}

// defaultDataDir is /var/lib/berth for root and ~/.berth otherwise.
func defaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/berth"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return home + "/.berth"
	}
	return ".berth"
}
