// Package lifecycle decides what the kubelet does with a pod: a pure
// function of the pod, what the runtime reports about its sandboxes and
// containers, its probe results and the time (Plan), and the status the
// kubelet reports for it (Status). No I/O: the kubelet's pod workers
// gather the inputs and carry out the actions.
package lifecycle

import (
	"sort"
	"time"
)

// Sandbox is one of a pod's sandboxes as the runtime reports it.
type Sandbox struct {
	ID        string
	Attempt   uint32
	Ready     bool
	CreatedAt time.Time
	// IPs are the pod's IPs in this sandbox (empty for hostNetwork).
	IPs []string
}

// State is a container's runtime state.
type State int

// Container states, as CRI reports them.
const (
	Created State = iota
	Running
	Exited
	Unknown
)

// Container is one run of one of a pod's containers.
type Container struct {
	ID        string
	SandboxID string
	// Name is the container's name in the pod spec; Kind is
	// podspec.KindInit or podspec.KindApp.
	Name, Kind   string
	RestartCount int
	State        State
	ExitCode     int32
	// Reason and Message explain an exit (Completed, Error, OOMKilled).
	Reason, Message                  string
	CreatedAt, StartedAt, FinishedAt time.Time
	// Hash is podspec.Hash of the spec the container was made from.
	Hash string
	// ImageRef is the image ID the container runs.
	ImageRef string
}

// Observed is everything the runtime reports about one pod.
type Observed struct {
	Sandboxes  []Sandbox
	Containers []Container
}

// LatestSandbox is the newest sandbox, or nil.
func (o Observed) LatestSandbox() *Sandbox {
	var best *Sandbox
	for i := range o.Sandboxes {
		s := &o.Sandboxes[i]
		if best == nil || s.Attempt > best.Attempt || (s.Attempt == best.Attempt && s.CreatedAt.After(best.CreatedAt)) {
			best = s
		}
	}
	return best
}

// Runs are the runs of the container named name of the given kind, the
// newest first; with sandboxID set, only those in that sandbox.
func (o Observed) Runs(name, kind, sandboxID string) []Container {
	var out []Container
	for _, c := range o.Containers {
		if c.Name == name && c.Kind == kind && (sandboxID == "" || c.SandboxID == sandboxID) {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].RestartCount != out[j].RestartCount {
			return out[i].RestartCount > out[j].RestartCount
		}
		return out[i].CreatedAt.After(out[j].CreatedAt)
	})
	return out
}

// nextRestartCount is the restart count of the next run of a container:
// one more than its newest run, 0 for the first.
func (o Observed) nextRestartCount(name, kind string) int {
	if runs := o.Runs(name, kind, ""); len(runs) > 0 {
		return runs[0].RestartCount + 1
	}
	return 0
}

// alive says whether a run holds resources that must be stopped.
func (c Container) alive() bool {
	return c.State == Running || c.State == Created || c.State == Unknown
}
