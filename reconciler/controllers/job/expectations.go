package job

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// expectationsTTL is how long unmet expectations hold a job back. A watch
// event can be lost (a relist folds it away); after this long the
// controller trusts its cache again rather than stall.
const expectationsTTL = 5 * time.Minute

// expectations remember, per job key, the pod creations and deletions the
// controller asked for that its informer has not shown yet. While some
// are outstanding the cache is stale for that job, and creating or
// deleting on it could do so twice.
type expectations struct {
	mu    sync.Mutex
	byKey map[string]*expected
	now   func() time.Time
}

type expected struct {
	creates int
	deletes sets.Set[types.UID]
	since   time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{byKey: map[string]*expected{}, now: now}
}

// expect records that key's sync is about to create creates pods and
// delete the pods with the given UIDs.
func (e *expectations) expect(key string, creates int, deletes []types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byKey[key] = &expected{creates: creates, deletes: sets.New(deletes...), since: e.now()}
}

// created records that one creation for key was seen, or will never be
// (the request failed).
func (e *expectations) created(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.byKey[key]; x != nil && x.creates > 0 {
		x.creates--
	}
}

// deleted records that the deletion of pod uid was seen (or failed).
func (e *expectations) deleted(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.byKey[key]; x != nil {
		x.deletes.Delete(uid)
	}
}

// satisfied reports whether key may act on the cache.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.byKey[key]
	return x == nil || (x.creates <= 0 && x.deletes.Len() == 0) || e.now().Sub(x.since) > expectationsTTL
}

// forget drops key's record (its job is gone).
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}
