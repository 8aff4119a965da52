package replicaset

import (
	"sync"
	"time"
)

// expectationsTTL is how long unmet expectations hold a ReplicaSet back. A
// watch event can be lost (a relist folds it away); after this long the
// controller trusts its cache again rather than stall forever.
const expectationsTTL = 5 * time.Minute

// expectations remember, per ReplicaSet key, the pod creations and
// deletions the controller asked the API server for and its informer has
// not shown yet. While some are outstanding the cache is known to be stale
// for that ReplicaSet, and acting on it would create or delete twice. It
// plays the part of client-go's ControllerExpectations (which lives in
// kube-controller-manager, not in a library berth can import).
type expectations struct {
	mu    sync.Mutex
	byKey map[string]*expectation
	now   func() time.Time
}

// expectation is what one ReplicaSet still waits for.
type expectation struct {
	creates int
	deletes map[string]bool // pod keys
	since   time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{byKey: map[string]*expectation{}, now: now}
}

// expect records that key's sync is about to create creates pods and delete
// the pods named by deletes, replacing whatever key waited for before.
func (e *expectations) expect(key string, creates int, deletes []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := &expectation{creates: creates, deletes: map[string]bool{}, since: e.now()}
	for _, d := range deletes {
		x.deletes[d] = true
	}
	e.byKey[key] = x
}

// created records that one creation of key was seen, or will never happen
// (the request failed).
func (e *expectations) created(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.byKey[key]; x != nil && x.creates > 0 {
		x.creates--
	}
}

// deleted records that the deletion of podKey by key was seen, or will
// never happen.
func (e *expectations) deleted(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.byKey[key]; x != nil {
		delete(x.deletes, podKey)
	}
}

// satisfied reports whether key may act on the cache: nothing is
// outstanding, or what is has waited longer than expectationsTTL.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.byKey[key]
	return x == nil || (x.creates <= 0 && len(x.deletes) == 0) || e.now().Sub(x.since) > expectationsTTL
}

// forget drops key's record (its ReplicaSet is gone).
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}
