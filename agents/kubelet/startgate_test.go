package kubelet

import (
	"context"
	"testing"
	"time"
)

func TestStartGateAdmitsItsSizeAndWaitsForARelease(t *testing.T) {
	g := make(startGate, 2)
	ctx := context.Background()
	r1, err1 := g.enter(ctx)
	_, err2 := g.enter(ctx)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := g.enter(short); err == nil {
		t.Fatal("a third pod entered a gate of two")
	}
	entered := make(chan struct{})
	go func() {
		if _, err := g.enter(ctx); err == nil {
			close(entered)
		}
	}()
	r1()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("a released place did not let the waiting pod in")
	}
}
