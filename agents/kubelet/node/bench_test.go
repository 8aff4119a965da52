package node

import (
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/berth-io/berth/agents/nodestatus"
	"github.com/berth-io/berth/store/servertest"
)

// The cost of keeping one node alive, measured through a real API server
// (embedded etcd, HTTPS, RBAC and node authorization) as the node's own
// identity. A node makes one lease renewal every 10 s and one status
// check every 10 s (a GET, plus a PATCH when something changed or every
// 5 minutes), so N nodes cost N/10 renewals and N/10 checks per second.
//
//	go test ./agents/kubelet/node -run '^$' -bench . -benchmem

func BenchmarkLeaseRenewal(b *testing.B) {
	s := servertest.Start(b)
	ctx := context.Background()
	n, err := Register(ctx, testConfig(s, "bench", &fakeMachine{machine: healthy}))
	if err != nil {
		b.Fatal(err)
	}
	lease := nodestatus.NewLease(testConfig(s, "bench", nil).Client.CoordinationV1(), "bench", n.UID(), 40*time.Second)
	timed(b, func(now time.Time) error { return lease.Renew(ctx, now) })
}

// BenchmarkStatusUpdateUnchanged is a status check that finds nothing to
// send: one GET (from the API server's watch cache).
func BenchmarkStatusUpdateUnchanged(b *testing.B) {
	s := servertest.Start(b)
	ctx := context.Background()
	n, err := Register(ctx, testConfig(s, "bench", &fakeMachine{machine: healthy}))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	timed(b, func(now time.Time) error {
		_, err := n.UpdateStatus(ctx, start) // never due for a report
		return err
	})
}

// BenchmarkStatusUpdateChanged is a status check that sends the full
// status every time (the runtime flips between up and down): a GET and a
// PATCH of nodes/status.
func BenchmarkStatusUpdateChanged(b *testing.B) {
	s := servertest.Start(b)
	ctx := context.Background()
	fake := &fakeMachine{machine: healthy}
	n, err := Register(ctx, testConfig(s, "bench", fake))
	if err != nil {
		b.Fatal(err)
	}
	down := errors.New("container runtime is down")
	start, i := time.Now(), 0
	timed(b, func(time.Time) error {
		i++
		fake.set(func(f *fakeMachine) {
			f.runtimeErr = nil
			if i%2 == 1 {
				f.runtimeErr = down
			}
		})
		_, err := n.UpdateStatus(ctx, start)
		return err
	})
}

// timed runs op b.N times and reports p50 and p99 latencies besides the
// mean, and the CPU time per op of the whole process: client, API server
// and embedded etcd together, which is what the cluster pays per call.
func timed(b *testing.B, op func(now time.Time) error) {
	b.Helper()
	latencies := make([]time.Duration, 0, b.N)
	cpuStart := processCPU(b)
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		if err := op(t); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(t))
	}
	b.StopTimer()
	if len(latencies) > 0 {
		b.ReportMetric(float64((processCPU(b)-cpuStart).Microseconds())/float64(len(latencies)), "cpu-µs/op")
	}
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
	}
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
