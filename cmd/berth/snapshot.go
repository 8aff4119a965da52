package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/berth-io/berth/store/snapshot"
)

func newSnapshotCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Save and restore etcd snapshots of the cluster state",
	}
	var endpoint string
	save := &cobra.Command{
		Use:     "save FILE",
		Short:   "Write a snapshot of the running server's etcd to FILE",
		Example: "  berth snapshot save /backup/berth-$(date +%F).db",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := snapshot.Save(cmd.Context(), clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second}, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved %s: revision %d, %d keys, %d bytes, hash %08x\n", info.Path, info.Revision, info.Keys, info.Size, info.Hash)
			return nil
		},
	}
	save.Flags().StringVar(&endpoint, "etcd-endpoint", "http://127.0.0.1:2379", "client URL of the etcd member to snapshot (the embedded one by default)")
	var dataDir string
	restore := &cobra.Command{
		Use:     "restore FILE --data-dir DIR",
		Short:   "Create a new data directory from a snapshot; start `berth server --data-dir DIR` on it",
		Example: "  berth snapshot restore /backup/berth.db --data-dir /var/lib/berth-restored",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataDir == "" {
				return usageError{fmt.Errorf("--data-dir is required")}
			}
			if err := snapshot.Restore(args[0], dataDir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s into %s\n", args[0], snapshot.EtcdDataDir(dataDir))
			return nil
		},
	}
	restore.Flags().StringVar(&dataDir, "data-dir", "", "new berth data directory to restore into (must not hold etcd data yet)")
	cmd.AddCommand(save, restore)
	return cmd
}

// exactArgs is cobra.ExactArgs with a usage error (exit code 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
