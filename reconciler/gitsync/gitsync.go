// Package gitsync keeps the cluster in sync with GitSources: for each
// source it fetches the commit its ref points at (package fetch), renders
// and validates the whole commit (packages manifest and validate: the API
// server's own checks, errors at file:line), plans the apply order and the
// prune list (package plan), applies with server-side apply under the
// field manager "berth-gitsync" as the source's ServiceAccount, prunes what
// left git, evaluates the health of what it applied (package health) and
// reports all of it on the GitSource's status and as Events.
//
// A sync is triggered by a change of the GitSource, by a commit to a local
// repository (fsnotify on its refs), by Trigger (the push webhook), and by
// the source's interval. Failed fetches are retried with back-off. A
// commit that cannot be fetched, rendered or validated, a missing ref and
// a force-push all leave the cluster as the last applied commit left it,
// and say so in status.
//
// Every object applied carries the label berth.io/source=<namespace>.<name>
// and the annotations berth.io/commit (the commit applied) and
// berth.io/file (the file it came from). Only objects with the label are
// ever pruned.
package gitsync

import (
	"context"
	"os"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

// Labels and annotations gitsync puts on the objects it applies.
const (
	// SourceLabel names the GitSource that applied the object, as
	// "<namespace>.<name>".
	SourceLabel = "berth.io/source"
	// CommitAnnotation is the commit the object was last applied from: a
	// commit that leaves an object as it was (and nobody changed it since)
	// does not send it again, so it keeps the earlier commit.
	CommitAnnotation = "berth.io/commit"
	// FileAnnotation is the repository file the object came from.
	FileAnnotation = "berth.io/file"
	// AcceptForcePushAnnotation, set on a GitSource to a commit hash (or
	// its first 7+ characters), lets that commit be applied although it
	// does not contain the applied commit (history was rewritten).
	AcceptForcePushAnnotation = "berth.io/accept-force-push"
)

// FieldManager is the server-side apply field manager of every write.
const FieldManager = "berth-gitsync"

// Component names gitsync in Events.
const Component = "berth-gitsync"

// LeaseNamespace and LeaseName are the Lease gitsync instances elect a
// leader with.
const (
	LeaseNamespace = "kube-system"
	LeaseName      = "berth-gitsync"
)

// SourceLabelValue is the value of SourceLabel for the GitSource
// namespace/name.
func SourceLabelValue(namespace, name string) string { return namespace + "." + name }

// Run syncs every GitSource of the API server cfg points at until ctx is
// done (leader-elected when opts.LeaderElect), reporting drift, policies
// and commit statuses back (ReportBack). cfg should authenticate as
// berth:gitsync (store/server.GitSyncUser).
//
// A caller that also serves the push webhook builds the controller itself:
//
//	ctl, err := gitsync.New(cfg, opts)
//	ctl.ReportBack(gitsync.ReportOptions{})
//	hook.Set(ctl.Webhook()) // webhook.Late mounted on the API server
//	err = ctl.Run(ctx)
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	c, err := New(cfg, opts)
	if err != nil {
		return err
	}
	c.ReportBack(ReportOptions{})
	return c.Run(ctx)
}

// RepoSourceName and RepoSourceNamespace name the GitSource that
// `berth server --repo` creates.
const (
	RepoSourceName      = "repo"
	RepoSourceNamespace = "kube-system"
)

// RepoSource is the GitSource `berth server --repo URL_OR_PATH
// [--repo-path P] [--repo-ref R]` creates: kube-system/repo, syncing url
// at ref (empty: its HEAD) from directory path (empty: the root), applied
// as serviceAccount (a ServiceAccount in kube-system that the bootstrap
// policy must grant what the repository manages).
func RepoSource(url, path, ref, serviceAccount string) *berthv1alpha1.GitSource {
	if path == "" {
		path = "."
	}
	// A directory given relative to where berth started ("--repo ./site")
	// becomes absolute, as a GitSource's local URL must be.
	if st, err := os.Stat(url); err == nil && st.IsDir() && !filepath.IsAbs(url) {
		if abs, err := filepath.Abs(url); err == nil {
			url = abs
		}
	}
	return &berthv1alpha1.GitSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: berthv1alpha1.SchemeGroupVersion.String(), Kind: "GitSource"},
		ObjectMeta: metav1.ObjectMeta{Name: RepoSourceName, Namespace: RepoSourceNamespace},
		Spec: berthv1alpha1.GitSourceSpec{
			URL:                url,
			Ref:                ref,
			Path:               path,
			ServiceAccountName: serviceAccount,
			Interval:           &metav1.Duration{Duration: time.Minute},
		},
	}
}
