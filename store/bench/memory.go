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
	}
	return total, nil
}

// ParseProcStatus reads VmRSS and VmHWM from the text of a Linux
// /proc/<pid>/status file.
func ParseProcStatus(status []byte) (ProcMemory, error) {
	var m ProcMemory
	var seenRSS, seenPeak bool
	sc := bufio.NewScanner(bytes.NewReader(status))
	for line := 1; sc.Scan(); line++ {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		n, err := parseKB(value)
		if err != nil {
			return ProcMemory{}, fmt.Errorf("line %d: %s: %w", line, key, err)
		}
		if key == "VmRSS" {
			m.RSS, seenRSS = n, true
		} else {
			m.Peak, seenPeak = n, true
		}
	}
	if !seenRSS || !seenPeak {
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
