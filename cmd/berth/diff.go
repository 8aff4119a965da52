package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-io/berth/reconciler/gitsync/diff"
)

func newDiffCommand() *cobra.Command {
	var (
		repo, base, head, path string
		kubeconfig, source     string
		namespace, output      string
		color                  string
	)
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "show what merging a change to the repository would do to the cluster",
		Long: `diff renders and validates two revisions of a GitOps repository as the git sync
does and shows what a sync of the head would change after the base:

  - objects that would be DELETED (pruned: they left git), listed first;
  - objects changed, as a unified YAML diff of normalised objects (keys sorted,
    server-populated fields dropped, the API server's defaults applied to both
    sides, so "replicas: 1" written out is no change);
  - objects added;
  - permissions: which users, groups and ServiceAccounts gain or lose which
    verbs on which resources, where, from the policies/ folder;
  - requests: the CPU and memory that workload changes add (pods × requests);
  - the validation findings of the head (an error means the sync would
    refuse it).

The base defaults to the first of origin/main, main and HEAD that exists; the
head defaults to the files of the work tree, uncommitted changes included.

With --kubeconfig the base is the live cluster instead: every object is sent
as the sync sends it (server-side apply as berth-gitsync, forced) with
dryRun=All, so the diff shows what would really change, including fields
someone changed by hand; live objects labelled berth.io/source for --source
that the head no longer has would be pruned; and the new pods are placed on
the live nodes with the scheduler's filters to name those that would not fit.

Exit status: 0 no change, 1 changes (or errors in the head), 2 usage, git or
cluster error.`,
		Example: `  berth diff                                   # the work tree against origin/main (or main)
  berth diff --base origin/main --head HEAD -o markdown > comment.md
  berth diff --path clusters/prod --kubeconfig ~/.kube/config   # against the live cluster`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("berth diff takes no arguments (got %q): use --repo, --base, --head and --path", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			format := diff.Format(output)
			if !slices.Contains(diff.Formats, format) {
				return usageError{fmt.Errorf("--output %q: use one of text, markdown, json", output)}
			}
			colored, err := useColor(color, cmd.OutOrStdout())
			if err != nil {
				return usageError{err}
			}
			if kubeconfig != "" && cmd.Flags().Changed("base") {
				return usageError{errors.New("--base and --kubeconfig: with --kubeconfig the base is the live cluster")}
			}
			if os.Getenv("GOGC") == "" {
				debug.SetGCPercent(400) // a short batch, as in berth validate
			}
			if namespace == "" {
				// Objects without a namespace go to the source's, as
				// the sync puts them.
				namespace, _, _ = strings.Cut(source, "/")
			}
			r := diff.Repo{Dir: repo, Base: base, Head: head, Path: path}
			opts := diff.Options{Namespace: namespace, PolicyDir: r.PolicyDir()}
			var res *diff.Result
			if kubeconfig == "" {
				res, err = r.Compare(opts)
			} else {
				res, err = liveDiff(cmd, r, !cmd.Flags().Changed("path"), kubeconfig, diff.LiveOptions{Options: opts, Source: source})
			}
			if err != nil {
				return usageError{err}
			}
			if err := diff.Write(cmd.OutOrStdout(), res, format, colored); err != nil {
				return usageError{fmt.Errorf("writing the diff: %w", err)}
			}
			if res.Changes() {
				return errChanges
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	f := cmd.Flags()
	f.StringVar(&repo, "repo", ".", "the repository's work tree")
	f.StringVar(&base, "base", "", "the revision merged into (default: the first of origin/main, main, HEAD)")
	f.StringVar(&head, "head", "", "the revision to merge (default: the work tree's files, uncommitted changes included)")
	f.StringVar(&path, "path", ".", "the directory of the repository the GitSource syncs (default: with --kubeconfig the --source's spec.path, else the root)")
	f.StringVar(&kubeconfig, "kubeconfig", "", "compare with the live cluster of this kubeconfig (server-side dry run) instead of --base")
	f.StringVar(&source, "source", "kube-system/repo", "the GitSource (namespace/name) whose labelled objects would be pruned (with --kubeconfig)")
	f.StringVarP(&namespace, "namespace", "n", "", "namespace of namespaced objects that set none (default: the --source's namespace)")
	f.StringVarP(&output, "output", "o", string(diff.FormatText), "output format: text, markdown (a pull-request comment) or json")
	f.StringVar(&color, "color", "auto", "colour the text output: auto (on a terminal, unless NO_COLOR is set), always or never")
	return cmd
}

// errChanges is diff's exit 1: the changes were already printed.
var errChanges = errors.New("merging would change the cluster")

// liveDiff compares the head of r with the cluster of kubeconfig; with
// sourcePath, r's path is the GitSource's spec.path when the source exists.
func liveDiff(cmd *cobra.Command, r diff.Repo, sourcePath bool, kubeconfig string, opts diff.LiveOptions) (*diff.Result, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig %s: %w", kubeconfig, err)
	}
	if sourcePath {
		p, found, err := diff.SourcePath(cmd.Context(), cfg, opts.Source)
		if err != nil {
			return nil, err
		}
		if found {
			r.Path = p
			opts.PolicyDir = r.PolicyDir()
		}
	}
	head, err := r.OpenHead(opts.Options)
	if err != nil {
		return nil, err
	}
	res, err := diff.Live(cmd.Context(), cfg, head.Report, opts)
	if err != nil {
		return nil, err
	}
	res.Head = head.Revision
	return res, nil
}

// useColor decides whether the text output is coloured.
func useColor(mode string, w io.Writer) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		if os.Getenv("NO_COLOR") != "" {
			return false, nil
		}
		f, ok := w.(*os.File)
		if !ok {
			return false, nil
		}
		info, err := f.Stat()
		return err == nil && info.Mode()&os.ModeCharDevice != 0, nil
	}
	return false, fmt.Errorf("--color %q: use auto, always or never", mode)
}
