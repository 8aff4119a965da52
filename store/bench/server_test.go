package bench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-io/berth/store/server"
)

// startServer runs a berth API server with embedded etcd in this process
// and returns an admin client config for it (protobuf, no rate limit).
func startServer(tb testing.TB) *rest.Config {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.Start(ctx, server.Options{
		DataDir:         tb.TempDir(),
		Etcd:            server.EtcdOptions{ClientPort: 0, PeerPort: 0},
		CompactInterval: time.Hour,
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		cancel()
		tb.Fatalf("starting the server: %v", err)
	}
	tb.Cleanup(func() { cancel(); s.Stop() })
	config, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		tb.Fatal(err)
	}
	return ClientConfig(config)
}

func oneClient(tb testing.TB, config *rest.Config) kubernetes.Interface {
	tb.Helper()
	cs, err := NewClients(config, 1)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(cs.Close)
	return cs.Sets[0]
}

func TestRunMeasuresEveryScenarioAgainstBerth(t *testing.T) {
	config := startServer(t)
	s := Settings{Pods: 20, Clients: []int{1, 3}, Duration: 200 * time.Millisecond, Watchers: 7, WatchWrites: 5}
	var lines int
	// The server runs in this process, so this process's CPU time is (also) the server's.
	cpu := func() (time.Duration, error) { return ProcessCPU(os.Getpid()) }
	r, err := Run(context.Background(), Target{Config: config, Description: "in-process berth", CPU: cpu}, s, func(string, ...any) { lines++ })
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		scenario string
		clients  int
	}{{ScenarioFill, 3}, {ScenarioCreate, 1}, {ScenarioCreate, 3}, {ScenarioUpdate, 1}, {ScenarioUpdate, 3}, {ScenarioGet, 1}, {ScenarioGet, 3}}
	if len(r.Throughput) != len(want) {
		t.Fatalf("got %d throughput rows, want %d: %+v", len(r.Throughput), len(want), r.Throughput)
	}
	for i, w := range want {
		got := r.Throughput[i]
		if got.Scenario != w.scenario || got.Clients != w.clients || got.Ops == 0 || got.Errors != 0 || got.Latency.P50 <= 0 {
			t.Errorf("row %d: got %s at %d clients, %d ops, %d errors (%s), p50 %s; want %s at %d clients without errors",
				i, got.Scenario, got.Clients, got.Ops, got.Errors, got.FirstError, got.Latency.P50, w.scenario, w.clients)
		}
	}
	for _, row := range r.Throughput[1:] {
		if row.ServerCPUPerOpMs <= 0 {
			t.Errorf("%s at %d clients: no server CPU time per call", row.Scenario, row.Clients)
		}
	}
	if r.Throughput[0].Ops != s.Pods {
		t.Errorf("fill stored %d pods, want %d", r.Throughput[0].Ops, s.Pods)
	}
	if r.Watch == nil || !r.Watch.AllDelivered() || r.Watch.Expected != 35 || r.Watch.Closed != 0 {
		t.Errorf("watch: %+v, want all 35 events delivered", r.Watch)
	}
	if len(r.Memory) != 0 {
		t.Errorf("memory read without a way to read it: %+v", r.Memory)
	}
	if lines == 0 {
		t.Error("no progress reported")
	}

	// Without watchers and with cleanup, on the same server.
	s = Settings{Pods: 3, Clients: []int{1}, Duration: 50 * time.Millisecond, Cleanup: true}
	r, err = Run(context.Background(), Target{Config: config}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Watch != nil {
		t.Errorf("a watch scenario ran without watchers: %+v", r.Watch)
	}
	client := oneClient(t, config)
	namespaces, err := client.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, ns := range namespaces.Items {
		if strings.HasPrefix(ns.Name, "bench-") && ns.DeletionTimestamp == nil {
			left = append(left, ns.Name)
		}
	}
	// The first run had no cleanup: its three namespaces stay.
	if len(left) != 3 {
		t.Errorf("namespaces left after a run with cleanup and one without: %v, want the first run's 3", left)
	}
}

func TestRunRejectsSettingsThatMeasureNothing(t *testing.T) {
	tests := []struct {
		s       Settings
		wantErr string
	}{
		{Settings{Pods: 0, Clients: []int{1}, Duration: time.Second}, "pods"},
		{Settings{Pods: 1, Clients: nil, Duration: time.Second}, "clients"},
		{Settings{Pods: 1, Clients: []int{1, 0}, Duration: time.Second}, "clients"},
		{Settings{Pods: 1, Clients: []int{1}, Duration: 0}, "duration"},
		{Settings{Pods: 1, Clients: []int{1}, Duration: time.Second, Watchers: -1}, "watchers"},
		{Settings{Pods: 1, Clients: []int{1}, Duration: time.Second, Watchers: 10, WatchWrites: 0}, "watch writes"},
	}
	for _, tt := range tests {
		_, err := Run(context.Background(), Target{}, tt.s, nil)
		if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr+":") {
			t.Errorf("settings %+v: got %v, want an error about %s", tt.s, err, tt.wantErr)
		}
	}
}

// BenchmarkPodCreate creates pods one after the other against an
// in-process server; allocations count both client and server.
func BenchmarkPodCreate(b *testing.B) {
	client := oneClient(b, startServer(b))
	ctx := context.Background()
	if err := EnsureNamespace(ctx, client, "bench"); err != nil {
		b.Fatal(err)
	}
	pods := client.CoreV1().Pods("bench")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := pods.Create(ctx, Pod("bench", "pod-"+strconv.Itoa(i), i), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPodGet reads stored pods one after the other.
func BenchmarkPodGet(b *testing.B) {
	client := oneClient(b, startServer(b))
	ctx := context.Background()
	if err := EnsureNamespace(ctx, client, "bench"); err != nil {
		b.Fatal(err)
	}
	pods := client.CoreV1().Pods("bench")
	const stored = 100
	for i := range stored {
		if _, err := pods.Create(ctx, Pod("bench", "pod-"+strconv.Itoa(i), i), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := pods.Get(ctx, "pod-"+strconv.Itoa(i%stored), metav1.GetOptions{}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
