// Command berth is the GitOps orchestrator: one binary for the API server,
// the reconcilers, the node agent and the tools around them.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "berth makes a live cluster match a git repository",
		Long:          "berth is a GitOps orchestrator: one binary that runs a Kubernetes-compatible API server on etcd,\nthe controllers, the node agent and the tools to validate and diff manifests.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newServerCommand(),
		newKubectlCommand(),
		newControllersCommand(),
		newSchedulerCommand(),
		newHollowCommand(),
		newAgentCommand(),
		newNodesCommand(),
		newSnapshotCommand(),
		newBenchCommand(),
		newImagesCommand(),
		newVersionCommand(),
		newValidateCommand(),
		newDiffCommand(),
		newSyncCommand(),
		newGitSyncCommand(),
	)
	return root
}

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ error }

func exitCode(err error) int {
	if _, ok := err.(usageError); ok {
		return 2
	}
	return 1
}
