package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	kubectl "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
)

// newKubectlCommand runs the real kubectl, pointed at the local server's
// admin kubeconfig unless KUBECONFIG or --kubeconfig says otherwise.
func newKubectlCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl [args...]",
		Short:              "Run kubectl against this berth (defaults to DATA_DIR/admin.kubeconfig)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if os.Getenv("KUBECONFIG") == "" && !hasKubeconfigFlag(args) {
				dir := os.Getenv("BERTH_DATA_DIR")
				if dir == "" {
					dir = defaultDataDir()
				}
				_ = os.Setenv("KUBECONFIG", filepath.Join(dir, "admin.kubeconfig"))
			}
			// client-go names the client after the binary: the server then
			// records kubectl's field managers (kubectl-edit, kubectl-scale...)
			// and drift reports say kubectl, not berth.
			os.Args[0] = "kubectl"
			k := kubectl.NewDefaultKubectlCommandWithArgs(kubectl.KubectlOptions{
				PluginHandler: kubectl.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
				Arguments:     append([]string{"kubectl"}, args...),
				IOStreams:     ioStreams(),
			})
			k.SetArgs(args)
			if code := cli.Run(k); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}

func hasKubeconfigFlag(args []string) bool {
	for _, a := range args {
		if a == "--kubeconfig" || len(a) > 13 && a[:13] == "--kubeconfig=" {
			return true
		}
	}
	return false
}
