package hollow

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/store/servertest"
)

func TestPercentilesByNearestRank(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Percentiles
	}{
		{"none", nil, Percentiles{}},
		{"one", ms(7), Percentiles{7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond}},
		{"a hundred, unsorted", ms(hundred...), Percentiles{50 * time.Millisecond, 90 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond}},
		{"three", ms(30, 10, 20), Percentiles{20 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond}},
	} {
		if got := percentiles(tc.in); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestMeasureStartupReportsEveryPodAndCleansUp(t *testing.T) {
	s := servertest.Start(t)
	r, err := MeasureStartup(context.Background(), s.Admin, StartupSettings{Nodes: 3, Pods: 30, Rate: -1}, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	l := r.Latency
	if r.Pods != 30 || r.Throughput <= 0 || l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.Max {
		t.Fatalf("report %+v", r)
	}
	nodes, err := s.Admin.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 0 {
		t.Fatalf("%d nodes left (%v)", len(nodes.Items), err)
	}
}

// BenchmarkStartup measures pod startup latency as "berth bench startup"
// does (100 hollow nodes, 3000 pods at 100/s): go test -run XXX -bench
// Startup -benchtime 1x ./agents/hollow/
func BenchmarkStartup(b *testing.B) {
	s := servertest.Start(b)
	for b.Loop() {
		r, err := MeasureStartup(context.Background(), s.Admin, StartupSettings{}, b.Logf)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(r.Latency.P50.Milliseconds()), "p50-ms")
		b.ReportMetric(float64(r.Latency.P99.Milliseconds()), "p99-ms")
		b.ReportMetric(r.Throughput, "pods/s")
	}
}
