package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berth-io/berth/agents/proxy/bench"
)

func newBenchProxyCommand() *cobra.Command {
	s := bench.Settings{}
	var output string
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Measure the service proxy: full sync, one change, and connection latency to a ClusterIP at 10 and at many services",
		Long: `Measure the proxy in throwaway network namespaces (needs root and nftables): a node
namespace holding the proxy's table and a pod namespace answering on one address per
endpoint of the measured service. Services are read from memory, so the figures are the
proxy's own: rules, diff, netlink transaction and kernel.

It measures berth's table (one verdict-map lookup per packet) and then the same services
as a linear chain of rules, one per service port (the iptables design, the measured
service last), and prints both side by side: full sync time, time to apply one changed
service, a resync that lists the table back from the kernel, and TCP connect and
first-byte latency to the ClusterIP at 10 services and at --services services.

Progress goes to stderr, the results to stdout.`,
		Example: `  berth bench proxy
  berth bench proxy --services 10000 --endpoints 10 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want table or json", output)}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			report, err := bench.Run(ctx, s, progressTo(cmd.ErrOrStderr()))
			if report == nil {
				return err
			}
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "stopped early: %v; figures so far:\n", err)
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
	f.IntVar(&s.Services, "services", 10000, "services in the many-services measurements (each with one TCP port)")
	f.IntVar(&s.Endpoints, "endpoints", 10, "ready endpoints per service")
	f.IntVar(&s.Changes, "changes", 50, "single-service changes timed")
	f.IntVar(&s.Connections, "connections", 2000, "connections per latency figure")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}
