package gitsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync/fetch"
	"github.com/berth-io/berth/reconciler/gitsync/health"
	"github.com/berth-io/berth/reconciler/gitsync/manifest"
	"github.com/berth-io/berth/reconciler/gitsync/plan"
	"github.com/berth-io/berth/reconciler/gitsync/validate"
)

// Commit is a commit that rendered and validated.
type Commit struct {
	// SHA is the commit hash.
	SHA string
	// Report holds the rendered objects, the files read and the
	// repository's policy.
	Report *validate.Report
	// Repo holds the commit (the repository itself when local, else the
	// fetch cache).
	Repo *git.Repository
}

// Applied is one object of a source's inventory.
type Applied struct {
	// Desired is the object as applied (labels and annotations included);
	// nil when only the inventory in status is known (after a restart).
	Desired *unstructured.Unstructured
	// Ref names it; File is where it is in the repository.
	Ref  plan.Ref
	File string
	// Live is the object in the cluster, nil when missing.
	Live   *unstructured.Unstructured
	Health health.Result

	resource schema.GroupVersionResource
	// digest identifies what was sent, owned the fields the apply gave
	// gitsync (ownedFields); unchanged: it was not sent again.
	digest    string
	owned     string
	unchanged bool
}

// Result is what one sync did.
type Result struct {
	// Commit is the commit fetched ("" when the fetch failed).
	Commit string
	// Applied: Commit was applied by this sync.
	Applied bool
	// Status is the status written.
	Status berthv1alpha1.GitSourceStatus
}

// Reasons of the Synced, Healthy and Ready conditions.
const (
	ReasonApplied          = "Applied"
	ReasonFetchFailed      = "FetchFailed"
	ReasonRefNotFound      = "RefNotFound"
	ReasonForcePushed      = "ForcePushed"
	ReasonValidationFailed = "ValidationFailed"
	ReasonApplyFailed      = "ApplyFailed"
	ReasonPruneFailed      = "PruneFailed"
	ReasonSuspended        = "Suspended"
	ReasonHealthy          = "Healthy"
	ReasonProgressing      = "Progressing"
	ReasonDegraded         = "Degraded"
	ReasonNoDrift          = "NoDrift"
	ReasonDrifted          = "Drifted"
)

// attempt is the state of one sync as it goes.
type attempt struct {
	src    *berthv1alpha1.GitSource
	st     *sourceState
	status *berthv1alpha1.GitSourceStatus
	// synced is the Synced condition to set (Status True or False).
	synced  metav1.Condition
	applied bool
	event   func()
}

func (a *attempt) fail(reason, message string, errs ...berthv1alpha1.SyncError) {
	a.synced = metav1.Condition{Type: berthv1alpha1.ConditionSynced, Status: metav1.ConditionFalse, Reason: reason, Message: message}
	a.status.Errors = errs
}

// sync is one level-based pass over source key: fetch, and if there is a
// new commit (or a new spec) render, validate, apply and prune it; then
// evaluate health and write the status. It returns when to look again.
func (c *Controller) sync(ctx context.Context, key string) (time.Duration, error) {
	src, err := c.get(key)
	if err != nil {
		return 0, err
	}
	if src == nil {
		c.forget(key)
		return 0, nil
	}
	st := c.state(key)
	// The status this controller wrote last is the truth; the informer's
	// copy may not have caught up with it yet. After a restart (or a new
	// term) the stored status is.
	if st.written != nil {
		src.Status = *st.written.DeepCopy()
	}
	a := &attempt{src: src, st: st, status: src.Status.DeepCopy()}
	a.status.ObservedGeneration = src.Generation
	if prev := src.Status.Condition(berthv1alpha1.ConditionSynced); prev != nil {
		a.synced = *prev
	}
	interval := time.Minute
	if src.Spec.Interval != nil && src.Spec.Interval.Duration > 0 {
		interval = src.Spec.Interval.Duration
	}

	var retry error
	if src.Spec.Suspend {
		st.stopWatch()
		a.fail(ReasonSuspended, "syncing is suspended (spec.suspend); the objects applied so far stay as they are")
	} else {
		c.ensureWatch(ctx, key, src, st)
		retry = c.fetchAndApply(ctx, a)
	}

	observeStart := time.Now()
	applied := c.observe(ctx, a)
	observed := time.Since(observeStart)
	if err := c.writeStatus(ctx, a, applied); err != nil {
		return 0, err
	}
	c.log.Debug("synced", "source", key, "health", a.status.Health, "objects", len(applied), "observe", observed, "total", time.Since(observeStart))
	if a.event != nil {
		a.event()
	}
	if c.opts.Hooks.Synced != nil {
		c.opts.Hooks.Synced(ctx, src, Result{Commit: st.fetched, Applied: a.applied, Status: *a.status})
	}
	if retry != nil {
		return 0, retry
	}
	if a.status.Health == berthv1alpha1.HealthProgressing {
		return c.opts.HealthRecheck, nil
	}
	return interval, nil
}

// fetchAndApply fetches the source's ref and applies its commit when it is
// new. The error is a fetch failure to retry with back-off; every other
// problem is in a's status.
func (c *Controller) fetchAndApply(ctx context.Context, a *attempt) error {
	src, st := a.src, a.st
	res, err := c.fetch(ctx, src, st)
	if err != nil {
		reason := ReasonFetchFailed
		if errors.Is(err, fetch.ErrRefNotFound) {
			reason = ReasonRefNotFound
		}
		kept := "nothing was applied yet"
		if a.status.LastAppliedCommit != "" {
			kept = "keeping commit " + berthv1alpha1.ShortCommit(a.status.LastAppliedCommit) + " applied"
		}
		msg := fmt.Sprintf("fetching %s failed (%s); %s; retrying with back-off", fetch.Redact(src.Spec.URL), err, kept)
		a.fail(reason, msg, berthv1alpha1.SyncError{Message: err.Error()})
		c.warnOnce(a, reason, msg)
		st.failedCommit = ""
		return err
	}
	commit := res.Commit.Hash.String()
	a.status.LastFetchedCommit = commit
	if commit == st.applied && src.Generation == st.generation && st.desired != nil {
		if a.synced.Status != metav1.ConditionTrue { // recovered from a fetch failure or a suspension
			a.synced = metav1.Condition{Type: berthv1alpha1.ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonApplied, Message: st.appliedMessage}
			a.status.Errors = nil
		}
		return nil // up to date
	}
	accept := src.Annotations[AcceptForcePushAnnotation]
	if commit == st.failedCommit && src.Generation == st.failedGeneration && accept == st.failedAccept {
		return nil // already reported; waiting for a new commit, spec or acceptance
	}
	st.failedCommit, st.failedGeneration, st.failedAccept = commit, src.Generation, accept
	a.status.LastAttemptedCommit = commit

	if prev := a.status.LastAppliedCommit; prev != "" && prev != commit && plumbing.IsHash(prev) {
		ok, err := fetch.IsAncestor(res.Repo, plumbing.NewHash(prev), res.Commit)
		if err != nil {
			a.fail(ReasonFetchFailed, fmt.Sprintf("reading the history of %s: %v", berthv1alpha1.ShortCommit(commit), err))
			return nil
		}
		if !ok && !acceptsForcePush(src, commit) {
			msg := fmt.Sprintf("%s was force-pushed: its new commit %s does not contain the applied commit %s; keeping %s applied. To deploy the rewritten history: kubectl annotate gitsource -n %s %s %s=%s",
				refName(src), berthv1alpha1.ShortCommit(commit), berthv1alpha1.ShortCommit(prev), berthv1alpha1.ShortCommit(prev),
				src.Namespace, src.Name, AcceptForcePushAnnotation, commit)
			a.fail(ReasonForcePushed, msg, berthv1alpha1.SyncError{Message: msg})
			c.warnOnce(a, ReasonForcePushed, msg)
			return nil
		}
	}

	tree, err := res.Commit.Tree()
	if err != nil {
		a.fail(ReasonFetchFailed, fmt.Sprintf("reading the tree of commit %s: %v", berthv1alpha1.ShortCommit(commit), err))
		return nil
	}
	validateStart := time.Now()
	report := validate.Check([]validate.Source{{FS: manifest.GitTreeFS(tree), Root: src.Spec.Path}}, validate.Options{DefaultNamespace: src.Namespace})
	if errs := findingErrors(report.Findings); len(errs) > 0 {
		msg := fmt.Sprintf("commit %s is invalid (%s; first: %s); nothing was applied%s",
			berthv1alpha1.ShortCommit(commit), count(len(errs), "error"), errs[0].String(), keeping(a.status.LastAppliedCommit))
		a.fail(ReasonValidationFailed, msg, errs...)
		c.warnOnce(a, ReasonValidationFailed, msg)
		return nil
	}
	if h := c.opts.Hooks.Validated; h != nil {
		if err := h(ctx, src, Commit{SHA: commit, Report: report, Repo: res.Repo}); err != nil {
			msg := fmt.Sprintf("commit %s: %v; nothing was applied%s", berthv1alpha1.ShortCommit(commit), err, keeping(a.status.LastAppliedCommit))
			a.fail(ReasonValidationFailed, msg, berthv1alpha1.SyncError{Message: err.Error()})
			c.warnOnce(a, ReasonValidationFailed, msg)
			return nil
		}
	}

	c.log.Debug("validated", "source", src.Namespace+"/"+src.Name, "commit", commit, "objects", len(report.Objects), "took", time.Since(validateStart))
	applyStart := time.Now()
	outcome := c.apply(ctx, src, commit, report, st, a.status)
	c.log.Debug("apply done", "source", src.Namespace+"/"+src.Name, "objects", len(outcome.applied), "pruned", outcome.pruned, "errors", len(outcome.errors), "took", time.Since(applyStart))
	if len(outcome.errors) > 0 && !outcome.pruneFailed {
		msg := fmt.Sprintf("applying commit %s failed for %s (first: %s)%s", berthv1alpha1.ShortCommit(commit),
			count(len(outcome.errors), "object"), outcome.errors[0].String(), keeping(a.status.LastAppliedCommit))
		a.fail(ReasonApplyFailed, msg, outcome.errors...)
		c.warnOnce(a, ReasonApplyFailed, msg)
		return nil
	}
	a.applied = true
	a.status.LastAppliedCommit = commit
	st.desired, st.healthCache = outcome.applied, nil
	if outcome.pruneFailed {
		// The commit's objects are in place; apply and prune again with
		// back-off (st.applied stays behind so the next sync does).
		msg := fmt.Sprintf("commit %s applied but pruning failed for %s (first: %s)", berthv1alpha1.ShortCommit(commit), count(len(outcome.errors), "object"), outcome.errors[0].String())
		a.fail(ReasonPruneFailed, msg, outcome.errors...)
		c.warnOnce(a, ReasonPruneFailed, msg)
		st.failedCommit = ""
		return errors.New(msg)
	}
	st.applied, st.generation = commit, src.Generation
	st.failedCommit = ""
	a.status.Errors = nil
	now := metav1.Now()
	a.status.LastSyncTime = &now
	msg := fmt.Sprintf("applied commit %s: %d objects", berthv1alpha1.ShortCommit(commit), len(outcome.applied))
	if outcome.unchanged > 0 {
		msg += fmt.Sprintf(" (%d unchanged)", outcome.unchanged)
	}
	if outcome.pruned > 0 {
		msg += fmt.Sprintf(", pruned %d", outcome.pruned)
	}
	a.synced = metav1.Condition{Type: berthv1alpha1.ConditionSynced, Status: metav1.ConditionTrue, Reason: ReasonApplied, Message: msg}
	st.appliedMessage = msg
	a.event = func() { c.recorder.Event(src, "Normal", ReasonApplied, msg+" ("+commitSubject(res)+")") }
	c.log.Info("applied", "source", src.Namespace+"/"+src.Name, "commit", commit, "objects", len(outcome.applied), "pruned", outcome.pruned)
	return nil
}

// fetch fetches the source's ref when a fetch is due: always for a local
// repository (it is read in place), otherwise when triggered, when the
// interval passed, after a failure or when the spec changed.
func (c *Controller) fetch(ctx context.Context, src *berthv1alpha1.GitSource, st *sourceState) (*fetch.Result, error) {
	_, local := fetch.LocalPath(src.Spec.URL)
	key := src.Spec.URL + "\x00" + src.Spec.Ref
	interval := time.Minute
	if src.Spec.Interval != nil {
		interval = src.Spec.Interval.Duration
	}
	triggered := st.triggered.Swap(false)
	if !fetchDue(local, triggered, st.last != nil, st.fetchKey == key, time.Since(st.lastFetch), interval) {
		return st.last, nil
	}
	req := fetch.Request{URL: src.Spec.URL, Ref: src.Spec.Ref}
	if ref := src.Spec.SecretRef; ref != nil {
		secret, err := c.client.CoreV1().Secrets(src.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading the credentials Secret %s/%s (spec.secretRef): %w", src.Namespace, ref.Name, err)
		}
		req.Credentials = fetch.CredentialsFromSecret(secret.Data)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.FetchTimeout)
	defer cancel()
	res, err := c.fetcher.Fetch(ctx, req)
	if err != nil {
		st.last = nil
		return nil, err
	}
	st.last, st.lastFetch, st.fetchKey, st.fetched = res, time.Now(), key, res.Commit.Hash.String()
	return res, nil
}

// fetchDue decides whether a source's repository is fetched now: a local
// repository always (it is read in place, which costs little), a remote
// one when triggered (webhook, ref watch), when it was never fetched or
// its URL or ref changed, and when its interval has passed.
func fetchDue(local, triggered, fetchedBefore, sameSpec bool, sinceLast, interval time.Duration) bool {
	return local || triggered || !fetchedBefore || !sameSpec || sinceLast >= interval
}

// ensureWatch watches a local repository's refs so that a commit syncs
// at once.
func (c *Controller) ensureWatch(ctx context.Context, key string, src *berthv1alpha1.GitSource, st *sourceState) {
	path, local := fetch.LocalPath(src.Spec.URL)
	if !local {
		st.stopWatch()
		return
	}
	if st.watchPath == path {
		return
	}
	st.stopWatch()
	wctx, cancel := context.WithCancel(ctx)
	ns, name := src.Namespace, src.Name
	if err := fetch.WatchRefs(wctx, path, func() { c.Trigger(ns, name) }); err != nil {
		cancel()
		c.log.Info("cannot watch the repository; relying on the interval", "source", key, "err", err)
		return
	}
	st.watchCancel, st.watchPath = cancel, path
}

// writeStatus sets the conditions and writes status if it changed.
func (c *Controller) writeStatus(ctx context.Context, a *attempt, applied []Applied) error {
	s := a.status
	gen := a.src.Generation
	if a.synced.Type == "" {
		a.synced = metav1.Condition{Type: berthv1alpha1.ConditionSynced, Status: metav1.ConditionUnknown, Reason: "Pending", Message: "waiting for the first sync"}
	}
	a.synced.ObservedGeneration = gen
	meta.SetStatusCondition(&s.Conditions, a.synced)
	healthy := healthCondition(s.Health, applied)
	healthy.ObservedGeneration = gen
	meta.SetStatusCondition(&s.Conditions, healthy)
	drifted := metav1.Condition{Type: berthv1alpha1.ConditionDrifted, Status: metav1.ConditionFalse, Reason: ReasonNoDrift, Message: "the live objects match git", ObservedGeneration: gen}
	if len(s.Drift) > 0 {
		drifted.Status, drifted.Reason = metav1.ConditionTrue, ReasonDrifted
		first := s.Drift[0]
		drifted.Message = fmt.Sprintf("%s from git; first: %s %s %s: %s → %s by %s", count(len(s.Drift), "field differs"),
			first.Kind, nsName(first.Namespace, first.Name), first.Field, first.Git, first.Live, first.By)
	}
	meta.SetStatusCondition(&s.Conditions, drifted)
	meta.SetStatusCondition(&s.Conditions, readyCondition(a.synced, healthy, gen))

	if equality.Semantic.DeepEqual(&a.src.Status, s) {
		return nil
	}
	if onlyProgress(&a.src.Status, s) && time.Since(a.st.writtenAt) < progressWriteInterval {
		return nil // a rollout's progress is written at most once a second; the re-check writes it
	}
	a.st.written = nil
	// A JSON patch replaces the whole status: cheap for a large inventory,
	// and what the status no longer has (errors, drift) goes away.
	data, err := json.Marshal([]map[string]any{{"op": "add", "path": "/status", "value": s}})
	if err != nil {
		return err
	}
	_, err = c.dynamic.Resource(berthv1alpha1.GitSourcesResource).Namespace(a.src.Namespace).
		Patch(ctx, a.src.Name, types.JSONPatchType, data, metav1.PatchOptions{FieldManager: FieldManager}, "status")
	if err != nil {
		return fmt.Errorf("writing the status of GitSource %s/%s: %w", a.src.Namespace, a.src.Name, err)
	}
	a.st.written, a.st.writtenAt = s.DeepCopy(), time.Now()
	return nil
}

// progressWriteInterval is how often a status that only reports a
// rollout's progress is written: a status with thousands of objects is
// large, and every write goes to every watcher.
const progressWriteInterval = time.Second

// onlyProgress reports whether cur differs from old only in the progress
// of objects that were and still are progressing.
func onlyProgress(old, cur *berthv1alpha1.GitSourceStatus) bool {
	if old.Health != berthv1alpha1.HealthProgressing || cur.Health != berthv1alpha1.HealthProgressing ||
		old.LastAppliedCommit != cur.LastAppliedCommit || old.LastAttemptedCommit != cur.LastAttemptedCommit ||
		old.LastFetchedCommit != cur.LastFetchedCommit || len(old.Errors) != len(cur.Errors) || len(old.Drift) != len(cur.Drift) {
		return false
	}
	for _, t := range []string{berthv1alpha1.ConditionSynced, berthv1alpha1.ConditionDrifted} {
		o, c := old.Condition(t), cur.Condition(t)
		if o == nil || c == nil || o.Status != c.Status || o.Message != c.Message {
			return false
		}
	}
	return true
}

func healthCondition(h berthv1alpha1.HealthStatus, applied []Applied) metav1.Condition {
	c := metav1.Condition{Type: berthv1alpha1.ConditionHealthy}
	var bad []string
	count := 0
	for _, o := range applied {
		if o.Health.Status != berthv1alpha1.HealthHealthy {
			count++
			if len(bad) < 3 {
				bad = append(bad, fmt.Sprintf("%s: %s %s", o.Ref, strings.ToLower(string(o.Health.Status)), o.Health.Message))
			}
		}
	}
	switch h {
	case berthv1alpha1.HealthHealthy:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ReasonHealthy, fmt.Sprintf("all %d objects are healthy", len(applied))
	case berthv1alpha1.HealthDegraded:
		c.Status, c.Reason = metav1.ConditionFalse, ReasonDegraded
		c.Message = fmt.Sprintf("%d of %d objects not healthy: %s", count, len(applied), strings.Join(bad, "; "))
	case berthv1alpha1.HealthProgressing:
		c.Status, c.Reason = metav1.ConditionFalse, ReasonProgressing
		c.Message = fmt.Sprintf("%d of %d objects not healthy yet: %s", count, len(applied), strings.Join(bad, "; "))
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, "Pending", "nothing applied yet"
	}
	return c
}

func readyCondition(synced, healthy metav1.Condition, gen int64) metav1.Condition {
	c := metav1.Condition{Type: berthv1alpha1.ConditionReady, ObservedGeneration: gen}
	switch {
	case synced.Status != metav1.ConditionTrue:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, synced.Reason, synced.Message
	case healthy.Status != metav1.ConditionTrue:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, healthy.Reason, healthy.Message
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, ReasonHealthy, synced.Message+"; "+healthy.Message
	}
	if c.Status == metav1.ConditionFalse && synced.Status == metav1.ConditionUnknown {
		c.Status = metav1.ConditionUnknown
	}
	return c
}

// warnOnce records a warning Event unless the source already reports the
// same reason and message.
func (c *Controller) warnOnce(a *attempt, reason, message string) {
	if prev := a.src.Status.Condition(berthv1alpha1.ConditionSynced); prev != nil && prev.Reason == reason && prev.Message == message {
		return
	}
	src := a.src
	a.event = func() { c.recorder.Event(src, "Warning", reason, message) }
}

// findingErrors are the errors of a validation report, as status errors.
func findingErrors(findings []validate.Finding) []berthv1alpha1.SyncError {
	var out []berthv1alpha1.SyncError
	for _, f := range findings {
		if f.Severity != validate.SeverityError {
			continue
		}
		out = append(out, berthv1alpha1.SyncError{File: f.File, Line: f.Line, Column: f.Column, Object: f.Object, Field: f.Field, Message: f.Message})
	}
	return out
}

func acceptsForcePush(src *berthv1alpha1.GitSource, commit string) bool {
	v := src.Annotations[AcceptForcePushAnnotation]
	return len(v) >= 7 && strings.HasPrefix(commit, v)
}

// count is "1 error", "2 errors"; a phrase with a verb agrees too:
// "1 field differs", "2 fields differ".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if word, verb, ok := strings.Cut(noun, " "); ok {
		return fmt.Sprintf("%d %ss %s", n, word, strings.TrimSuffix(verb, "s"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func keeping(applied string) string {
	if applied == "" {
		return ""
	}
	return "; commit " + berthv1alpha1.ShortCommit(applied) + " stays applied"
}

func refName(src *berthv1alpha1.GitSource) string {
	if src.Spec.Ref == "" {
		return "HEAD of " + fetch.Redact(src.Spec.URL)
	}
	return src.Spec.Ref
}

func commitSubject(res *fetch.Result) string {
	subject, _, _ := strings.Cut(strings.TrimSpace(res.Commit.Message), "\n")
	return fmt.Sprintf("%q by %s", subject, res.Commit.Author.Name)
}

func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
