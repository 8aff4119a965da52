package main

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/store/server"
)

func newNodesCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nodes",
		Short: "Manage the machines that join the cluster as nodes",
	}
	var (
		dataDir, serverURL, output string
		ips, hostnames             []string
	)
	credentials := &cobra.Command{
		Use:   "credentials NAME --node-ip IP -o DIR",
		Short: "Write the credentials a machine needs to join the cluster as node NAME",
		Long: `Write into DIR what the agent of node NAME needs, issued by the cluster CA of the server whose
data directory is --data-dir (run it on the server's machine; the server need not be running):

  DIR/kubeconfig    reaches the API server as system:node:NAME in system:nodes, which may change
                    only its own Node, its Lease and the pods bound to it
  DIR/serving.crt   the agent's HTTPS certificate (for pods/log and exec through the API server),
  DIR/serving.key   valid for NAME, every --node-ip and every --hostname
  DIR/ca.crt        the cluster CA

Copy DIR to the machine (the key and kubeconfig are secrets: mode 0600) and start the agent with it.`,
		Example: `  berth nodes credentials worker-1 --node-ip 192.168.1.21 --server https://192.168.1.10:6443 -o /tmp/worker-1
  scp -r /tmp/worker-1 root@192.168.1.21:/etc/berth/node`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			node := args[0]
			if output == "" {
				return usageError{fmt.Errorf("-o/--output DIR is required")}
			}
			for _, ip := range ips {
				if net.ParseIP(ip) == nil {
					return usageError{fmt.Errorf("--node-ip %q is not an IP address", ip)}
				}
			}
			p, err := server.LoadPKI(dataDir)
			if err != nil {
				return err
			}
			if serverURL == "" {
				if serverURL, err = server.AdminServerURL(dataDir); err != nil {
					return fmt.Errorf("%w (or name the API server with --server)", err)
				}
			}
			if err := server.WriteNodeCredentials(p, serverURL, output, node, append(ips, hostnames...)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the credentials of node %s (API server %s) to %s\n", node, serverURL, output)
			for _, name := range []string{server.NodeKubeconfigFile, server.NodeServingCertFile, server.NodeServingKeyFile, server.NodeCAFile} {
				fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", filepath.Join(output, name))
			}
			return nil
		},
	}
	f := credentials.Flags()
	f.StringVar(&dataDir, "data-dir", defaultDataDir(), "data directory of the berth server whose cluster CA issues the credentials")
	f.StringVar(&serverURL, "server", "", "API server URL the node's kubeconfig points at, as the node reaches it (default: the one in the server's admin.kubeconfig)")
	f.StringSliceVar(&ips, "node-ip", nil, "IP address of the node, covered by its serving certificate (repeatable)")
	f.StringSliceVar(&hostnames, "hostname", nil, "extra DNS name of the node, covered by its serving certificate (repeatable; NAME always is)")
	f.StringVarP(&output, "output", "o", "", "directory to write the credentials into (created)")
	cmd.AddCommand(credentials)
	return cmd
}
