package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcMemory is the resident memory of one or more processes, in bytes.
type ProcMemory struct {
	// RSS is the resident set size now (VmRSS).
	RSS int64 `json:"rssBytes"`
	// Peak is the largest RSS seen over the process's life (VmHWM).
	Peak int64 `json:"peakRssBytes"`
	// Anon is the part of RSS that is the process's own memory (RssAnon:
	// heap, stacks); File is file pages mapped in (RssFile: the binary,
	// etcd's memory-mapped database), which the kernel can reclaim.
	Anon int64 `json:"anonRssBytes"`
	File int64 `json:"fileRssBytes"`
}

// ProcessMemory reads the resident memory of the processes pids from
// /proc/<pid>/status and adds them up (a server and its separate etcd, for
// example).
func ProcessMemory(pids ...int) (ProcMemory, error) {
	var total ProcMemory
	for _, pid := range pids {
		path := "/proc/" + strconv.Itoa(pid) + "/status"
		data, err := os.ReadFile(path)
		if err != nil {
			return ProcMemory{}, fmt.Errorf("reading the memory of process %d: %w", pid, err)
		}
		m, err := ParseProcStatus(data)
		if err != nil {
			return ProcMemory{}, fmt.Errorf("%s: %w", path, err)
		}
		total.RSS += m.RSS
		total.Peak += m.Peak
		total.Anon += m.Anon
		total.File += m.File
	}
	return total, nil
}

// ParseProcStatus reads VmRSS, VmHWM, RssAnon and RssFile from the text of
// a Linux /proc/<pid>/status file. VmRSS and VmHWM are required; the other
// two are zero on kernels older than 4.5, which lack them.
func ParseProcStatus(status []byte) (ProcMemory, error) {
	var m ProcMemory
	fields := map[string]*int64{"VmRSS": &m.RSS, "VmHWM": &m.Peak, "RssAnon": &m.Anon, "RssFile": &m.File}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for line := 1; sc.Scan(); line++ {
		key, value, ok := strings.Cut(sc.Text(), ":")
		dst, wanted := fields[key]
		if !ok || !wanted {
			continue
		}
		n, err := parseKB(value)
		if err != nil {
			return ProcMemory{}, fmt.Errorf("line %d: %s: %w", line, key, err)
		}
		*dst, seen[key] = n, true
	}
	if !seen["VmRSS"] || !seen["VmHWM"] {
		return ProcMemory{}, fmt.Errorf("no VmRSS and VmHWM lines (a kernel thread, or not a Linux status file)")
	}
	return m, nil
}

// parseKB turns "  123456 kB" into bytes.
func parseKB(value string) (int64, error) {
	fields := strings.Fields(value)
	if len(fields) != 2 || fields[1] != "kB" {
		return 0, fmt.Errorf("want \"<number> kB\", got %q", strings.TrimSpace(value))
	}
	n, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want \"<number> kB\", got %q", strings.TrimSpace(value))
	}
	return n * 1024, nil
}

// userHZ is the unit of the CPU times in /proc/<pid>/stat. It is 100 on
// every Linux architecture Go supports (it is fixed in the kernel ABI, apart
// from the configurable internal HZ).
const userHZ = 100

// ProcessCPU reads the CPU time (user and system) the processes pids have
// used so far, from /proc/<pid>/stat.
func ProcessCPU(pids ...int) (time.Duration, error) {
	var total time.Duration
	for _, pid := range pids {
		path := "/proc/" + strconv.Itoa(pid) + "/stat"
		data, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("reading the CPU time of process %d: %w", pid, err)
		}
		d, err := ParseProcStat(data)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		total += d
	}
	return total, nil
}

// ParseProcStat reads the user and system CPU time (fields 14 and 15) from
// the text of a Linux /proc/<pid>/stat file. The command name (field 2)
// may hold spaces and parentheses, so fields are counted from the last ')'.
func ParseProcStat(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no (command) field: not a /proc/<pid>/stat file")
	}
	fields := strings.Fields(string(stat[end+1:]))
	// fields[0] is field 3 (state), so utime (14) and stime (15) are 11 and 12.
	if len(fields) < 13 {
		return 0, fmt.Errorf("%d fields after the command, want at least 13", len(fields))
	}
	var ticks int64
	for _, i := range []int{11, 12} {
		n, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("field %d: want a tick count, got %q", i+3, fields[i])
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// selfCPU is the CPU time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
