package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync"
)

// newSyncCommand is `berth sync`: the state of GitSources, for people and
// CD pipelines.
func newSyncCommand() *cobra.Command {
	var kubeconfig, namespace string
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Show and wait for the sync of GitSources",
	}
	cmd.PersistentFlags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig (default $KUBECONFIG, else DATA_DIR/admin.kubeconfig)")
	cmd.PersistentFlags().StringVarP(&namespace, "namespace", "n", "", "namespace of the source (default: any namespace)")
	cmd.AddCommand(newSyncStatusCommand(&kubeconfig, &namespace), newSyncWaitCommand(&kubeconfig, &namespace))
	return cmd
}

func newSyncStatusCommand(kubeconfig, namespace *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status [SOURCE]",
		Short: "Print GitSources as a table, or one source in detail",
		Long: `Print every GitSource (of --namespace, or of all namespaces) as a table, or, given SOURCE
("name" or "namespace/name"), its conditions, errors with file:line, drift and the health of
every object it applied.`,
		Example: `  berth sync status
  berth sync status kube-system/repo`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := gitSourceClient(*kubeconfig)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if len(args) == 0 {
				list, err := listSources(ctx, client, *namespace)
				if err != nil {
					return err
				}
				printSourceTable(cmd.OutOrStdout(), list)
				return nil
			}
			gs, err := findSource(ctx, client, *namespace, args[0])
			if err != nil {
				return err
			}
			printSourceDetail(cmd.OutOrStdout(), gs)
			return nil
		},
	}
}

func newSyncWaitCommand(kubeconfig, namespace *string) *cobra.Command {
	var (
		timeout time.Duration
		commit  string
	)
	cmd := &cobra.Command{
		Use:   "wait SOURCE",
		Short: "Wait until a source's commit is applied and healthy",
		Long: `Wait until the GitSource SOURCE ("name" or "namespace/name") has applied --commit (default:
the latest commit it fetched) and every object it applied is healthy, printing progress.

Exit status: 0 when applied and healthy; 1 when the commit is refused (invalid, forbidden,
force-pushed), an object degrades, or --timeout passes; 2 for a usage error.`,
		Example: `  git push && berth sync wait kube-system/repo --commit $(git rev-parse HEAD) --timeout 5m`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("wait takes one SOURCE (name or namespace/name)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if commit != "" && (len(commit) < 7 || strings.Trim(strings.ToLower(commit), "0123456789abcdef") != "") {
				return usageError{fmt.Errorf("--commit %q: want a commit hash (at least 7 hex digits)", commit)}
			}
			client, err := gitSourceClient(*kubeconfig)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			gs, err := findSource(ctx, client, *namespace, args[0])
			if err != nil {
				return err
			}
			return waitForSync(ctx, client, gs.Namespace, gs.Name, strings.ToLower(commit), timeout, cmd.OutOrStdout())
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
	cmd.Flags().StringVar(&commit, "commit", "", "the commit to wait for (default: the latest fetched)")
	return cmd
}

// defaultKubeconfig is $KUBECONFIG, else the local server's admin
// kubeconfig, as `berth kubectl` picks it.
func defaultKubeconfig() string {
	if k := os.Getenv("KUBECONFIG"); k != "" {
		return k
	}
	dir := os.Getenv("BERTH_DATA_DIR")
	if dir == "" {
		dir = defaultDataDir()
	}
	return filepath.Join(dir, "admin.kubeconfig")
}

func gitSourceClient(kubeconfig string) (dynamic.NamespaceableResourceInterface, error) {
	if kubeconfig == "" {
		kubeconfig = defaultKubeconfig()
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig %s: %w (pass --kubeconfig or set KUBECONFIG)", kubeconfig, err)
	}
	d, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return d.Resource(berthv1alpha1.GitSourcesResource), nil
}

func listSources(ctx context.Context, client dynamic.NamespaceableResourceInterface, namespace string) ([]berthv1alpha1.GitSource, error) {
	list, err := client.Namespace(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing GitSources: %w", err)
	}
	out := make([]berthv1alpha1.GitSource, len(list.Items))
	for i := range list.Items {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &out[i]); err != nil {
			return nil, fmt.Errorf("reading GitSource %s: %w", list.Items[i].GetName(), err)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out, nil
}

// findSource finds SOURCE: "namespace/name", or a name in --namespace, or
// the only source of that name in any namespace.
func findSource(ctx context.Context, client dynamic.NamespaceableResourceInterface, namespace, source string) (*berthv1alpha1.GitSource, error) {
	if ns, name, ok := strings.Cut(source, "/"); ok {
		namespace, source = ns, name
	}
	if namespace != "" {
		u, err := client.Namespace(namespace).Get(ctx, source, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("GitSource %s/%s not found (berth sync status lists them)", namespace, source)
		}
		if err != nil {
			return nil, err
		}
		var gs berthv1alpha1.GitSource
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &gs); err != nil {
			return nil, err
		}
		return &gs, nil
	}
	all, err := listSources(ctx, client, "")
	if err != nil {
		return nil, err
	}
	var found []berthv1alpha1.GitSource
	for _, gs := range all {
		if gs.Name == source {
			found = append(found, gs)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("no GitSource named %q in any namespace (berth sync status lists them)", source)
	case 1:
		return &found[0], nil
	}
	return nil, usageError{fmt.Errorf("GitSource %q exists in several namespaces: name one as namespace/name", source)}
}

func printSourceTable(w io.Writer, list []berthv1alpha1.GitSource) {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tREF\tCOMMIT\tREADY\tSYNCED\tHEALTH\tOBJECTS\tAGE\tMESSAGE")
	for _, gs := range list {
		st := &gs.Status
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", gs.Namespace, gs.Name, orDash(gs.Spec.Ref),
			orDash(berthv1alpha1.ShortCommit(st.LastAppliedCommit)), st.ConditionStatus(berthv1alpha1.ConditionReady),
			st.ConditionStatus(berthv1alpha1.ConditionSynced), orDash(string(st.Health)), len(st.Inventory),
			age(gs.CreationTimestamp), st.Message())
	}
	tw.Flush()
}

func printSourceDetail(w io.Writer, gs *berthv1alpha1.GitSource) {
	st := &gs.Status
	fmt.Fprintf(w, "Source:    %s/%s\n", gs.Namespace, gs.Name)
	fmt.Fprintf(w, "URL:       %s\n", gs.Spec.URL)
	fmt.Fprintf(w, "Ref:       %s   Path: %s   Applied as: serviceaccount %s/%s\n", orDash(gs.Spec.Ref), orDash(gs.Spec.Path), gs.Namespace, gs.Spec.ServiceAccountName)
	fmt.Fprintf(w, "Commits:   fetched %s, attempted %s, applied %s\n", orDash(st.LastFetchedCommit), orDash(st.LastAttemptedCommit), orDash(st.LastAppliedCommit))
	fmt.Fprintf(w, "Health:    %s\n", orDash(string(st.Health)))
	fmt.Fprintln(w, "Conditions:")
	for _, c := range st.Conditions {
		fmt.Fprintf(w, "  %-8s %-7s %-17s %s\n", c.Type, c.Status, c.Reason, c.Message)
	}
	if len(st.Errors) > 0 {
		fmt.Fprintln(w, "Errors:")
		for _, e := range st.Errors {
			fmt.Fprintf(w, "  %s\n", e.String())
		}
	}
	if len(st.Drift) > 0 {
		fmt.Fprintln(w, "Drift:")
		for _, d := range st.Drift {
			fmt.Fprintf(w, "  %s %s: %s: %s → %s by %s\n", d.Kind, nsSlashName(d.Namespace, d.Name), d.Field, d.Git, d.Live, orDash(d.By))
		}
	}
	if len(st.Inventory) > 0 {
		fmt.Fprintln(w, "Objects:")
		tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, "  KIND\tNAMESPACE\tNAME\tHEALTH\tFILE\tMESSAGE")
		for _, o := range st.Inventory {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", o.Kind, orDash(o.Namespace), o.Name, o.Health, orDash(o.File), o.Message)
		}
		tw.Flush()
	}
}

// waitForSync polls the source until the commit is applied and healthy.
func waitForSync(ctx context.Context, client dynamic.NamespaceableResourceInterface, namespace, name, commit string, timeout time.Duration, out io.Writer) error {
	last := ""
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		gs, err := findSource(ctx, client, namespace, name)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if gs != nil {
			v := judgeSync(gs, commit)
			if v.progress != last {
				fmt.Fprintln(out, v.progress)
				last = v.progress
			}
			switch {
			case v.done:
				return nil
			case v.failed != "":
				return errors.New(v.failed)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %v waiting for %s/%s: %s", timeout, namespace, name, last)
		case <-tick.C:
		}
	}
}

// syncVerdict is where a wait stands.
type syncVerdict struct {
	progress string
	done     bool
	failed   string
}

// judgeSync decides, from a source's status, whether commit (a prefix;
// "" for the latest fetched) is applied and healthy, has failed, or is on
// its way.
func judgeSync(gs *berthv1alpha1.GitSource, commit string) syncVerdict {
	st := &gs.Status
	target := commit
	if target == "" {
		target = st.LastFetchedCommit
	}
	short := berthv1alpha1.ShortCommit(target)
	synced := st.Condition(berthv1alpha1.ConditionSynced)
	counts := map[berthv1alpha1.HealthStatus]int{}
	var notHealthy []string
	for _, o := range st.Inventory {
		counts[o.Health]++
		if o.Health != berthv1alpha1.HealthHealthy && len(notHealthy) < 3 {
			notHealthy = append(notHealthy, fmt.Sprintf("%s: %s", o.String(), o.Message))
		}
	}
	switch {
	case target == "":
		return syncVerdict{progress: "waiting for the first fetch"}
	case gs.Status.ObservedGeneration < gs.Generation:
		return syncVerdict{progress: "waiting for gitsync to see the latest spec"}
	case !strings.HasPrefix(st.LastAppliedCommit, target):
		if strings.HasPrefix(st.LastAttemptedCommit, target) && synced != nil && synced.Status == metav1.ConditionFalse {
			switch synced.Reason {
			case gitsync.ReasonValidationFailed, gitsync.ReasonApplyFailed, gitsync.ReasonForcePushed:
				msg := fmt.Sprintf("commit %s was not applied (%s): %s", short, synced.Reason, synced.Message)
				if len(st.Errors) > 1 || len(st.Errors) == 1 && !strings.Contains(synced.Message, st.Errors[0].String()) {
					msg = fmt.Sprintf("commit %s was not applied (%s); nothing of it is in the cluster:", short, synced.Reason)
					for _, e := range st.Errors {
						msg += "\n  " + e.String()
					}
				}
				return syncVerdict{progress: "commit " + short + ": " + synced.Reason, failed: msg}
			}
		}
		if synced != nil && synced.Status == metav1.ConditionFalse {
			return syncVerdict{progress: fmt.Sprintf("commit %s: not applied yet (%s: %s)", short, synced.Reason, synced.Message)}
		}
		return syncVerdict{progress: fmt.Sprintf("commit %s: not applied yet (applied: %s)", short, orDash(berthv1alpha1.ShortCommit(st.LastAppliedCommit)))}
	}
	progress := fmt.Sprintf("commit %s applied: %d objects, %d healthy, %d progressing, %d degraded, %d missing", short, len(st.Inventory),
		counts[berthv1alpha1.HealthHealthy], counts[berthv1alpha1.HealthProgressing], counts[berthv1alpha1.HealthDegraded], counts[berthv1alpha1.HealthMissing])
	if len(notHealthy) > 0 {
		progress += " (" + strings.Join(notHealthy, "; ") + ")"
	}
	switch st.Health {
	case berthv1alpha1.HealthHealthy:
		return syncVerdict{progress: progress, done: true}
	case berthv1alpha1.HealthDegraded:
		return syncVerdict{progress: progress, failed: fmt.Sprintf("commit %s degraded: %s", short, strings.Join(notHealthy, "; "))}
	}
	return syncVerdict{progress: progress}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func nsSlashName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func age(t metav1.Time) string {
	if t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(time.Since(t.Time))
}
