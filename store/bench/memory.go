package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
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
