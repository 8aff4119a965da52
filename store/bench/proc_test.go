package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseProcStatus(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    ProcMemory
		wantErr string
	}{
		{
			name:   "a Linux status file",
			status: "Name:\tberth\nVmPeak:\t 2000000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nRssAnon:\t   92160 kB\nRssFile:\t   10240 kB\nRssShmem:\t       0 kB\nThreads:\t12\n",
			want:   ProcMemory{RSS: 100 << 20, Peak: 200 << 20, Anon: 90 << 20, File: 10 << 20},
		},
		{
			name:   "an old kernel without the RSS split",
			status: "VmHWM:\t2 kB\nVmRSS:\t1 kB\n",
			want:   ProcMemory{RSS: 1024, Peak: 2048},
		},
		{name: "kernel thread without memory lines", status: "Name:\tkthreadd\nThreads:\t1\n", wantErr: "no VmRSS"},
		{name: "RSS without peak", status: "VmRSS:\t1 kB\n", wantErr: "no VmRSS and VmHWM"},
		{name: "unit other than kB", status: "VmHWM:\t1 kB\nVmRSS:\t1 MB\n", wantErr: `line 2: VmRSS: want "<number> kB", got "1 MB"`},
		{name: "not a number", status: "VmRSS:\tlots kB\nVmHWM:\t1 kB\n", wantErr: "line 1: VmRSS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcStatus([]byte(tt.status))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestProcessMemoryAddsProcessesUp(t *testing.T) {
	one, err := ProcessMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if one.RSS <= 0 || one.Peak < one.RSS || one.Anon <= 0 || one.Anon > one.RSS {
		t.Fatalf("this process: %+v", one)
	}
	two, err := ProcessMemory(os.Getpid(), os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if two.Peak < 2*one.Peak {
		t.Errorf("two processes' peak %d < twice one's %d", two.Peak, one.Peak)
	}
	if _, err := ProcessMemory(-1); err == nil || !strings.Contains(err.Error(), "process -1") {
		t.Errorf("missing process: got %v", err)
	}
}

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr string
	}{
		{
			name: "user and system ticks add up",
			stat: "1555 (berth) S 1553 1553 16322 0 -1 4194304 97 0 0 0 250 30 0 0 20 0 1 0 275038 3133440 360",
			want: 2800 * time.Millisecond,
		},
		{
			name: "a command with spaces and parentheses",
			stat: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 0 0 0",
			want: 20 * time.Millisecond,
		},
		{name: "no command", stat: "garbage", wantErr: "no (command) field"},
		{name: "cut short", stat: "1 (x) S 1 2 3", wantErr: "4 fields after the command"},
		{name: "not a number", stat: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 lots 1 0 0", wantErr: "field 14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProcStat([]byte(tt.stat))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestProcessCPUGrowsWithWork(t *testing.T) {
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for start := selfCPU(); selfCPU()-start < 100*time.Millisecond; {
	}
	after, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Errorf("100ms of CPU by getrusage counted as %s in /proc", after-before)
	}
	if self := selfCPU(); self < after {
		t.Errorf("getrusage says %s, /proc says %s", self, after)
	}
}
