// Package worker is the loop every controller runs around its sync
// function: wait for the caches, then take keys from a rate-limited
// workqueue with a number of goroutines until the context ends.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// SyncFunc brings the object behind key to its desired state. It must be
// idempotent: an error retries the key later with back-off.
type SyncFunc[T comparable] func(ctx context.Context, key T) error

// Waiting is implemented by errors that only mean "not done yet" (a
// namespace still holding objects): the key is retried as for any error,
// but the log says so at debug level.
type Waiting interface {
	error
	Waiting() bool
}

// Run waits until synced report true, then runs workers goroutines that
// each take keys from queue and sync them, until ctx ends; it shuts the
// queue down and returns once every worker has stopped. what names the
// objects in logs ("deployment").
func Run[T comparable](ctx context.Context, queue workqueue.TypedRateLimitingInterface[T], workers int, log *slog.Logger, what string, syncKey SyncFunc[T], synced ...cache.InformerSynced) {
	defer queue.ShutDown()
	log.Info("starting")
	defer log.Info("stopped")
	if !cache.WaitForNamedCacheSyncWithContext(ctx, synced...) {
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for processNext(ctx, queue, log, what, syncKey) {
			}
		})
	}
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
}

// processNext syncs one key; it reports false once the queue shuts down.
func processNext[T comparable](ctx context.Context, queue workqueue.TypedRateLimitingInterface[T], log *slog.Logger, what string, syncKey SyncFunc[T]) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	if err := syncKey(ctx, key); err != nil {
		// A conflict only means the cache was behind, and errors while
		// shutting down are expected: routine.
		level := slog.LevelInfo
		var waiting Waiting
		if apierrors.IsConflict(err) || (errors.As(err, &waiting) && waiting.Waiting()) || ctx.Err() != nil {
			level = slog.LevelDebug
		}
		log.Log(ctx, level, "sync failed; retrying", what, key, "err", err)
		queue.AddRateLimited(key)
		return true
	}
	queue.Forget(key)
	return true
}
