package placement

import (
	"math"
	"sync"
	"sync/atomic"
)

// sequentialBelow is the size under which a loop is not worth splitting.
const sequentialBelow = 64

// parallelize calls fn(i) for every i in [0, n) on up to workers
// goroutines (the caller's among them), handing out small chunks of
// indexes; once stop reports true no further chunk starts. fn must be
// safe to call concurrently.
func parallelize(workers, n int, fn func(i int), stop func() bool) {
	if workers <= 1 || n < sequentialBelow {
		for i := 0; i < n; i++ {
			if stop != nil && stop() {
				return
			}
			fn(i)
		}
		return
	}
	chunk := chunkSize(workers, n)
	var next atomic.Int64
	work := func() {
		for {
			if stop != nil && stop() {
				return
			}
			start := int(next.Add(int64(chunk))) - chunk
			if start >= n {
				return
			}
			for i := start; i < min(start+chunk, n); i++ {
				fn(i)
			}
		}
	}
	workers = min(workers, (n+chunk-1)/chunk)
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// chunkSize balances the cost of handing out chunks against how far past
// a stop the workers run: about sqrt(n), and at least 4 chunks per worker.
func chunkSize(workers, n int) int {
	c := int(math.Sqrt(float64(n)))
	if perWorker := n / (4 * workers); c > perWorker {
		c = perWorker
	}
	return max(c, 1)
}
