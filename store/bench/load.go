package bench

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one request of a load scenario. worker is the caller's index in
// [0, Load.Clients) and n counts that worker's own calls from 0, so an op
// can pick its object without coordinating with the other workers.
type Op func(ctx context.Context, worker, n int) error

// Load is a closed-loop scenario: Clients workers each call Op again as
// soon as the previous call returns, until Duration has passed or Limit
// calls were started in total (a zero value means no bound; one of them
// must be set).
type Load struct {
	Clients  int
	Duration time.Duration
	Limit    int
	Op       Op
	// Progress, when set, is called every progressInterval with the calls
	// finished so far.
	Progress func(done int, elapsed time.Duration)
}

// LoadResult is what a Load measured. Allocation figures are the load
// generator's own (this process), per finished call.
type LoadResult struct {
	Clients    int     `json:"clients"`
	Ops        int     `json:"ops"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"perSecond"`
	Latency    Summary `json:"latency"`
	// ClientAllocsPerOp and ClientBytesPerOp are heap allocations made by
	// the client side for each call, ClientCPUPerOpMs its CPU time.
	ClientAllocsPerOp float64 `json:"clientAllocsPerOp"`
	ClientBytesPerOp  float64 `json:"clientBytesPerOp"`
	ClientCPUPerOpMs  float64 `json:"clientCpuPerOpMs"`
}

// Run drives the load and returns its figures. Latencies cover successful
// calls only; failed calls are counted in Errors. It stops early when ctx
// ends, and a call that fails because of that is not counted.
func (l Load) Run(ctx context.Context) LoadResult {
	clients := max(l.Clients, 1)
	deadline := time.Time{}
	if l.Duration > 0 {
		deadline = time.Now().Add(l.Duration)
	}
	var started, finished atomic.Int64
	latencies := make([][]time.Duration, clients)
	errs := make([]int, clients)
	firstErrs := make([]error, clients)

	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	cpuBefore := selfCPU()
	start := time.Now()
	stopProgress := l.reportProgress(start, &finished)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for n := 0; ; n++ {
				if ctx.Err() != nil || (!deadline.IsZero() && time.Now().After(deadline)) {
					return
				}
				if l.Limit > 0 && started.Add(1) > int64(l.Limit) {
					return
				}
				t := time.Now()
				err := l.Op(ctx, w, n)
				if err != nil && ctx.Err() != nil {
					return // cut short by the caller, not failed
				}
				finished.Add(1)
				if err != nil {
					errs[w]++
					if firstErrs[w] == nil {
						firstErrs[w] = err
					}
					continue
				}
				latencies[w] = append(latencies[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	cpu := selfCPU() - cpuBefore
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	res := LoadResult{Clients: clients, Seconds: elapsed.Seconds()}
	var all []time.Duration
	for w := range clients {
		all = append(all, latencies[w]...)
		res.Errors += errs[w]
		if res.FirstError == "" && firstErrs[w] != nil {
			res.FirstError = firstErrs[w].Error()
		}
	}
	res.Ops = len(all)
	res.Latency = Summarize(all)
	if elapsed > 0 {
		res.PerSecond = float64(res.Ops) / elapsed.Seconds()
	}
	if calls := res.Ops + res.Errors; calls > 0 {
		res.ClientAllocsPerOp = float64(after.Mallocs-before.Mallocs) / float64(calls)
		res.ClientBytesPerOp = float64(after.TotalAlloc-before.TotalAlloc) / float64(calls)
		res.ClientCPUPerOpMs = millis(cpu) / float64(calls)
	}
	return res
}

// progressInterval is how often a running Load reports progress.
const progressInterval = 2 * time.Second

// reportProgress calls l.Progress every progressInterval until the returned stop
// function is called.
func (l Load) reportProgress(start time.Time, finished *atomic.Int64) (stop func()) {
	if l.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(progressInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				l.Progress(int(finished.Load()), time.Since(start))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
