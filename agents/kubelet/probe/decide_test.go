package probe

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestTimingOf(t *testing.T) {
	cases := []struct {
		name string
		kind Kind
		p    corev1.Probe
		want Timing
	}{
		{"defaults", Readiness, corev1.Probe{}, Timing{Period: 10 * time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3}},
		{"all set", Readiness, corev1.Probe{InitialDelaySeconds: 5, PeriodSeconds: 2, TimeoutSeconds: 3, SuccessThreshold: 4, FailureThreshold: 6},
			Timing{InitialDelay: 5 * time.Second, Period: 2 * time.Second, Timeout: 3 * time.Second, SuccessThreshold: 4, FailureThreshold: 6}},
		{"liveness success threshold is 1", Liveness, corev1.Probe{SuccessThreshold: 4}, Timing{Period: 10 * time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3}},
		{"startup success threshold is 1", Startup, corev1.Probe{SuccessThreshold: 4}, Timing{Period: 10 * time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3}},
	}
	for _, c := range cases {
		if got := TimingOf(c.kind, &c.p, time.Second); got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := TimingOf(Liveness, &corev1.Probe{PeriodSeconds: 2}, time.Millisecond).Period; got != 2*time.Millisecond {
		t.Errorf("scaled period = %v, want 2ms", got)
	}
}

func TestInitial(t *testing.T) {
	for kind, want := range map[Kind]Result{Readiness: Failure, Liveness: Success, Startup: Unknown} {
		if got := Initial(kind).Result; got != want {
			t.Errorf("Initial(%s) = %v, want %v", kind, got, want)
		}
	}
}

func TestShouldRun(t *testing.T) {
	tm := Timing{InitialDelay: 5 * time.Second, Period: time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3}
	cases := []struct {
		name       string
		kind       Kind
		s          State
		sinceStart time.Duration
		started    bool
		want       bool
	}{
		{"within the initial delay", Readiness, Initial(Readiness), 4 * time.Second, true, false},
		{"at the initial delay", Readiness, Initial(Readiness), 5 * time.Second, true, true},
		{"liveness waits for startup", Liveness, Initial(Liveness), time.Minute, false, false},
		{"readiness waits for startup", Readiness, Initial(Readiness), time.Minute, false, false},
		{"startup runs before started", Startup, Initial(Startup), time.Minute, false, true},
		{"startup done", Startup, State{Result: Success, Done: true}, time.Minute, true, false},
		{"liveness on hold", Liveness, State{Result: Failure, OnHold: true}, time.Minute, true, false},
		{"liveness running", Liveness, Initial(Liveness), time.Minute, true, true},
	}
	for _, c := range cases {
		if got := ShouldRun(c.kind, tm, c.s, c.sinceStart, c.started); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// TestObserve feeds runs of outcomes and checks the reported result after
// each, and the final state.
func TestObserve(t *testing.T) {
	S, F := Success, Failure
	cases := []struct {
		name     string
		kind     Kind
		success  int
		failure  int
		outcomes []Result
		reported []Result
		final    State
	}{
		{"readiness becomes ready on first success", Readiness, 1, 3, []Result{S}, []Result{S}, State{Result: S, Last: S, Run: 1}},
		{"readiness needs successThreshold successes", Readiness, 3, 3, []Result{S, S, F, S, S, S}, []Result{F, F, F, F, F, S}, State{Result: S, Last: S, Run: 3}},
		{"readiness turns unready after failureThreshold", Readiness, 1, 2, []Result{S, F, S, F, F, F}, []Result{S, S, S, S, F, F}, State{Result: F, Last: F, Run: 3}},
		{"readiness recovers without hold", Readiness, 1, 1, []Result{F, S}, []Result{F, S}, State{Result: S, Last: S, Run: 1}},
		{"liveness tolerates failures below the threshold", Liveness, 1, 3, []Result{F, F, S, F, F}, []Result{S, S, S, S, S}, State{Result: S, Last: F, Run: 2}},
		{"liveness fails after failureThreshold and holds", Liveness, 1, 3, []Result{F, F, F}, []Result{S, S, F}, State{Result: F, Last: F, OnHold: true}},
		{"startup succeeds and is done", Startup, 1, 3, []Result{F, F, S}, []Result{Unknown, Unknown, S}, State{Result: S, Last: S, Run: 1, Done: true}},
		{"startup fails after failureThreshold", Startup, 1, 2, []Result{F, F}, []Result{Unknown, F}, State{Result: F, Last: F, OnHold: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tm := Timing{Period: time.Second, Timeout: time.Second, SuccessThreshold: c.success, FailureThreshold: c.failure}
			s := Initial(c.kind)
			var reported []Result
			for _, o := range c.outcomes {
				s = Observe(c.kind, tm, s, o)
				reported = append(reported, s.Result)
			}
			if !reflect.DeepEqual(reported, c.reported) {
				t.Errorf("reported %v, want %v", reported, c.reported)
			}
			if s != c.final {
				t.Errorf("final state %+v, want %+v", s, c.final)
			}
		})
	}
}

func TestStatusOf(t *testing.T) {
	cases := []struct {
		name    string
		results map[Kind]Result
		want    Status
	}{
		{"no probes", map[Kind]Result{}, Status{Started: true, Ready: true}},
		{"readiness not yet", map[Kind]Result{Readiness: Failure}, Status{Started: true}},
		{"ready", map[Kind]Result{Readiness: Success, Liveness: Success}, Status{Started: true, Ready: true}},
		{"starting: neither started nor ready", map[Kind]Result{Startup: Unknown}, Status{}},
		{"started without readiness probe is ready", map[Kind]Result{Startup: Success}, Status{Started: true, Ready: true}},
		{"started, readiness pending", map[Kind]Result{Startup: Success, Readiness: Failure}, Status{Started: true}},
		{"liveness failed: restart", map[Kind]Result{Liveness: Failure, Readiness: Success}, Status{Started: true, Ready: true, Restart: true}},
		{"startup failed: restart", map[Kind]Result{Startup: Failure}, Status{Restart: true}},
	}
	for _, c := range cases {
		got := StatusOf(c.results)
		got.Results = nil
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}
