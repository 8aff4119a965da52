package lifecycle

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/berth-io/berth/agents/kubelet/podspec"
	"github.com/berth-io/berth/agents/kubelet/probe"
)

// ActionKind says what an Action does.
type ActionKind int

// The actions a plan may hold, carried out in order.
const (
	// CreateSandbox runs a new sandbox with Attempt.
	CreateSandbox ActionKind = iota
	// StartContainer creates and starts container Name (Kind) with
	// RestartCount in the ready sandbox (or the one just created).
	StartContainer
	// KillContainer runs the preStop hook of ContainerID and stops it with
	// the pod's grace period.
	KillContainer
	// RemoveContainer removes the exited ContainerID, and for an old run
	// (ReasonOldRun) its log and termination message files.
	RemoveContainer
	// StopSandbox stops SandboxID (and tears its network down).
	StopSandbox
	// RemoveSandbox removes SandboxID and the containers in it.
	RemoveSandbox
	// FinishDeletion removes what the pod left on the node (cgroups,
	// volumes) and deletes the Pod object for good.
	FinishDeletion
)

func (k ActionKind) String() string {
	return [...]string{"CreateSandbox", "StartContainer", "KillContainer", "RemoveContainer", "StopSandbox", "RemoveSandbox", "FinishDeletion"}[k]
}

// Action is one step of a plan.
type Action struct {
	Kind          ActionKind
	SandboxID     string
	ContainerID   string
	Name          string
	ContainerKind string
	Attempt       uint32
	RestartCount  int
	// Reason says why, for events and logs ("liveness probe failed").
	Reason string
}

func (a Action) String() string {
	switch a.Kind {
	case CreateSandbox:
		return fmt.Sprintf("CreateSandbox(attempt %d)", a.Attempt)
	case StartContainer:
		return fmt.Sprintf("StartContainer(%s %s, restart %d)", a.ContainerKind, a.Name, a.RestartCount)
	case KillContainer, RemoveContainer:
		return fmt.Sprintf("%s(%s %s: %s)", a.Kind, a.Name, short(a.ContainerID), a.Reason)
	case StopSandbox, RemoveSandbox:
		return fmt.Sprintf("%s(%s)", a.Kind, short(a.SandboxID))
	}
	return a.Kind.String()
}

// ReasonOldRun is the Reason of a RemoveContainer of a run older than the
// two the kubelet keeps.
const ReasonOldRun = "old run"

// SandboxFailure is the Failures key of a failure to run the sandbox.
const SandboxFailure = ""

// Failure is a recent failure to start a container or (under
// SandboxFailure) to run the sandbox (pulling its image,
// building its config, creating or starting it): the kubelet retries
// after a back-off, as for a crash.
type Failure struct {
	// Reason is ErrImagePull, CreateContainerConfigError,
	// CreateContainerError or RunContainerError.
	Reason, Message string
	At              time.Time
	// Count is how many times in a row it failed.
	Count int
}

// Backoff is the crash-loop back-off: Initial after the first restart,
// doubling up to Max.
type Backoff struct {
	Initial, Max time.Duration
}

// DefaultBackoff is kubelet's: 10 s doubling to 5 min.
var DefaultBackoff = Backoff{Initial: 10 * time.Second, Max: 5 * time.Minute}

// Delay is how long after the n-th failure in a row the next try waits:
// none after the first (kubelet restarts a container at once the first
// time), then Initial, doubling, at most Max.
func (b Backoff) Delay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Input is what Plan decides from.
type Input struct {
	Pod      *corev1.Pod
	Observed Observed
	// Probes holds the probe status of running containers by ID.
	Probes map[string]probe.Status
	// Failures holds recent start failures by container name.
	Failures map[string]Failure
	Backoff  Backoff
	Now      time.Time
}

// Waiting is why a container waits, as its status reports it.
type Waiting struct{ Reason, Message string }

// Result is a plan: the actions in order, why containers wait, and when
// to look again at the latest if nothing else changes.
type Result struct {
	Actions []Action
	Waiting map[string]Waiting
	// RequeueAfter is when a back-off ends (zero: no timer needed).
	RequeueAfter time.Duration
}

// Plan decides the next actions for a pod, level-based: called again
// with the state the actions led to, it goes on from there.
func Plan(in Input) Result {
	r := Result{Waiting: map[string]Waiting{}}
	pod, obs := in.Pod, in.Observed
	if pod.DeletionTimestamp != nil || podFinished(pod, obs) {
		teardown(&r, in)
		return r
	}
	removeStale(&r, obs)
	sb := obs.LatestSandbox()
	if sb == nil || !sb.Ready {
		if sb != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever && len(obs.Containers) > 0 {
			// The sandbox died under a pod that must not restart: its
			// containers are done (the phase says how).
			killAlive(&r, obs, "", "sandbox is gone")
			return r
		}
		killAlive(&r, obs, "", "sandbox is gone")
		attempt := uint32(0)
		if sb != nil {
			attempt = sb.Attempt + 1
			if sb.Ready {
				r.Actions = append(r.Actions, Action{Kind: StopSandbox, SandboxID: sb.ID})
			}
		}
		if f, ok := in.Failures[SandboxFailure]; ok {
			if due := f.At.Add(in.Backoff.Delay(f.Count)); in.Now.Before(due) {
				for _, c := range pod.Spec.Containers {
					r.Waiting[c.Name] = Waiting{Reason: "ContainerCreating", Message: f.Message}
				}
				r.requeue(due.Sub(in.Now))
				return r
			}
		}
		r.Actions = append(r.Actions, Action{Kind: CreateSandbox, Attempt: attempt})
		startFirst(&r, in, "")
		return r
	}
	if !initDone(&r, in, sb.ID) {
		return r
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		runs := obs.Runs(c.Name, podspec.KindApp, sb.ID)
		if len(runs) == 0 {
			tryStart(&r, in, c.Name, podspec.KindApp)
			continue
		}
		cur := runs[0]
		switch cur.State {
		case Running:
			if cur.Hash != "" && cur.Hash != podspec.Hash(c) {
				r.Actions = append(r.Actions, kill(cur, "container spec changed"))
			} else if st, ok := in.Probes[cur.ID]; ok && st.Restart {
				r.Actions = append(r.Actions, kill(cur, "failed liveness or startup probe"))
			}
		case Created, Unknown:
			// A run that never started: remove it and try again.
			r.Actions = append(r.Actions, Action{Kind: RemoveContainer, ContainerID: cur.ID, Name: cur.Name, Reason: "never started"})
			tryStart(&r, in, c.Name, podspec.KindApp)
		case Exited:
			if restarts(pod.Spec.RestartPolicy, cur.ExitCode) {
				restartAfterBackoff(&r, in, cur)
			}
		}
	}
	return r
}

// initDone runs the init containers in order; it reports whether all of
// them completed in sandbox sbID.
func initDone(r *Result, in Input, sbID string) bool {
	pod, obs := in.Pod, in.Observed
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		runs := obs.Runs(c.Name, podspec.KindInit, sbID)
		if len(runs) == 0 {
			tryStart(r, in, c.Name, podspec.KindInit)
			return false
		}
		cur := runs[0]
		switch cur.State {
		case Running:
			if st, ok := in.Probes[cur.ID]; ok && st.Restart {
				r.Actions = append(r.Actions, kill(cur, "failed liveness or startup probe"))
			}
			return false
		case Created, Unknown:
			r.Actions = append(r.Actions, Action{Kind: RemoveContainer, ContainerID: cur.ID, Name: cur.Name, Reason: "never started"})
			tryStart(r, in, c.Name, podspec.KindInit)
			return false
		case Exited:
			if cur.ExitCode == 0 {
				continue
			}
			if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
				restartAfterBackoff(r, in, cur)
			}
			return false
		}
	}
	return true
}

// startFirst starts what a new sandbox runs first: the first init
// container, or every app container.
func startFirst(r *Result, in Input, sbID string) {
	pod := in.Pod
	if len(pod.Spec.InitContainers) > 0 {
		tryStart(r, in, pod.Spec.InitContainers[0].Name, podspec.KindInit)
		return
	}
	for _, c := range pod.Spec.Containers {
		tryStart(r, in, c.Name, podspec.KindApp)
	}
}

// tryStart starts a container unless a recent start failure's back-off
// holds it.
func tryStart(r *Result, in Input, name, kind string) {
	if f, ok := in.Failures[name]; ok {
		due := f.At.Add(in.Backoff.Delay(f.Count))
		if in.Now.Before(due) {
			reason := f.Reason
			if reason == "ErrImagePull" {
				reason = "ImagePullBackOff"
			}
			msg := f.Message
			if reason == "ImagePullBackOff" {
				msg = fmt.Sprintf("Back-off pulling image: %s", f.Message)
			}
			r.Waiting[name] = Waiting{Reason: reason, Message: msg}
			r.requeue(due.Sub(in.Now))
			return
		}
	}
	r.Actions = append(r.Actions, Action{Kind: StartContainer, Name: name, ContainerKind: kind, RestartCount: in.Observed.nextRestartCount(name, kind)})
}

// restartAfterBackoff restarts an exited run once its crash-loop
// back-off is over, and says CrashLoopBackOff until then.
func restartAfterBackoff(r *Result, in Input, cur Container) {
	delay := in.Backoff.Delay(cur.RestartCount)
	due := cur.FinishedAt.Add(delay)
	if in.Now.Before(due) {
		r.Waiting[cur.Name] = Waiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, cur.Name, in.Pod.Name, in.Pod.Namespace, in.Pod.UID)}
		r.requeue(due.Sub(in.Now))
		return
	}
	tryStart(r, in, cur.Name, cur.Kind)
}

// teardown stops everything of a pod that is being deleted or finished;
// a deleted pod's sandboxes are then removed and its deletion finished.
func teardown(r *Result, in Input) {
	obs := in.Observed
	killAlive(r, obs, "", reasonFor(in.Pod))
	if len(r.Actions) > 0 {
		return
	}
	for _, s := range obs.Sandboxes {
		if s.Ready {
			r.Actions = append(r.Actions, Action{Kind: StopSandbox, SandboxID: s.ID})
		}
	}
	if in.Pod.DeletionTimestamp == nil {
		return
	}
	for _, s := range obs.Sandboxes {
		r.Actions = append(r.Actions, Action{Kind: RemoveSandbox, SandboxID: s.ID})
	}
	r.Actions = append(r.Actions, Action{Kind: FinishDeletion})
}

func reasonFor(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil {
		return "pod is being deleted"
	}
	return "pod finished"
}

// removeStale stops sandboxes older than the newest, removes stopped
// ones, and removes runs older than the two newest of each container
// (the newest two give the status and `logs --previous`).
func removeStale(r *Result, obs Observed) {
	latest := obs.LatestSandbox()
	for _, s := range obs.Sandboxes {
		if latest == nil || s.ID == latest.ID {
			continue
		}
		hasAlive := false
		for _, c := range obs.Containers {
			if c.SandboxID == s.ID && c.alive() {
				hasAlive = true
			}
		}
		switch {
		case s.Ready:
			r.Actions = append(r.Actions, Action{Kind: StopSandbox, SandboxID: s.ID})
		case !hasAlive && s.CreatedAt.Before(latest.CreatedAt):
			// Keep the previous sandbox's exited runs only while the
			// new sandbox has none of its own yet.
			if hasRuns(obs, latest.ID) {
				r.Actions = append(r.Actions, Action{Kind: RemoveSandbox, SandboxID: s.ID})
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range obs.Containers {
		key := c.Kind + "/" + c.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		for _, old := range obs.Runs(c.Name, c.Kind, "")[min(2, len(obs.Runs(c.Name, c.Kind, ""))):] {
			if !old.alive() {
				r.Actions = append(r.Actions, Action{Kind: RemoveContainer, ContainerID: old.ID, Name: old.Name, ContainerKind: old.Kind, RestartCount: old.RestartCount, Reason: ReasonOldRun})
			}
		}
	}
}

func hasRuns(obs Observed, sbID string) bool {
	for _, c := range obs.Containers {
		if c.SandboxID == sbID {
			return true
		}
	}
	return false
}

// killAlive kills every live container (in sandbox sbID, or all).
func killAlive(r *Result, obs Observed, sbID, reason string) {
	for _, c := range obs.Containers {
		if c.alive() && (sbID == "" || c.SandboxID == sbID) {
			r.Actions = append(r.Actions, kill(c, reason))
		}
	}
}

func kill(c Container, reason string) Action {
	return Action{Kind: KillContainer, ContainerID: c.ID, SandboxID: c.SandboxID, Name: c.Name, ContainerKind: c.Kind, Reason: reason}
}

// restarts says whether restartPolicy restarts a container that exited
// with code.
func restarts(policy corev1.RestartPolicy, code int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return true
}

func (r *Result) requeue(d time.Duration) {
	if d <= 0 {
		d = time.Millisecond
	}
	if r.RequeueAfter == 0 || d < r.RequeueAfter {
		r.RequeueAfter = d
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
