package runtime

import (
	"slices"
	"testing"
	"time"
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
