package bench

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoadStopsAtItsLimitWithEveryCallDistinct(t *testing.T) {
	var mu sync.Mutex
	seen := map[[2]int]bool{}
	var inFlight, peak atomic.Int64
	res := Load{Clients: 4, Limit: 200, Op: func(_ context.Context, w, n int) error {
		if now := inFlight.Add(1); now > peak.Load() {
			peak.Store(now)
		}
		defer inFlight.Add(-1)
		time.Sleep(100 * time.Microsecond)
		mu.Lock()
		defer mu.Unlock()
		if seen[[2]int{w, n}] {
			t.Errorf("worker %d call %d made twice", w, n)
		}
		seen[[2]int{w, n}] = true
		return nil
	}}.Run(context.Background())
	if res.Ops != 200 || len(seen) != 200 || res.Errors != 0 {
		t.Fatalf("ops %d, distinct calls %d, errors %d; want 200, 200, 0", res.Ops, len(seen), res.Errors)
	}
	if res.Latency.Count != 200 || res.Latency.P50 < 100*time.Microsecond {
		t.Errorf("latency %+v: want 200 samples of at least 100µs", res.Latency)
	}
	if peak.Load() > 4 {
		t.Errorf("%d calls in flight at once with 4 clients", peak.Load())
	}
	if res.Clients != 4 || res.PerSecond <= 0 || res.Seconds <= 0 {
		t.Errorf("result %+v: want clients 4 and a positive rate", res)
	}
}

func TestLoadStopsAfterItsDuration(t *testing.T) {
	start := time.Now()
	res := Load{Clients: 2, Duration: 50 * time.Millisecond, Op: func(context.Context, int, int) error {
		time.Sleep(time.Millisecond)
		return nil
	}}.Run(context.Background())
	if took := time.Since(start); took < 50*time.Millisecond || took > time.Second {
		t.Errorf("took %s for a 50ms load", took)
	}
	if res.Ops < 2 {
		t.Errorf("%d calls in 50ms with 2 clients of 1ms calls, want at least one each", res.Ops)
	}
}

func TestLoadCountsErrorsApartFromLatencies(t *testing.T) {
	boom := errors.New("boom: 429 too many requests")
	res := Load{Clients: 1, Limit: 10, Op: func(_ context.Context, _, n int) error {
		if n%2 == 1 {
			return boom
		}
		return nil
	}}.Run(context.Background())
	if res.Ops != 5 || res.Errors != 5 || res.FirstError != boom.Error() || res.Latency.Count != 5 {
		t.Errorf("got ops %d, errors %d (%q), %d latencies; want 5, 5 (%q), 5", res.Ops, res.Errors, res.FirstError, res.Latency.Count, boom)
	}
}

func TestLoadEndsWithItsContextWithoutCountingCutCalls(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := Load{Clients: 3, Duration: time.Hour, Op: func(ctx context.Context, _, n int) error {
		if n == 0 {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	}}.Run(ctx)
	if took := time.Since(start); took > time.Second {
		t.Errorf("a cancelled load ran %s", took)
	}
	if res.Ops != 3 || res.Errors != 0 {
		t.Errorf("got %d ops and %d errors; want the 3 finished calls and no error for the cut ones", res.Ops, res.Errors)
	}
}

func TestLoadReportsProgressWhileRunning(t *testing.T) {
	var calls atomic.Int64
	Load{Clients: 1, Duration: progressInterval + 300*time.Millisecond,
		Op: func(context.Context, int, int) error { time.Sleep(time.Millisecond); return nil },
		Progress: func(done int, elapsed time.Duration) {
			calls.Add(1)
			if done == 0 || elapsed < progressInterval {
				t.Errorf("progress at %s with %d done", elapsed, done)
			}
		},
	}.Run(context.Background())
	if calls.Load() != 1 {
		t.Errorf("progress called %d times in one interval, want 1", calls.Load())
	}
}
