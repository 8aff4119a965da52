package job

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestMemoryStale(t *testing.T) {
	m := newMemory()
	if m.stale("ns/j", "5") {
		t.Error("a job never written is not stale")
	}
	m.wrote("ns/j", "10")
	if !m.stale("ns/j", "9") {
		t.Error("a cached copy older than our write is stale")
	}
	if m.stale("ns/j", "10") || m.stale("ns/j", "9") {
		t.Error("once the cache caught up, the write is forgotten")
	}
	m.wrote("ns/j", "10")
	if m.stale("ns/j", "not-a-number") {
		t.Error("an unparsable resourceVersion cannot be called stale")
	}
	m.setBackoff("ns/j", backoff{failures: 2})
	m.forget("ns/j")
	if m.backoff("ns/j") != (backoff{}) {
		t.Error("forget drops the back-off record")
	}
}

func TestExpectations(t *testing.T) {
	now := t0
	e := newExpectations(func() time.Time { return now })
	if !e.satisfied("k") {
		t.Error("nothing expected: satisfied")
	}
	e.expect("k", 2, []types.UID{"a"})
	e.created("k")
	e.deleted("k", "a")
	e.deleted("k", "a")
	if e.satisfied("k") {
		t.Error("one creation still outstanding")
	}
	e.created("k")
	if !e.satisfied("k") {
		t.Error("all seen: satisfied")
	}
	e.expect("k", 1, nil)
	now = now.Add(expectationsTTL + time.Second)
	if !e.satisfied("k") {
		t.Error("expectations expire")
	}
	e.expect("k", 1, nil)
	e.forget("k")
	if !e.satisfied("k") {
		t.Error("forgotten expectations are satisfied")
	}
}
