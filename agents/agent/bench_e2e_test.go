package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-io/berth/agents/agent/podbench"
)

// BenchmarkPodStartup starts 20 hello pods at once on the real agent per
// iteration and reports create → Running and → first HTTP answer (the
// full figures with agent memory: berth bench pods).
func BenchmarkPodStartup(b *testing.B) {
	c := startCluster(b)
	s := podbench.DefaultSettings()
	s.Pods, s.Image = 20, hello
	ctx := context.Background()
	var last podbench.Result
	for b.Loop() {
		r, err := podbench.Measure(ctx, c.Admin, s, func(string, ...any) {})
		if err != nil {
			b.Fatal(err)
		}
		last = r
		b.StopTimer()
		cctx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := podbench.Cleanup(cctx, c.Admin, s); err != nil {
			b.Fatal(err)
		}
		cancel()
		b.StartTimer()
	}
	b.ReportMetric(float64(last.Running.P50.Milliseconds()), "running-p50-ms")
	b.ReportMetric(float64(last.Running.P99.Milliseconds()), "running-p99-ms")
	b.ReportMetric(float64(last.HTTP.P50.Milliseconds()), "http-p50-ms")
	b.ReportMetric(float64(last.HTTP.P99.Milliseconds()), "http-p99-ms")
}
