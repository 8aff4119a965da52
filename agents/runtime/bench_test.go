package runtime

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkPodLifecycle measures the raw CRI floor of this machine: each
// iteration runs a hello pod on the bridge network (RunPodSandbox,
// CreateContainer, StartContainer), waits until it answers HTTP, then stops
// and removes it. Run with -benchtime=20x; it reports p50 and p99 per step.
func BenchmarkPodLifecycle(b *testing.B) {
	n := startNode(b)
	var all []podTimes
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := n.runHello(b, "bench-"+randomHex(3))
		n.remove(b, p)
		all = append(all, p.times)
	}
	b.StopTimer()
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

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(0, min(len(sorted)-1, i-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
