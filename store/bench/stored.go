package bench

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// storedPods keeps the latest version of each pod the benchmark stored,
// protobuf-encoded, so that ten thousand of them cost the load generator
// little memory and garbage-collection work (which would slow the server
// sharing its CPUs). Each pod has a lock so that concurrent updates never
// race on one pod.
type storedPods struct {
	mu    sync.Mutex // guards appends
	names []string
	data  [][]byte
	locks []sync.Mutex
}

// add records a pod the server returned. It is safe for concurrent use;
// add no more once update has been called.
func (s *storedPods) add(pod *corev1.Pod) error {
	data, err := pod.Marshal()
	if err != nil {
		return fmt.Errorf("encoding pod %s: %w", pod.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.names = append(s.names, pod.Name)
	s.data = append(s.data, data)
	return nil
}

// len is how many pods are stored.
func (s *storedPods) len() int { return len(s.names) }

// name is the name of pod i.
func (s *storedPods) name(i int) string { return s.names[i] }

// update hands pod i to change, which returns the server's new version;
// that replaces the stored one unless change fails.
func (s *storedPods) update(i int, change func(*corev1.Pod) (*corev1.Pod, error)) error {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = make([]sync.Mutex, len(s.names))
	}
	s.mu.Unlock()
	s.locks[i].Lock()
	defer s.locks[i].Unlock()
	pod := &corev1.Pod{}
	if err := pod.Unmarshal(s.data[i]); err != nil {
		return fmt.Errorf("decoding stored pod %s: %w", s.names[i], err)
	}
	next, err := change(pod)
	if err != nil {
		return err
	}
	data, err := next.Marshal()
	if err != nil {
		return fmt.Errorf("encoding pod %s: %w", next.Name, err)
	}
	s.data[i] = data
	return nil
}
