package replicaset

import (
	"testing"
	"time"
)

func TestExpectations(t *testing.T) {
	type step struct {
		do   func(e *expectations)
		want bool // satisfied("ns/rs") afterwards
	}
	clock := now
	advance := func(d time.Duration) func(*expectations) { return func(*expectations) { clock = clock.Add(d) } }
	cases := []struct {
		name  string
		steps []step
	}{
		{"nothing expected", []step{{func(*expectations) {}, true}}},
		{"creations until all are seen", []step{
			{func(e *expectations) { e.expect("ns/rs", 2, nil) }, false},
			{func(e *expectations) { e.created("ns/rs") }, false},
			{func(e *expectations) { e.created("ns/rs") }, true},
			{func(e *expectations) { e.created("ns/rs") }, true},
		}},
		{"deletions by pod, each counted once", []step{
			{func(e *expectations) { e.expect("ns/rs", 0, []string{"ns/a", "ns/b"}) }, false},
			{func(e *expectations) { e.deleted("ns/rs", "ns/a") }, false},
			{func(e *expectations) { e.deleted("ns/rs", "ns/a") }, false},
			{func(e *expectations) { e.deleted("ns/rs", "ns/other") }, false},
			{func(e *expectations) { e.deleted("ns/rs", "ns/b") }, true},
		}},
		{"another ReplicaSet's events do not count", []step{
			{func(e *expectations) { e.expect("ns/rs", 1, nil) }, false},
			{func(e *expectations) { e.created("ns/other") }, false},
		}},
		{"unmet expectations expire", []step{
			{func(e *expectations) { e.expect("ns/rs", 3, nil) }, false},
			{advance(expectationsTTL - time.Second), false},
			{advance(2 * time.Second), true},
		}},
		{"forgotten with its ReplicaSet", []step{
			{func(e *expectations) { e.expect("ns/rs", 3, nil) }, false},
			{func(e *expectations) { e.forget("ns/rs") }, true},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock = now
			e := newExpectations(func() time.Time { return clock })
			for i, s := range tc.steps {
				s.do(e)
				if got := e.satisfied("ns/rs"); got != s.want {
					t.Fatalf("after step %d: satisfied = %v, want %v", i, got, s.want)
				}
			}
		})
	}
}
