package job

import (
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// maxPodChanges caps the pods one sync creates or deletes, as in
// kube-controller-manager.
const maxPodChanges = 500

// Reasons and messages of the conditions a job ends with (Kubernetes').
const (
	msgCompleted       = "Reached expected number of succeeded pods"
	msgBackoffExceeded = "Job has reached the specified backoff limit"
	msgDeadline        = "Job was active longer than specified deadline"
)

// input is what plan decides from: a job, the pods it controls and what
// the controller remembers about it.
type input struct {
	job  *batchv1.Job
	pods []*corev1.Pod
	// backoff is the job's failure record before this sync.
	backoff backoff
	now     time.Time
	// mayManage says the pod cache holds every creation and deletion the
	// controller asked for: pods may be created or deleted.
	mayManage bool
	// backoffBase and backoffMax are the pod failure back-off.
	backoffBase, backoffMax time.Duration
}

// event is an event to record on the job once its status is written.
type event struct{ kind, reason, message string }

// decision is what a sync does, in this order: delete remove (each after
// dropping its finalizer: they never count) and stop (keeping it: they
// count as failed), create one pod per entry of create (its completion
// index, or noIndex), write status, then drop the finalizer of untrack
// (whose end the written status records), record events, and look again
// after requeue if it is not zero.
type decision struct {
	status  batchv1.JobStatus
	remove  []*corev1.Pod
	stop    []*corev1.Pod
	create  []int
	untrack []*corev1.Pod
	events  []event
	requeue time.Duration
	// backoff is the failure record once status is written.
	backoff backoff
}

// plan decides one sync of a job that has not finished. It follows
// Kubernetes' protocol for counting pods exactly once: a finished pod that
// still carries the job-tracking finalizer is first recorded in
// status.uncountedTerminatedPods (or, for an Indexed job's successes, in
// completedIndexes), then loses its finalizer, and is moved into the
// succeeded/failed counters once the cache shows it without the finalizer
// (or gone). The job ends with the interim SuccessCriteriaMet or
// FailureTarget condition first, and Complete or Failed once no pod is
// left uncounted or terminating.
func plan(in input) decision {
	job := in.job
	d := decision{status: *job.Status.DeepCopy()}
	st := &d.status
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	suspended := ptr.Deref(job.Spec.Suspend, false)
	now := metav1.NewTime(in.now)
	t := d.count(job, in.pods)
	d.backoff = in.backoff.after(t.newSucceeded, t.newFailed)
	if st.StartTime == nil && !suspended {
		st.StartTime = &now
	}

	target, final := d.verdict(job, t, in.pods, now)
	active := t.active
	switch {
	case final != nil:
		// The job is over: its running pods are stopped.
		d.stop = active
		t.terminating += int32(len(active))
		active = nil
	case in.mayManage && job.DeletionTimestamp == nil:
		active = manage(&d, in, active, t.succeeded, t.done, &t.terminating)
		if complete(job, t.succeeded, len(active)+len(d.create)) {
			target, final = completed(now)
		} else {
			d.suspension(suspended, now)
		}
	case complete(job, t.succeeded, len(active)):
		target, final = completed(now)
	}
	d.record(job, t, final)

	st.Active = int32(len(active) + len(d.create))
	var ready int32
	for _, p := range active {
		if isReady(p) {
			ready++
		}
	}
	st.Ready = &ready
	st.Terminating = &t.terminating
	if target != nil {
		st.Conditions = append(st.Conditions, *target)
	}
	d.finish(final, t.terminating, now)
	return d
}

// tally is how a job's pods stand at the start of a sync.
type tally struct {
	// active pods run; terminating ones are being deleted.
	active      []*corev1.Pod
	terminating int32
	// newSucceeded and newFailed ended and are not recorded yet;
	// unaccounted are tracked pods that have not ended.
	newSucceeded, newFailed, unaccounted []*corev1.Pod
	// done are an Indexed job's completed indexes, new ones included.
	done intervals
	// succeeded and failed count every end seen, recorded or not.
	succeeded, failed int
}

// count first moves into the counters the recorded pods whose finalizer is
// gone, then sorts pods. Recorded pods that kept their finalizer, and
// ended pods of an Indexed job without a valid index, are untracked
// without being counted (again).
func (d *decision) count(job *batchv1.Job, pods []*corev1.Pod) tally {
	st := &d.status
	uncounted := st.UncountedTerminatedPods
	withFinalizer := sets.New[types.UID]()
	for _, p := range pods {
		if tracked(p) {
			withFinalizer.Insert(p.UID)
		}
	}
	var n int
	uncounted.Succeeded, n = keepOnly(uncounted.Succeeded, withFinalizer)
	st.Succeeded += int32(n)
	uncounted.Failed, n = keepOnly(uncounted.Failed, withFinalizer)
	st.Failed += int32(n)
	recorded := sets.New(uncounted.Succeeded...).Insert(uncounted.Failed...)

	var t tally
	indexed := isIndexed(job)
	completions := int(ptr.Deref(job.Spec.Completions, 0))
	for _, p := range pods {
		switch {
		case isActive(p):
			t.active = append(t.active, p)
		case isTerminating(p):
			t.terminating++
		}
		switch ix := completionIndex(p); {
		case !tracked(p):
		case recorded.Has(p.UID):
			d.untrack = append(d.untrack, p)
		case indexed && (ix == noIndex || ix >= completions):
			if !isActive(p) {
				d.untrack = append(d.untrack, p)
			}
		case p.Status.Phase == corev1.PodSucceeded:
			t.newSucceeded = append(t.newSucceeded, p)
		case isFailed(p, job):
			t.newFailed = append(t.newFailed, p)
		default:
			t.unaccounted = append(t.unaccounted, p)
		}
	}
	t.succeeded = int(st.Succeeded) + len(uncounted.Succeeded) + len(t.newSucceeded)
	if indexed {
		t.done = parseIntervals(st.CompletedIndexes, completions).with(indexesOf(t.newSucceeded)...)
		t.succeeded = t.done.total()
	}
	t.failed = int(st.Failed) + len(uncounted.Failed) + len(t.newFailed)
	return t
}

// verdict says whether the job has met its end already (final), or meets
// it now by failing (target, the interim condition to add, and final).
// Before an active deadline it asks to look again when it passes.
func (d *decision) verdict(job *batchv1.Job, t tally, pods []*corev1.Pod, now metav1.Time) (target, final *batchv1.JobCondition) {
	st := &d.status
	deadline := job.Spec.ActiveDeadlineSeconds
	if c := condition(st.Conditions, batchv1.JobSuccessCriteriaMet); c != nil {
		return nil, newCondition(batchv1.JobComplete, c.Reason, c.Message, now)
	}
	if c := condition(st.Conditions, batchv1.JobFailureTarget); c != nil {
		return nil, newCondition(batchv1.JobFailed, c.Reason, c.Message, now)
	}
	switch {
	case t.failed > int(ptr.Deref(job.Spec.BackoffLimit, 6)) || pastBackoffLimitOnFailure(job, pods):
		target = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, msgBackoffExceeded, now)
	case deadline != nil && !ptr.Deref(job.Spec.Suspend, false):
		left := time.Duration(*deadline)*time.Second - now.Sub(st.StartTime.Time)
		if left > 0 {
			d.requeue = left
			return nil, nil
		}
		target = newCondition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, msgDeadline, now)
	default:
		return nil, nil
	}
	return target, newCondition(batchv1.JobFailed, target.Reason, target.Message, now)
}

// completed are the conditions of a job that reached its completions.
func completed(now metav1.Time) (target, final *batchv1.JobCondition) {
	target = newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, msgCompleted, now)
	return target, newCondition(batchv1.JobComplete, target.Reason, target.Message, now)
}

// record puts the ends seen in this sync in the status; their finalizers
// go once the status holds them. When the job is over or being deleted,
// nothing will count its running pods later: a failed job counts them as
// failed, otherwise they are let go.
func (d *decision) record(job *batchv1.Job, t tally, final *batchv1.JobCondition) {
	st := &d.status
	uncounted := st.UncountedTerminatedPods
	indexed := isIndexed(job)
	for _, p := range t.newSucceeded {
		if !indexed {
			uncounted.Succeeded = append(uncounted.Succeeded, p.UID)
		}
		d.untrack = append(d.untrack, p)
	}
	for _, p := range t.newFailed {
		uncounted.Failed = append(uncounted.Failed, p.UID)
		d.untrack = append(d.untrack, p)
	}
	if final != nil || job.DeletionTimestamp != nil {
		for _, p := range t.unaccounted {
			if final != nil && final.Type == batchv1.JobFailed {
				uncounted.Failed = append(uncounted.Failed, p.UID)
			}
			d.untrack = append(d.untrack, p)
		}
	}
	if indexed {
		st.CompletedIndexes = t.done.String()
		st.Succeeded = int32(t.done.total())
	}
}

// finish sets the job's final condition once no pod is left uncounted or
// terminating, with completionTime for a success, and the event saying so.
func (d *decision) finish(final *batchv1.JobCondition, terminating int32, now metav1.Time) {
	st := &d.status
	u := st.UncountedTerminatedPods
	if final == nil || len(u.Succeeded)+len(u.Failed) > 0 || terminating > 0 {
		return
	}
	setCondition(&st.Conditions, *final)
	if final.Type == batchv1.JobComplete {
		st.CompletionTime = &now
		d.events = append(d.events, event{corev1.EventTypeNormal, "Completed", "Job completed"})
		return
	}
	d.events = append(d.events, event{corev1.EventTypeWarning, final.Reason, final.Message})
}

// manage decides the pods to create and delete for a running job and
// returns the active pods that stay.
func manage(d *decision, in input, active []*corev1.Pod, succeeded int, done intervals, terminating *int32) []*corev1.Pod {
	job := in.job
	if ptr.Deref(job.Spec.Suspend, false) {
		d.remove = active
		*terminating += int32(len(active))
		return nil
	}
	parallelism := int(ptr.Deref(job.Spec.Parallelism, 1))
	want := parallelism
	switch {
	case job.Spec.Completions == nil && succeeded > 0:
		// One success ends a job without completions: start nothing new.
		want = len(active)
	case job.Spec.Completions != nil:
		want = max(min(int(*job.Spec.Completions)-succeeded, parallelism), 0)
	}
	if rm := removals(job, active, len(active)-want); len(rm) > 0 {
		rm = rm[:min(len(rm), maxPodChanges)]
		d.remove = rm
		*terminating += int32(len(rm))
		return slices.DeleteFunc(slices.Clone(active), func(p *corev1.Pod) bool { return slices.Contains(rm, p) })
	}
	busy := 0
	if onlyReplaceFailed(job) {
		busy = int(*terminating)
	}
	missing := min(want-busy-len(active), maxPodChanges)
	if missing <= 0 {
		return active
	}
	if wait := d.backoff.remaining(in.now, in.backoffBase, in.backoffMax); wait > 0 {
		d.requeue = shortest(d.requeue, wait)
		return active
	}
	if !isIndexed(job) {
		d.create = slices.Repeat([]int{noIndex}, missing)
		return active
	}
	held := indexesOf(active)
	if onlyReplaceFailed(job) {
		held = append(held, indexesOf(terminatingOf(in.pods))...)
	}
	d.create = firstPending(done, held, missing, int(*job.Spec.Completions))
	return active
}

// removals picks at least count of active pods to delete: for an Indexed
// job first those without a valid index and the duplicates of an index,
// then the least useful ones.
func removals(job *batchv1.Job, active []*corev1.Pod, count int) []*corev1.Pod {
	var rm []*corev1.Pod
	rest := slices.Clone(active)
	if isIndexed(job) {
		completions := int(ptr.Deref(job.Spec.Completions, 0))
		leastUseful(rest)
		seen := map[int]bool{}
		var keep []*corev1.Pod
		// The most useful pod of each index stays: walk from the end.
		for i := len(rest) - 1; i >= 0; i-- {
			p := rest[i]
			ix := completionIndex(p)
			if ix == noIndex || ix >= completions || seen[ix] {
				rm = append(rm, p)
				continue
			}
			seen[ix] = true
			keep = append(keep, p)
		}
		slices.Reverse(keep)
		rest = keep
	}
	if need := count - len(rm); need > 0 {
		leastUseful(rest)
		rm = append(rm, rest[:min(need, len(rest))]...)
	}
	return rm
}

// complete reports whether job has succeeded: its completions are reached
// (or, without completions, one pod succeeded) and nothing runs.
func complete(job *batchv1.Job, succeeded, active int) bool {
	if active > 0 {
		return false
	}
	if job.Spec.Completions == nil {
		return succeeded > 0
	}
	return succeeded >= int(*job.Spec.Completions)
}

// suspension sets the Suspended condition of a managed job and, when it
// flips, the start time and an event: suspending clears startTime (the
// deadline counts only while running), resuming restarts it.
func (d *decision) suspension(suspended bool, now metav1.Time) {
	st := &d.status
	var cur *batchv1.JobCondition
	if i := slices.IndexFunc(st.Conditions, func(c batchv1.JobCondition) bool { return c.Type == batchv1.JobSuspended }); i >= 0 {
		cur = &st.Conditions[i]
	}
	switch {
	case suspended && cur == nil:
		st.Conditions = append(st.Conditions, *newCondition(batchv1.JobSuspended, "JobSuspended", "Job suspended", now))
	case suspended && cur.Status != corev1.ConditionTrue:
		*cur = *newCondition(batchv1.JobSuspended, "JobSuspended", "Job suspended", now)
	case !suspended && cur != nil && cur.Status == corev1.ConditionTrue:
		*cur = *newCondition(batchv1.JobSuspended, "JobResumed", "Job resumed", now)
		cur.Status = corev1.ConditionFalse
		st.StartTime = &now
		d.events = append(d.events, event{corev1.EventTypeNormal, "Resumed", "Job resumed"})
		return
	default:
		return
	}
	st.StartTime = nil
	d.events = append(d.events, event{corev1.EventTypeNormal, "Suspended", "Job suspended"})
}

// pastBackoffLimitOnFailure reports whether the containers of a job whose
// pods restart in place (restartPolicy OnFailure) restarted as often as
// its backoffLimit allows.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var total int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, cs := range slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses) {
			total += cs.RestartCount
		}
	}
	limit := ptr.Deref(job.Spec.BackoffLimit, 6)
	if limit == 0 {
		return total > 0
	}
	return total >= limit
}

// keepOnly splits uids into those in keep and the number of others.
func keepOnly(uids []types.UID, keep sets.Set[types.UID]) ([]types.UID, int) {
	var out []types.UID
	for _, u := range uids {
		if keep.Has(u) {
			out = append(out, u)
		}
	}
	return out, len(uids) - len(out)
}

func terminatingOf(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if isTerminating(p) {
			out = append(out, p)
		}
	}
	return out
}

// shortest is the earlier of two requeue delays, where 0 means none.
func shortest(a, b time.Duration) time.Duration {
	if a == 0 || (b > 0 && b < a) {
		return b
	}
	return a
}

// condition is the True condition of type t in conds, if any.
func condition(conds []batchv1.JobCondition, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range conds {
		if conds[i].Type == t && conds[i].Status == corev1.ConditionTrue {
			return &conds[i]
		}
	}
	return nil
}

func newCondition(t batchv1.JobConditionType, reason, message string, now metav1.Time) *batchv1.JobCondition {
	return &batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastProbeTime: now, LastTransitionTime: now}
}

// setCondition puts c in conds, replacing one of the same type.
func setCondition(conds *[]batchv1.JobCondition, c batchv1.JobCondition) {
	for i := range *conds {
		if (*conds)[i].Type == c.Type {
			(*conds)[i] = c
			return
		}
	}
	*conds = append(*conds, c)
}
