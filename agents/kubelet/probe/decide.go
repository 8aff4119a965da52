// Package probe runs a container's liveness, readiness and startup probes
// the way the kubelet does: exec, httpGet, tcpSocket and grpc handlers,
// kube's timing fields and thresholds, the startup probe gating the other
// two, and a Manager with one worker per container and probe that reports
// every change so the kubelet can set Ready and restart failed containers.
//
// The decisions (when to probe, what a run of outcomes means) are pure
// functions in this file; the Manager does the waiting and the I/O.
package probe

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Kind names one of a container's three probes.
type Kind string

// The probes of a container.
const (
	Liveness  Kind = "liveness"
	Readiness Kind = "readiness"
	Startup   Kind = "startup"
)

// Result is what a probe reports.
type Result int

// Probe results. Unknown is the startup probe's value before it decides.
const (
	Unknown Result = iota
	Success
	Failure
)

// String returns "unknown", "success" or "failure".
func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	}
	return "unknown"
}

// Kube's defaults for unset probe timing fields.
const (
	DefaultPeriodSeconds    = 10
	DefaultTimeoutSeconds   = 1
	DefaultSuccessThreshold = 1
	DefaultFailureThreshold = 3
)

// Timing is a probe's timing fields as durations and counts, with kube's
// defaults applied.
type Timing struct {
	InitialDelay     time.Duration
	Period           time.Duration
	Timeout          time.Duration
	SuccessThreshold int
	FailureThreshold int
}

// TimingOf reads p's timing fields, taking second as the length of one
// second (time.Second outside of tests) and applying kube's defaults to
// zero values. Liveness and startup probes always use a success threshold
// of 1, as the API requires.
func TimingOf(kind Kind, p *corev1.Probe, second time.Duration) Timing {
	t := Timing{
		InitialDelay:     time.Duration(p.InitialDelaySeconds) * second,
		Period:           time.Duration(orDefault(p.PeriodSeconds, DefaultPeriodSeconds)) * second,
		Timeout:          time.Duration(orDefault(p.TimeoutSeconds, DefaultTimeoutSeconds)) * second,
		SuccessThreshold: int(orDefault(p.SuccessThreshold, DefaultSuccessThreshold)),
		FailureThreshold: int(orDefault(p.FailureThreshold, DefaultFailureThreshold)),
	}
	if kind != Readiness {
		t.SuccessThreshold = 1
	}
	return t
}

func orDefault(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

// State is what a probe worker remembers between runs.
type State struct {
	// Result is the reported result: what the thresholds have confirmed.
	Result Result
	// Last is the outcome of the latest run and Run how many runs in a
	// row ended that way.
	Last Result
	Run  int
	// OnHold is set once a liveness or startup probe has failed: the
	// container is due for a restart and is not probed again.
	OnHold bool
	// Done is set once a startup probe has succeeded: it never runs again.
	Done bool
}

// Initial is a worker's state before its first run: a container is not
// ready until its readiness probe succeeds, is alive until its liveness
// probe fails, and its startup is unknown until the startup probe decides.
func Initial(kind Kind) State {
	switch kind {
	case Readiness:
		return State{Result: Failure}
	case Liveness:
		return State{Result: Success}
	}
	return State{Result: Unknown}
}

// ShouldRun reports whether a probe runs now, given the time since the
// container started and whether it has started (its startup probe
// succeeded, or it has none). Liveness and readiness wait for the startup
// probe; no probe runs within its initial delay, while on hold, or, for a
// startup probe, after it has succeeded.
func ShouldRun(kind Kind, t Timing, s State, sinceStart time.Duration, started bool) bool {
	switch {
	case s.OnHold || s.Done:
		return false
	case kind != Startup && !started:
		return false
	case sinceStart < t.InitialDelay:
		return false
	}
	return true
}

// Observe folds the outcome of one run into s: the reported result changes
// only after SuccessThreshold successes or FailureThreshold failures in a
// row. A confirmed liveness or startup failure puts the worker on hold
// (the container is restarted); a confirmed startup success ends startup
// probing.
func Observe(kind Kind, t Timing, s State, outcome Result) State {
	if outcome == s.Last {
		s.Run++
	} else {
		s.Last, s.Run = outcome, 1
	}
	if (outcome == Failure && s.Run < t.FailureThreshold) || (outcome == Success && s.Run < t.SuccessThreshold) {
		return s
	}
	s.Result = outcome
	switch {
	case outcome == Failure && kind != Readiness:
		s.OnHold, s.Run = true, 0
	case outcome == Success && kind == Startup:
		s.Done = true
	}
	return s
}

// Status is a container's probe state as the kubelet reports it.
type Status struct {
	// Started is ContainerStatus.Started: the startup probe succeeded, or
	// there is none.
	Started bool
	// Ready is ContainerStatus.Ready: started, and the readiness probe
	// succeeded (or there is none).
	Ready bool
	// Restart is set when a liveness or startup probe failed: the kubelet
	// must kill the container and apply the pod's restart policy.
	Restart bool
	// Results holds the reported result of each probe the container has.
	Results map[Kind]Result
}

// StatusOf derives a container's Status from the reported results of the
// probes it has (a missing key means the container has no such probe).
func StatusOf(results map[Kind]Result) Status {
	st := Status{Results: results, Started: true, Ready: true}
	if r, ok := results[Startup]; ok {
		st.Started = r == Success
		st.Restart = r == Failure
	}
	if r, ok := results[Liveness]; ok && r == Failure {
		st.Restart = true
	}
	if r, ok := results[Readiness]; ok {
		st.Ready = r == Success
	}
	st.Ready = st.Ready && st.Started
	return st
}
