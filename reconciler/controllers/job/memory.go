package job

import (
	"sync"

	"k8s.io/apimachinery/pkg/util/resourceversion"
)

// memory is what the controller remembers about each job between syncs:
// its failure back-off record and the resourceVersion of the last status
// it wrote.
type memory struct {
	mu       sync.Mutex
	backoffs map[string]backoff
	written  map[string]string
}

func newMemory() *memory {
	return &memory{backoffs: map[string]backoff{}, written: map[string]string{}}
}

func (m *memory) backoff(key string) backoff {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.backoffs[key]
}

func (m *memory) setBackoff(key string, b backoff) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b == (backoff{}) {
		delete(m.backoffs, key)
		return
	}
	m.backoffs[key] = b
}

// wrote records the resourceVersion a status write of key returned.
func (m *memory) wrote(key, rv string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.written[key] = rv
}

// stale reports whether a cached job of key at resourceVersion rv is older
// than the controller's last status write: counting its pods against that
// copy would count again what the write recorded.
func (m *memory) stale(key, rv string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	last, ok := m.written[key]
	if !ok {
		return false
	}
	if cmp, err := resourceversion.CompareResourceVersion(rv, last); err == nil && cmp < 0 {
		return true
	}
	delete(m.written, key)
	return false
}

// forget drops everything about key (its job is gone or finished).
func (m *memory) forget(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.backoffs, key)
	delete(m.written, key)
}
