package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestMillisAndMiB(t *testing.T) {
	tests := []struct{ got, want string }{
		{Millis(1234 * time.Microsecond), "1.23ms"},
		{Millis(45678 * time.Microsecond), "45.7ms"},
		{Millis(1234567 * time.Microsecond), "1235ms"},
		{Millis(0), "0.00ms"},
		{MiB(150 << 20), "150 MiB"},
		{MiB(0), "0 MiB"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestWriteTableAlignsEveryFigure(t *testing.T) {
	r := &Report{
		Target:  "berth server",
		Machine: Machine{CPUs: 2, Kernel: "6.1", GoVersion: "go1.26", LoadStart: "0.10 0.20 0.30", LoadEnd: "1.00 0.50 0.40"},
		Throughput: []Throughput{
			{Scenario: ScenarioCreate, LoadResult: LoadResult{Clients: 1, Ops: 4000, PerSecond: 400, Latency: Summary{P50: 2 * time.Millisecond, P99: 9 * time.Millisecond}, ClientCPUPerOpMs: 0.25}, ServerCPUPerOpMs: 1.5},
			{Scenario: ScenarioGet, LoadResult: LoadResult{Clients: 50, Ops: 30000, PerSecond: 3000, Errors: 2, Latency: Summary{P50: 15 * time.Millisecond, P99: 120 * time.Millisecond}}},
		},
		Watch: &FanoutResult{Watchers: 1000, Writes: 100, Expected: 100000, Delivered: 99999, Delay: Summary{P50: 12 * time.Millisecond}, ServerCPUMs: 900, ClientCPUMs: 1500},
		Memory: []MemoryPoint{
			{When: "idle", ProcMemory: ProcMemory{RSS: 80 << 20, Peak: 81 << 20, Anon: 70 << 20, File: 10 << 20}},
			{When: "with 10000 pods", Pods: 10000, ProcMemory: ProcMemory{RSS: 140 << 20, Peak: 160 << 20, Anon: 100 << 20, File: 40 << 20}},
		},
	}
	var out bytes.Buffer
	if err := WriteTable(&out, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	header := lines[0]
	wantRows := map[int][]string{
		1: {"create", "1", "4000", "400", "2.00ms", "9.00ms", "1.50ms", "0.25ms"},
		2: {"get", "50", "30000", "3000", "15.0ms", "120ms", "2", " - "},
		5: {"1000", "100", "99999/100000", "no", "12.0ms", "900ms", "1500ms"},
		8: {"idle", "0", "80 MiB", "70 MiB", "10 MiB", "81 MiB"},
		9: {"with 10000 pods", "10000", "140 MiB", "100 MiB", "40 MiB", "160 MiB"},
	}
	for i, want := range wantRows {
		for _, cell := range want {
			if !strings.Contains(lines[i], cell) {
				t.Errorf("line %d %q lacks %q", i, lines[i], cell)
			}
		}
	}
	// Columns line up: each header starts where its values start.
	col := strings.Index(header, "OPS/S")
	for _, i := range []int{1, 2} {
		if lines[i][col-1] != ' ' || lines[i][col] == ' ' {
			t.Errorf("line %d is not aligned under OPS/S:\n%s\n%s", i, header, lines[i])
		}
	}
	if !strings.Contains(out.String(), "\nServer: berth server\nLoad generator: 2 CPUs, kernel 6.1, go1.26; load average 0.10 0.20 0.30 at the start, 1.00 0.50 0.40 at the end\n") {
		t.Errorf("no footer describing the run:\n%s", out.String())
	}
	if !strings.HasPrefix(lines[4], "WATCHERS") || !strings.HasPrefix(lines[7], "SERVER MEMORY") {
		t.Errorf("tables out of place:\n%s", out.String())
	}
}

func TestWriteTableOfAPartialRunOfARemoteServer(t *testing.T) {
	var out bytes.Buffer
	if err := WriteTable(&out, &Report{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "unknown (remote server)") {
		t.Errorf("no memory line for a remote server:\n%s", out.String())
	}
	if strings.Contains(out.String(), "WATCHERS") {
		t.Errorf("a watch table for a watch scenario that did not run:\n%s", out.String())
	}
}
