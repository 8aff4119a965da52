package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Fanout is the watch scenario: Watchers watches on the pods of one
// namespace, spread over connections of WatchersPerConnection each, then
// Writes pod creates one after the other.
type Fanout struct {
	Config                *rest.Config
	Namespace             string
	Watchers              int
	WatchersPerConnection int
	Writes                int
	// Wait bounds how long to wait for events after the last write.
	Wait time.Duration
	// Progress, when set, hears what the scenario is doing.
	Progress func(format string, args ...any)
	// ServerCPU, when set, reads the server's CPU time, so that the CPU
	// spent delivering the writes can be reported.
	ServerCPU func() (time.Duration, error)
}

// FanoutResult is what the watch scenario measured. Delay runs from the
// moment a write was sent to the moment a watcher decoded its event, so it
// includes the write itself and the client's decoding.
type FanoutResult struct {
	Watchers  int     `json:"watchers"`
	Writes    int     `json:"writes"`
	Expected  int     `json:"expectedEvents"`
	Delivered int     `json:"deliveredEvents"`
	Delay     Summary `json:"delay"`
	// Closed counts watches the server ended before every event came.
	Closed int `json:"closedWatches"`
	// Seconds runs from the first measured write until every event
	// arrived (or the wait ended); ServerCPUMs and ClientCPUMs are the CPU
	// time the server and the watchers used in it (ServerCPUMs is zero
	// when unknown).
	Seconds     float64 `json:"seconds"`
	ServerCPUMs float64 `json:"serverCpuMs,omitempty"`
	ClientCPUMs float64 `json:"clientCpuMs"`
}

// AllDelivered tells whether every watcher saw every write.
func (r FanoutResult) AllDelivered() bool { return r.Expected > 0 && r.Delivered == r.Expected }

// Deliveries computes delivery figures from when each write was sent and
// when each watcher received it (received[w][i] is zero when watcher w
// never saw write i).
func Deliveries(sent []time.Time, received [][]time.Time) FanoutResult {
	res := FanoutResult{Watchers: len(received), Writes: len(sent), Expected: len(sent) * len(received)}
	delays := make([]time.Duration, 0, res.Expected)
	for _, got := range received {
		for i, at := range got {
			if i >= len(sent) || at.IsZero() {
				continue
			}
			delays = append(delays, at.Sub(sent[i]))
		}
	}
	res.Delivered = len(delays)
	res.Delay = Summarize(delays)
	return res
}

// Run opens the watches, makes sure each one is live with a first write
// every watcher must see, then sends the measured writes and waits for
// their events.
func (f Fanout) Run(ctx context.Context) (FanoutResult, error) {
	progress := f.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	perConn := max(f.WatchersPerConnection, 1)
	// The writer has a connection of its own, as a separate program would.
	cs, err := NewClients(f.Config, 1+(f.Watchers+perConn-1)/perConn)
	if err != nil {
		return FanoutResult{}, err
	}
	defer cs.Close()
	writer, clients := cs.Sets[0].CoreV1().Pods(f.Namespace), cs.Sets[1:]
	list, err := writer.List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return FanoutResult{}, fmt.Errorf("listing pods in %s for a resourceVersion to watch from: %w", f.Namespace, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Write 0 proves every watch is live; writes 1..Writes are measured.
	names := make(map[string]int, f.Writes+1)
	for i := 0; i <= f.Writes; i++ {
		names[writeName(i)] = i
	}
	received := make([][]time.Time, f.Watchers)
	synced := make([]chan struct{}, f.Watchers)
	var readers, allDone sync.WaitGroup
	var closedEarly atomic.Int64
	progress("opening %d watches over %d connections", f.Watchers, len(clients))
	watches, err := openWatches(ctx, clients, f.Namespace, list.ResourceVersion, f.Watchers, perConn)
	if err != nil {
		return FanoutResult{}, err
	}
	for w, wi := range watches {
		received[w] = make([]time.Time, f.Writes+1)
		synced[w] = make(chan struct{})
		allDone.Add(1)
		readers.Go(func() {
			defer wi.Stop()
			if !consume(wi, names, received[w], synced[w], allDone.Done) && ctx.Err() == nil {
				closedEarly.Add(1)
			}
		})
	}
	// stop ends the watches and waits for their readers; after it,
	// received is no longer written.
	stop := func() { cancel(); readers.Wait() }
	defer stop()

	if _, err := writer.Create(ctx, Pod(f.Namespace, writeName(0), 0), metav1.CreateOptions{}); err != nil {
		return FanoutResult{}, fmt.Errorf("creating the first watched pod: %w", err)
	}
	if err := waitAll(ctx, synced, f.wait()); err != nil {
		return FanoutResult{}, fmt.Errorf("waiting for every watcher to see the first write: %w", err)
	}
	progress("all %d watches live; sending %d writes", f.Watchers, f.Writes)

	serverBefore, clientBefore := readCPU(f.ServerCPU), selfCPU()
	sent := make([]time.Time, f.Writes+1)
	for i := 1; i <= f.Writes; i++ {
		sent[i] = time.Now()
		if _, err := writer.Create(ctx, Pod(f.Namespace, writeName(i), i), metav1.CreateOptions{}); err != nil {
			return FanoutResult{}, fmt.Errorf("watched write %d: %w", i, err)
		}
	}
	delivered := make(chan struct{})
	go func() { allDone.Wait(); close(delivered) }()
	select {
	case <-delivered:
	case <-time.After(f.wait()):
		progress("not every event arrived within %s of the last write", f.wait())
	}
	serverAfter, clientCPU := readCPU(f.ServerCPU), selfCPU()-clientBefore
	elapsed := time.Since(sent[1])
	stop()

	late := make([][]time.Time, len(received))
	for w := range received {
		late[w] = received[w][1:]
	}
	res := Deliveries(sent[1:], late)
	res.Closed = int(closedEarly.Load())
	res.Seconds = elapsed.Seconds()
	res.ClientCPUMs = millis(clientCPU)
	if serverBefore > 0 && serverAfter > 0 {
		res.ServerCPUMs = millis(serverAfter - serverBefore)
	}
	return res, nil
}

func (f Fanout) wait() time.Duration {
	if f.Wait > 0 {
		return f.Wait
	}
	return 30 * time.Second
}

func writeName(i int) string { return "watched-" + strconv.Itoa(i) }

// waitAll waits until every channel is closed, ctx ends or timeout
// passes.
func waitAll(ctx context.Context, chans []chan struct{}, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, ch := range chans {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("%d of %d not done within %s", stillOpen(chans), len(chans), timeout)
		}
	}
	return nil
}

// stillOpen counts the channels not closed yet.
func stillOpen(chans []chan struct{}) int {
	n := 0
	for _, ch := range chans {
		select {
		case <-ch:
		default:
			n++
		}
	}
	return n
}

// openWatches starts n watches from resourceVersion rv, perConn on each
// client, a few at a time.
func openWatches(ctx context.Context, clients []kubernetes.Interface, namespace, rv string, n, perConn int) ([]watch.Interface, error) {
	watches := make([]watch.Interface, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for w := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			watches[w], errs[w] = clients[w/perConn].CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			for _, wi := range watches {
				if wi != nil {
					wi.Stop()
				}
			}
			return nil, fmt.Errorf("opening watch %d of %d: %w", w+1, n, err)
		}
	}
	return watches, nil
}

// consume records when each named pod's ADDED event arrives, closes
// synced on write 0 and calls done once every write arrived or the watch
// ended. It tells whether every write arrived.
func consume(wi watch.Interface, names map[string]int, at []time.Time, synced chan struct{}, done func()) bool {
	defer done()
	remaining := len(at)
	for ev := range wi.ResultChan() {
		pod, ok := ev.Object.(*corev1.Pod)
		if ev.Type != watch.Added || !ok {
			continue
		}
		i, ok := names[pod.Name]
		if !ok || !at[i].IsZero() {
			continue
		}
		at[i] = time.Now()
		if i == 0 {
			close(synced)
		}
		if remaining--; remaining == 0 {
			return true
		}
	}
	return false
}
