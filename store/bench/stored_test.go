package bench

import (
	"errors"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestStoredPodsKeepTheLatestVersion(t *testing.T) {
	var s storedPods
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			pod := Pod("ns", "pod-"+string(rune('a'+i)), i)
			pod.ResourceVersion = "1"
			if err := s.add(pod); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if s.len() != 4 {
		t.Fatalf("%d pods stored, want 4", s.len())
	}
	name := s.name(2)
	bump := func(rv string) func(*corev1.Pod) (*corev1.Pod, error) {
		return func(p *corev1.Pod) (*corev1.Pod, error) {
			if p.Name != name {
				t.Errorf("change got pod %s, want %s", p.Name, name)
			}
			next := p.DeepCopy()
			next.ResourceVersion = rv
			return next, nil
		}
	}
	if err := s.update(2, bump("2")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("409 conflict")
	if err := s.update(2, func(*corev1.Pod) (*corev1.Pod, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed change: got %v, want %v", err, boom)
	}
	var seen string
	if err := s.update(2, func(p *corev1.Pod) (*corev1.Pod, error) { seen = p.ResourceVersion; return p, nil }); err != nil {
		t.Fatal(err)
	}
	if seen != "2" {
		t.Errorf("stored version %q, want the last successful one, 2", seen)
	}
}
