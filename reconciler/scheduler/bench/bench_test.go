package bench

import (
	"context"
	"flag"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

var (
	benchNodes   = flag.Int("scheduler.nodes", 500, "nodes BenchmarkScheduler registers")
	benchPods    = flag.Int("scheduler.pods", 1000, "pods BenchmarkScheduler places")
	benchClients = flag.Int("scheduler.clients", DefaultSettings().Clients, "clients that create the pods")
	benchBacklog = flag.Int("scheduler.backlog", 0, "pods of the backlog phase (0: none)")
)

func TestRunPlacesEveryPodAndReports(t *testing.T) {
	s := servertest.Start(t)
	settings := DefaultSettings()
	settings.Nodes, settings.Pods, settings.Clients, settings.Backlog = 30, 120, 4, 60
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Run(ctx, s.AdminConfig, s.ConfigAs(server.SchedulerUser), settings, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if r.Latency.Count != 120 || r.PodsPerSecond <= 0 || r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.Seconds <= 0 {
		t.Fatalf("report %+v: want every pod's latency and a positive rate", r)
	}
	pods, err := s.Admin.CoreV1().Pods(settings.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string]int{}
	for _, p := range pods.Items {
		perNode[p.Spec.NodeName]++
	}
	if perNode[""] != 0 || len(perNode) != settings.Nodes || len(pods.Items) != 180 {
		t.Fatalf("pods per node %v: want all 180 bound, spread over all 30 nodes", perNode)
	}
	if d := r.Backlog; d == nil || d.Pods != 60 || d.PodsPerSecond <= 0 {
		t.Fatalf("backlog %+v: want 60 pods drained at a positive rate", d)
	}
}

// BenchmarkScheduler runs the scheduler against an in-process API server
// (everything on the same cores, as "berth server" runs it):
//
//	go test ./reconciler/scheduler/bench -run - -bench Scheduler -benchtime 1x -scheduler.nodes 5000 -scheduler.pods 10000
func BenchmarkScheduler(b *testing.B) {
	for range b.N {
		s := servertest.Start(b)
		settings := DefaultSettings()
		settings.Nodes, settings.Pods, settings.Clients, settings.Backlog = *benchNodes, *benchPods, *benchClients, *benchBacklog
		r, err := Run(context.Background(), s.AdminConfig, s.ConfigAs(server.SchedulerUser), settings, b.Logf)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.PodsPerSecond, "pods/s")
		b.ReportMetric(float64(r.Latency.P50.Milliseconds()), "p50-ms")
		b.ReportMetric(float64(r.Latency.P99.Milliseconds()), "p99-ms")
		b.ReportMetric(r.CPUSeconds/r.Seconds, "cpus-used")
		b.Logf("%d nodes (registered in %.1fs), %d pods created in %.1fs, all bound after %.1fs: %.0f pods/s, latency p50 %v p90 %v p99 %v max %v, %.1f CPU s",
			r.Nodes, r.NodeSeconds, r.Pods, r.CreateSeconds, r.Seconds, r.PodsPerSecond, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max, r.CPUSeconds)
		if d := r.Backlog; d != nil {
			b.ReportMetric(d.PodsPerSecond, "backlog-pods/s")
			b.Logf("backlog of %d pods bound in %.1fs: %.0f pods/s, %.1f CPU s", d.Pods, d.Seconds, d.PodsPerSecond, d.CPUSeconds)
		}
	}
}
