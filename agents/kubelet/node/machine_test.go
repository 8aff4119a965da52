package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseMeminfo(t *testing.T) {
	for _, tc := range []struct {
		name, text       string
		total, available int64
		err              string
	}{
		{"debian", "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20000000 kB\nBuffers: 1 kB\n", 24576000 << 10, 20000000 << 10, ""},
		{"no MemAvailable", "MemTotal: 10 kB\n", 0, 0, "missing"},
		{"not kB", "MemTotal: 10 MB\nMemAvailable: 5 kB\n", 0, 0, "not a size in kB"},
		{"garbage number", "MemTotal: ten kB\nMemAvailable: 5 kB\n", 0, 0, "MemTotal"},
	} {
		total, available, err := parseMeminfo(strings.NewReader(tc.text))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || total != tc.total || available != tc.available {
			t.Errorf("%s: %d, %d, %v; want %d, %d", tc.name, total, available, err, tc.total, tc.available)
		}
	}
}

func TestParseLoadavgTasks(t *testing.T) {
	if n, err := parseLoadavgTasks("0.52 0.58 0.59 3/1234 56789\n"); err != nil || n != 1234 {
		t.Errorf("tasks = %d, %v; want 1234", n, err)
	}
	for _, bad := range []string{"", "0.1 0.2 0.3", "0.1 0.2 0.3 x 5", "0.1 0.2 0.3 1/x 5"} {
		if _, err := parseLoadavgTasks(bad); err == nil {
			t.Errorf("parseLoadavgTasks(%q) succeeded", bad)
		}
	}
}

func TestParseOSRelease(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n", "Debian GNU/Linux 12 (bookworm)"},
		{"# comment\nNAME='Alpine Linux'\n", "Alpine Linux"},
		{"ID=nothing\n", "Linux"},
	} {
		if got := parseOSRelease(tc.text); got != tc.want {
			t.Errorf("parseOSRelease(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// TestMeasureThisMachine measures the machine the test runs on.
func TestMeasureThisMachine(t *testing.T) {
	m, err := Measure(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if m.CPUs < 1 || m.MemoryTotal <= 0 || m.MemoryAvailable <= 0 || m.MemoryAvailable > m.MemoryTotal ||
		m.DiskTotal <= 0 || m.DiskAvailable > m.DiskTotal || m.PIDMax <= 0 || m.PIDs <= 0 {
		t.Errorf("implausible measurements: %+v", m)
	}
	if m.Info.KernelVersion == "" || m.Info.OSImage == "" || m.Info.Architecture == "" || m.Info.OperatingSystem != "linux" || m.Info.BootID == "" {
		t.Errorf("missing system information: %+v", m.Info)
	}
}

func TestMeasureNamesTheFileItCannotRead(t *testing.T) {
	files := procFiles
	files.meminfo = filepath.Join(t.TempDir(), "meminfo")
	if err := os.WriteFile(files.meminfo, []byte("MemTotal: 1 kB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := files.measure(t.TempDir()); err == nil || !strings.Contains(err.Error(), files.meminfo) {
		t.Errorf("measure with a truncated meminfo: %v, want an error naming it", err)
	}
	if _, err := procFiles.measure(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("measure of a missing data dir: %v, want an error naming it", err)
	}
}
