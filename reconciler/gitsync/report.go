package gitsync

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/policies/published"
	"github.com/berth-io/berth/reconciler/gitsync/commitstatus"
	"github.com/berth-io/berth/reconciler/gitsync/drift"
	"github.com/berth-io/berth/reconciler/gitsync/fetch"
	"github.com/berth-io/berth/reconciler/gitsync/livebranch"
	"github.com/berth-io/berth/reconciler/gitsync/manifest"
	"github.com/berth-io/berth/reconciler/gitsync/validate"
	"github.com/berth-io/berth/reconciler/gitsync/webhook"
)

// Event reasons of drift reporting.
const (
	ReasonDriftDetected = "DriftDetected"
	ReasonDriftResolved = "DriftResolved"
	ReasonSelfHealed    = "SelfHealed"
	ReasonSelfHealFail  = "SelfHealFailed"
	ReasonLiveBranch    = "LiveBranchFailed"
	ReasonPolicies      = "PoliciesPublished"
)

// ReportOptions configure ReportBack.
type ReportOptions struct {
	// AuthorName and AuthorEmail sign live-branch commits; default
	// "berth <berth@localhost>".
	AuthorName, AuthorEmail string
	// PushAuth returns the credentials to push a remote source's live
	// branch; nil uses the source's own (its Secret, as for fetching).
	PushAuth func(ctx context.Context, src *berthv1alpha1.GitSource) (transport.AuthMethod, error)
	// CommitStatusHTTP is the HTTP client for commit statuses; nil for a
	// default one.
	CommitStatusHTTP *http.Client
}

// ReportBack makes c report back what it finds, on top of the hooks
// already in its Options (which still run first):
//
//   - Validated: publishes the commit's policies folder to every API server
//     (package policies/published), and reports the commit "pending" to
//     the commit-status API when spec.commitStatusAPI is set;
//   - Observe: finds drift in the applied objects (package drift) for the
//     status, records an Event when it changes, and commits the live state
//     to the source's live branch (package livebranch);
//   - Synced: reports each commit's result to the commit-status API.
//
// Call it before Run.
func (c *Controller) ReportBack(opts ReportOptions) {
	if opts.PushAuth == nil {
		opts.PushAuth = c.sourceAuth
	}
	r := &reporter{c: c, opts: opts, detector: drift.NewDetector(), sources: map[string]*reported{}}
	prev := c.opts.Hooks
	c.opts.Hooks = Hooks{
		Validated: func(ctx context.Context, src *berthv1alpha1.GitSource, commit Commit) error {
			if prev.Validated != nil {
				if err := prev.Validated(ctx, src, commit); err != nil {
					return err
				}
			}
			return r.validated(ctx, src, commit)
		},
		Observe: func(ctx context.Context, src *berthv1alpha1.GitSource, applied []Applied) []berthv1alpha1.DriftEntry {
			var out []berthv1alpha1.DriftEntry
			if prev.Observe != nil {
				out = prev.Observe(ctx, src, applied)
			}
			return append(out, r.observe(ctx, src, applied)...)
		},
		Synced: func(ctx context.Context, src *berthv1alpha1.GitSource, result Result) {
			if prev.Synced != nil {
				prev.Synced(ctx, src, result)
			}
			r.synced(ctx, src, result)
		},
	}
}

// Webhook is the push-webhook handler for c's sources, to mount on the
// API server at webhook.Path (public: requests are checked against each
// source's webhookSecret). See package webhook.
func (c *Controller) Webhook() http.Handler {
	return webhook.New(webhook.Config{
		Secret:  c.webhookSecret,
		Trigger: c.Trigger,
		Log:     c.log,
	})
}

// webhookSecret reads the webhookSecret of GitSource namespace/name.
func (c *Controller) webhookSecret(ctx context.Context, namespace, name string) ([]byte, error) {
	u, err := c.dynamic.Resource(berthv1alpha1.SchemeGroupVersion.WithResource("gitsources")).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, webhook.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var src berthv1alpha1.GitSource
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &src); err != nil {
		return nil, err
	}
	data, err := c.secretData(ctx, &src)
	if err != nil {
		return nil, err
	}
	if len(data[webhook.SecretKey]) == 0 {
		return nil, webhook.ErrNoSecret
	}
	return data[webhook.SecretKey], nil
}

// sourceAuth is the auth method of src's credentials.
func (c *Controller) sourceAuth(ctx context.Context, src *berthv1alpha1.GitSource) (transport.AuthMethod, error) {
	data, err := c.secretData(ctx, src)
	if err != nil || data == nil {
		return nil, err
	}
	return c.fetcher.Auth(fetch.Request{URL: src.Spec.URL, Ref: src.Spec.Ref, Credentials: fetch.CredentialsFromSecret(data)})
}

// secretData is the data of src's Secret; nil without a secretRef.
func (c *Controller) secretData(ctx context.Context, src *berthv1alpha1.GitSource) (map[string][]byte, error) {
	if src.Spec.SecretRef == nil {
		return nil, nil
	}
	s, err := c.client.CoreV1().Secrets(src.Namespace).Get(ctx, src.Spec.SecretRef.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s/%s (spec.secretRef): %w", src.Namespace, src.Spec.SecretRef.Name, err)
	}
	return s.Data, nil
}

// reporter holds what ReportBack remembers between hooks.
type reporter struct {
	c        *Controller
	opts     ReportOptions
	detector *drift.Detector

	mu      sync.Mutex
	sources map[string]*reported // by namespace/name

	// liveMu makes live-branch commits one at a time (sources may share a
	// repository; see livebranch.Commit).
	liveMu sync.Mutex
}

// reported is what was last reported for one source.
type reported struct {
	repo   *git.Repository // holds the validated commits
	remote bool
	drift  string // the drift last recorded (Event and live branch), as text; "" for none
	status string // the commit status last posted: "<sha> <state> <description>"
	// compared is the last pass's drift of each live object (by UID).
	compared map[types.UID]comparison
}

// comparison is one object's drift, valid while neither the desired
// object nor the live one's resourceVersion changes.
type comparison struct {
	desired         *unstructured.Unstructured
	resourceVersion string
	entries         []drift.Entry
}

func (r *reporter) source(src *berthv1alpha1.GitSource) *reported {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := src.Namespace + "/" + src.Name
	s, ok := r.sources[key]
	if !ok {
		s = &reported{}
		r.sources[key] = s
	}
	return s
}

// validated publishes the commit's policies and reports it pending.
func (r *reporter) validated(ctx context.Context, src *berthv1alpha1.GitSource, commit Commit) error {
	s := r.source(src)
	// Only an absolute path is read in place; file:// and the rest are
	// fetched into a cache, and the live branch is pushed back.
	remote := !strings.HasPrefix(src.Spec.URL, "/")
	r.mu.Lock()
	s.repo, s.remote = commit.Repo, remote
	r.mu.Unlock()
	r.postStatus(ctx, src, s, commit.SHA, commitstatus.Pending, "validated; applying")
	if commit.Repo == nil {
		return nil
	}
	files, err := policyFiles(commit.Repo, commit.SHA, src.Spec.Path)
	if err != nil {
		return err
	}
	name := published.SourceName(src.Namespace, src.Name)
	if len(files) == 0 {
		return published.Unpublish(ctx, r.c.client, name)
	}
	if err := published.Publish(ctx, r.c.client, name, files); err != nil {
		return err
	}
	r.c.log.Info("policies published", "source", name, "files", len(files), "commit", berthv1alpha1.ShortCommit(commit.SHA))
	return nil
}

// policyFiles reads the policies folder at root of commit sha: repository
// path → content.
func policyFiles(repo *git.Repository, sha, root string) (map[string][]byte, error) {
	c, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", berthv1alpha1.ShortCommit(sha), err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	fsys := manifest.GitTreeFS(tree)
	dir := path.Join(path.Clean("./"+root), validate.PolicyDir)
	files := map[string][]byte{}
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch strings.ToLower(path.Ext(p)) {
		case ".yaml", ".yml", ".json":
		default:
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[p] = data
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s of commit %s: %w", dir, berthv1alpha1.ShortCommit(sha), err)
	}
	return files, nil
}

// observe finds the drift of the applied objects; when it changed, it
// records an Event and commits the live state to the live branch.
func (r *reporter) observe(ctx context.Context, src *berthv1alpha1.GitSource, applied []Applied) []berthv1alpha1.DriftEntry {
	var (
		all     []drift.Entry
		changes []livebranch.Change
		drifted []Applied
		commit  string
	)
	s := r.source(src)
	r.mu.Lock()
	seen := s.compared
	r.mu.Unlock()
	compared := make(map[types.UID]comparison, len(seen))
	for _, a := range applied {
		if a.Desired == nil || a.Live == nil {
			continue
		}
		if commit == "" {
			commit = a.Desired.GetAnnotations()[CommitAnnotation]
		}
		// An object unchanged since the last pass, against the same
		// desired object, has the same drift.
		uid := a.Live.GetUID()
		cmp, ok := seen[uid]
		if !ok || cmp.desired != a.Desired || cmp.resourceVersion != a.Live.GetResourceVersion() {
			entries, err := r.detector.Detect(a.Desired, a.Live)
			if err != nil {
				r.c.log.Info("cannot compare with git", "source", src.Namespace+"/"+src.Name, "err", err)
				continue
			}
			cmp = comparison{desired: a.Desired, resourceVersion: a.Live.GetResourceVersion(), entries: entries}
		}
		compared[uid] = cmp
		entries := cmp.entries
		if len(entries) > 0 {
			all = append(all, entries...)
			changes = append(changes, livebranch.Change{File: a.File, Object: entries[0].Object, Entries: entries})
			drifted = append(drifted, a)
		}
	}
	if src.Spec.SelfHeal && len(drifted) > 0 && r.heal(ctx, src, drifted, all) {
		all, changes = nil, nil
	}
	text := "" // no drift
	if len(all) > 0 {
		text = commit + "\n" + strings.Join(entryLines(all), "\n")
	}
	r.mu.Lock()
	s.compared = compared
	changed := s.drift != text
	s.drift = text
	repo, remote := s.repo, s.remote
	r.mu.Unlock()
	if changed { // new, different (or on a new commit), or resolved
		r.record(ctx, src, repo, remote, commit, all, changes)
	}
	return statusEntries(all)
}

// heal re-applies git's state of the drifted objects (selfHeal), as the
// source's ServiceAccount with force, and says so in an Event. It reports
// whether every object was re-applied.
func (r *reporter) heal(ctx context.Context, src *berthv1alpha1.GitSource, drifted []Applied, entries []drift.Entry) bool {
	client, err := r.c.impersonating(ServiceAccountUser(src.Namespace, src.Spec.ServiceAccountName))
	for _, a := range drifted {
		if err != nil {
			break
		}
		_, err = applyOne(ctx, client, a)
	}
	rec := r.c.recorder
	if err != nil {
		r.c.log.Error("self-heal failed", "source", src.Namespace+"/"+src.Name, "err", err)
		if rec != nil {
			rec.Event(src, corev1.EventTypeWarning, ReasonSelfHealFail, "re-applying git's state failed: "+err.Error())
		}
		return false
	}
	msg := "selfHeal re-applied git's state: " + drift.Summary(entries)
	r.c.log.Info(msg, "source", src.Namespace+"/"+src.Name)
	if rec != nil {
		rec.Event(src, corev1.EventTypeNormal, ReasonSelfHealed, msg)
	}
	return true
}

// record tells people about a drift that changed: an Event, and a commit
// on the live branch.
func (r *reporter) record(ctx context.Context, src *berthv1alpha1.GitSource, repo *git.Repository, remote bool, commit string, all []drift.Entry, changes []livebranch.Change) {
	if rec := r.c.recorder; rec != nil {
		if len(all) > 0 {
			rec.Event(src, corev1.EventTypeWarning, ReasonDriftDetected, drift.Summary(all))
		} else {
			rec.Event(src, corev1.EventTypeNormal, ReasonDriftResolved, "the live objects match git again")
		}
	}
	if repo == nil || !plumbing.IsHash(commit) {
		return
	}
	cfg := livebranch.Config{Branch: src.Spec.LiveBranch, AuthorName: r.opts.AuthorName, AuthorEmail: r.opts.AuthorEmail}
	if remote {
		auth, err := r.opts.PushAuth(ctx, src)
		if err != nil {
			r.liveBranchFailed(src, err)
			return
		}
		cfg.Remote, cfg.Auth = "origin", auth
	}
	ref := src.Spec.Ref
	if ref == "" {
		ref = "HEAD"
	}
	r.liveMu.Lock()
	defer r.liveMu.Unlock()
	res, err := livebranch.Commit(ctx, repo, livebranch.Request{Source: plumbing.NewHash(commit), Ref: ref, Root: src.Spec.Path, Changes: changes}, cfg)
	if err != nil {
		r.liveBranchFailed(src, err)
		return
	}
	for _, u := range res.Unwritten {
		r.c.log.Info("drifted object not rewritten on the live branch; DRIFT.md lists it", "source", src.Namespace+"/"+src.Name, "why", u)
	}
	if res.Created {
		r.c.log.Info("live state committed", "source", src.Namespace+"/"+src.Name, "branch", cfg.Branch, "commit", res.Commit.String()[:12], "fields", len(all))
	}
}

func (r *reporter) liveBranchFailed(src *berthv1alpha1.GitSource, err error) {
	r.c.log.Error("committing the live state failed", "source", src.Namespace+"/"+src.Name, "err", err)
	if rec := r.c.recorder; rec != nil {
		rec.Event(src, corev1.EventTypeWarning, ReasonLiveBranch, "committing the live state to the live branch failed: "+err.Error())
	}
}

// synced reports the commit's result to the commit-status API.
func (r *reporter) synced(ctx context.Context, src *berthv1alpha1.GitSource, result Result) {
	if result.Commit == "" {
		return
	}
	state, desc := commitState(result)
	r.postStatus(ctx, src, r.source(src), result.Commit, state, desc)
}

// commitState maps a sync's result to a commit status.
func commitState(result Result) (commitstatus.State, string) {
	st := result.Status
	synced := meta.FindStatusCondition(st.Conditions, berthv1alpha1.ConditionSynced)
	ready := meta.FindStatusCondition(st.Conditions, berthv1alpha1.ConditionReady)
	msg := func(c *metav1.Condition, fallback string) string {
		if c != nil && c.Message != "" {
			return c.Message
		}
		return fallback
	}
	switch {
	case st.LastAttemptedCommit == result.Commit && st.LastAppliedCommit != result.Commit && synced != nil && synced.Status == metav1.ConditionFalse:
		if synced.Reason == ReasonValidationFailed {
			return commitstatus.Failure, msg(synced, "invalid")
		}
		return commitstatus.Error, msg(synced, "not applied")
	case st.LastAppliedCommit != result.Commit:
		return commitstatus.Pending, "not applied yet"
	case st.Health == berthv1alpha1.HealthDegraded:
		return commitstatus.Failure, msg(ready, "applied; degraded")
	case st.Health == berthv1alpha1.HealthHealthy:
		return commitstatus.Success, fmt.Sprintf("applied %d objects; healthy", len(st.Inventory))
	}
	return commitstatus.Pending, fmt.Sprintf("applied %d objects; progressing", len(st.Inventory))
}

// postStatus posts a commit status when src asks for them and it differs
// from the last one posted. Failures are logged: they never fail a sync.
func (r *reporter) postStatus(ctx context.Context, src *berthv1alpha1.GitSource, s *reported, sha string, state commitstatus.State, desc string) {
	if src.Spec.CommitStatusAPI == "" || !plumbing.IsHash(sha) {
		return
	}
	key := sha + " " + string(state) + " " + desc
	r.mu.Lock()
	same := s.status == key
	s.status = key
	r.mu.Unlock()
	if same {
		return
	}
	data, err := r.c.secretData(ctx, src)
	if err == nil && len(data["token"]) == 0 {
		err = errors.New("commit statuses need a token: key \"token\" of the Secret spec.secretRef names")
	}
	var rep *commitstatus.Reporter
	if err == nil {
		rep, err = commitstatus.New(commitstatus.Config{API: src.Spec.CommitStatusAPI, Token: string(data["token"]), Repo: src.Spec.URL, HTTP: r.opts.CommitStatusHTTP})
	}
	if err == nil {
		err = rep.Report(ctx, sha, commitstatus.Status{State: state, Context: commitstatus.Context(src.Namespace, src.Name), Description: desc})
	}
	if err != nil {
		r.mu.Lock()
		s.status = "" // try again next time
		r.mu.Unlock()
		r.c.log.Info("commit status not reported", "source", src.Namespace+"/"+src.Name, "commit", berthv1alpha1.ShortCommit(sha), "err", err)
	}
}

// statusEntries converts drift entries for the GitSource's status.
func statusEntries(entries []drift.Entry) []berthv1alpha1.DriftEntry {
	var out []berthv1alpha1.DriftEntry
	for _, e := range entries {
		d := berthv1alpha1.DriftEntry{
			APIVersion: e.Object.APIVersion, Kind: e.Object.Kind, Namespace: e.Object.Namespace, Name: e.Object.Name,
			Field: e.Field, Git: e.GitString(), Live: e.LiveString(), By: e.By.String(),
		}
		if !e.By.Time.IsZero() {
			t := metav1.NewTime(e.By.Time)
			d.Time = &t
		}
		out = append(out, d)
	}
	return out
}

func entryLines(entries []drift.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.String()
	}
	return out
}
