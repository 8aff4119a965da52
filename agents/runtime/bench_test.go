package runtime

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// BenchmarkPodLifecycle measures the raw CRI floor of this machine: each
// iteration runs a hello pod (RunPodSandbox, CreateContainer,
// StartContainer), waits until it answers HTTP, then stops and removes it;
// once on the bridge network, once with hostNetwork. Run with
// -benchtime=20x; it reports p50 and p99 per step.
func BenchmarkPodLifecycle(b *testing.B) {
	n := startNode(b)
	for _, hostNetwork := range []bool{false, true} {
		name := "podNetwork"
		if hostNetwork {
			name = "hostNetwork"
		}
		b.Run(name, func(b *testing.B) {
			var all []podTimes
			for b.Loop() {
				p := n.runHelloOn(b, "bench-"+randomHex(3), hostNetwork)
				n.remove(b, p)
				all = append(all, p.times)
			}
			reportPercentiles(b, all)
		})
	}
}

// reportPercentiles reports the p50 and p99 of each step of the pods' lives.
func reportPercentiles(b *testing.B, all []podTimes) {
	steps := []struct {
		name string
		get  func(podTimes) time.Duration
	}{
		{"run", func(p podTimes) time.Duration { return p.run }},
		{"create", func(p podTimes) time.Duration { return p.create }},
		{"start", func(p podTimes) time.Duration { return p.start }},
		{"serve", func(p podTimes) time.Duration { return p.serve }},
		{"stop", func(p podTimes) time.Duration { return p.stop }},
		{"remove", func(p podTimes) time.Duration { return p.remove }},
	}
	for _, s := range steps {
		var d []time.Duration
		for _, p := range all {
			d = append(d, s.get(p))
		}
		slices.Sort(d)
		b.ReportMetric(ms(percentile(d, 50)), s.name+"-p50-ms")
		b.ReportMetric(ms(percentile(d, 99)), s.name+"-p99-ms")
	}
}

// percentile is the p-th percentile (nearest rank) of sorted durations.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkSandboxesAtOnce measures the pod sandboxes of a burst: each
// iteration runs 20 sandboxes on the bridge network at once, then stops and
// removes them at once; it reports the p50 and p99 of RunPodSandbox and the
// wall time of each half. It shows what the pod network costs per pod
// (ipMasq made a per-pod iptables chain; see masquerade.go).
func BenchmarkSandboxesAtOnce(b *testing.B) {
	const burst = 20
	n := startNode(b)
	var runs []time.Duration
	var runWall, removeWall time.Duration
	for b.Loop() {
		ids := make([]string, burst)
		took := make([]time.Duration, burst)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range burst {
			wg.Go(func() {
				t0 := time.Now()
				ids[i], _ = n.sandbox(b, fmt.Sprintf("burst-%s-%d", randomHex(2), i))
				took[i] = time.Since(t0)
			})
		}
		wg.Wait()
		runWall += time.Since(start)
		runs = append(runs, took...)
		start = time.Now()
		for _, id := range ids {
			wg.Go(func() {
				if err := StopPodSandbox(context.Background(), n.rs, id); err != nil {
					b.Errorf("StopPodSandbox %s: %v", id, err)
				}
				if _, err := n.rs.RemovePodSandbox(context.Background(), &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil {
					b.Errorf("RemovePodSandbox %s: %v", id, err)
				}
			})
		}
		wg.Wait()
		removeWall += time.Since(start)
	}
	slices.Sort(runs)
	b.ReportMetric(ms(percentile(runs, 50)), "run-p50-ms")
	b.ReportMetric(ms(percentile(runs, 99)), "run-p99-ms")
	b.ReportMetric(ms(runWall)/float64(b.N), "run-burst-ms")
	b.ReportMetric(ms(removeWall)/float64(b.N), "remove-burst-ms")
}
