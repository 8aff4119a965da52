package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func TestRunRetriesFailedKeysAndStopsWithTheContext(t *testing.T) {
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond))
	var calls atomic.Int32
	done := make(chan struct{})
	sync := func(_ context.Context, key string) error {
		if calls.Add(1) < 3 {
			return errors.New("not yet")
		}
		close(done)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		Run(ctx, queue, 2, slog.New(slog.NewTextHandler(io.Discard, nil)), "thing", sync, func() bool { return true })
		close(stopped)
	}()
	queue.Add("a")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("a failing key must be retried until it succeeds; %d calls", calls.Load())
	}
	if queue.NumRequeues("a") != 0 {
		t.Fatal("a key that succeeded must be forgotten by the rate limiter")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run must return once the context ends")
	}
	if !queue.ShuttingDown() {
		t.Fatal("Run must shut its queue down")
	}
}
