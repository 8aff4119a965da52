package allocator

import (
	"context"
	"errors"
	"sync"
)

// Transaction groups the allocations and releases of one request, such as
// creating or updating a Service, so that the request either keeps all of
// them or none. Use allocators through it with their In method:
//
//	var tx allocator.Transaction
//	defer tx.Revert(ctx) // no-op once committed
//	ip, err := ips.In(&tx).AllocateNext(ctx, owner)
//	...
//	err = ports.In(&tx).Release(ctx, oldPort) // happens at Commit
//	...store the object...
//	return tx.Commit(ctx)
//
// Allocations take effect at once (another server cannot take the item);
// Revert releases them. Releases wait for Commit, so a failed request never
// loses an item it still holds. The zero value is ready to use; a
// Transaction is safe for concurrent use.
type Transaction struct {
	mu        sync.Mutex
	allocated []claim
	released  []claim
}

// claim is one item of one range.
type claim struct {
	r      *ranged
	offset int
}

// Commit keeps the transaction's allocations and performs its releases. The
// transaction is empty afterwards. An error means some release failed; the
// item stays allocated until released again or repaired.
func (t *Transaction) Commit(ctx context.Context) error {
	t.mu.Lock()
	released := t.released
	t.allocated, t.released = nil, nil
	t.mu.Unlock()
	return releaseAll(ctx, released)
}

// Revert releases the transaction's allocations and drops its releases. The
// transaction is empty afterwards, so Revert after Commit does nothing. An
// error means some release failed; Repair frees such items later.
func (t *Transaction) Revert(ctx context.Context) error {
	t.mu.Lock()
	allocated := t.allocated
	t.allocated, t.released = nil, nil
	t.mu.Unlock()
	return releaseAll(ctx, allocated)
}

func releaseAll(ctx context.Context, claims []claim) error {
	var errs []error
	for _, c := range claims {
		errs = append(errs, c.r.release(ctx, nil, c.offset))
	}
	return errors.Join(errs...)
}

// add records an allocation made in the transaction; t may be nil.
func (t *Transaction) add(r *ranged, off int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.allocated = append(t.allocated, claim{r, off})
	t.mu.Unlock()
}

// deferRelease records a release to perform at Commit and reports whether
// it did; with a nil t the caller releases at once.
func (t *Transaction) deferRelease(r *ranged, off int) bool {
	if t == nil {
		return false
	}
	t.mu.Lock()
	t.released = append(t.released, claim{r, off})
	t.mu.Unlock()
	return true
}
