package node

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Machine is what a node measures of the machine it runs on: the sizes its
// capacity comes from, what is still free (its pressure conditions), and
// what it says about itself in status.nodeInfo.
type Machine struct {
	// CPUs is the number of logical CPUs the agent may use.
	CPUs int
	// MemoryTotal and MemoryAvailable are /proc/meminfo's MemTotal and
	// MemAvailable, in bytes.
	MemoryTotal, MemoryAvailable int64
	// DiskTotal and DiskAvailable are the size of the file system holding
	// the data directory and what an unprivileged user may still write
	// there, in bytes.
	DiskTotal, DiskAvailable int64
	// PIDMax is kernel.pid_max; PIDs is how many processes and threads
	// exist now.
	PIDMax, PIDs int64
	// Info is status.nodeInfo without the runtime and kubelet versions.
	Info MachineInfo
}

// MachineInfo identifies the machine and its operating system.
type MachineInfo struct {
	Hostname, KernelVersion, OSImage, OperatingSystem, Architecture string
	MachineID, SystemUUID, BootID                                   string
}

// Files Measure reads; tests point them elsewhere.
type machineFiles struct {
	meminfo, loadavg, pidMax, osRelease, machineID, systemUUID, bootID string
}

var procFiles = machineFiles{
	meminfo:    "/proc/meminfo",
	loadavg:    "/proc/loadavg",
	pidMax:     "/proc/sys/kernel/pid_max",
	osRelease:  "/etc/os-release",
	machineID:  "/etc/machine-id",
	systemUUID: "/sys/class/dmi/id/product_uuid",
	bootID:     "/proc/sys/kernel/random/boot_id",
}

// Measure measures this machine, with the disk of the file system that
// holds dataDir. Identity files that are missing (no machine-id in a
// container, no DMI uuid without root) leave their fields empty; the
// sizes are required.
func Measure(dataDir string) (Machine, error) { return procFiles.measure(dataDir) }

func (f machineFiles) measure(dataDir string) (Machine, error) {
	m := Machine{CPUs: runtime.NumCPU()}
	data, err := os.ReadFile(f.meminfo)
	if err != nil {
		return m, fmt.Errorf("measuring memory: %w", err)
	}
	if m.MemoryTotal, m.MemoryAvailable, err = parseMeminfo(bytes.NewReader(data)); err != nil {
		return m, fmt.Errorf("measuring memory: %s: %w", f.meminfo, err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(dataDir, &fs); err != nil {
		return m, fmt.Errorf("measuring the disk of %s: %w", dataDir, err)
	}
	m.DiskTotal, m.DiskAvailable = int64(fs.Blocks)*fs.Bsize, int64(fs.Bavail)*fs.Bsize
	if m.PIDMax, err = readInt(f.pidMax); err != nil {
		return m, fmt.Errorf("measuring process IDs: %w", err)
	}
	loadavg, err := os.ReadFile(f.loadavg)
	if err != nil {
		return m, fmt.Errorf("measuring process IDs: %w", err)
	}
	if m.PIDs, err = parseLoadavgTasks(string(loadavg)); err != nil {
		return m, fmt.Errorf("measuring process IDs: %s: %w", f.loadavg, err)
	}
	m.Info = f.info()
	return m, nil
}

// info reads what identifies the machine; what cannot be read stays empty.
func (f machineFiles) info() MachineInfo {
	info := MachineInfo{OperatingSystem: runtime.GOOS, Architecture: runtime.GOARCH}
	info.Hostname, _ = os.Hostname()
	info.Hostname = strings.ToLower(info.Hostname)
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		info.KernelVersion = unix.ByteSliceToString(uts.Release[:])
	}
	if data, err := os.ReadFile(f.osRelease); err == nil {
		info.OSImage = parseOSRelease(string(data))
	}
	info.MachineID = readTrimmed(f.machineID)
	info.SystemUUID = readTrimmed(f.systemUUID)
	info.BootID = readTrimmed(f.bootID)
	return info
}

// parseMeminfo reads MemTotal and MemAvailable (kB) from /proc/meminfo,
// in bytes.
func parseMeminfo(r io.Reader) (total, available int64, err error) {
	found := 0
	scanner := bufio.NewScanner(r)
	for scanner.Scan() {
		key, rest, ok := strings.Cut(scanner.Text(), ":")
		if !ok || (key != "MemTotal" && key != "MemAvailable") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, 0, fmt.Errorf("%s: %q is not a size in kB", key, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", key, err)
		}
		if key == "MemTotal" {
			total = kb * 1024
		} else {
			available = kb * 1024
		}
		found++
	}
	if err := scanner.Err(); err != nil {
		return 0, 0, err
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("MemTotal or MemAvailable missing")
	}
	return total, available, nil
}

// parseLoadavgTasks reads the number of tasks (processes and threads)
// from /proc/loadavg: the fourth field is running/total.
func parseLoadavgTasks(loadavg string) (int64, error) {
	fields := strings.Fields(loadavg)
	if len(fields) < 4 {
		return 0, fmt.Errorf("%q has no running/total field", strings.TrimSpace(loadavg))
	}
	_, total, ok := strings.Cut(fields[3], "/")
	if !ok {
		return 0, fmt.Errorf("field %q is not running/total", fields[3])
	}
	return strconv.ParseInt(total, 10, 64)
}

// parseOSRelease is the operating system's name as os-release gives it:
// PRETTY_NAME, else NAME, else "Linux".
func parseOSRelease(data string) string {
	values := map[string]string{}
	for line := range strings.Lines(data) {
		key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(key, "#") {
			continue
		}
		if unquoted, err := strconv.Unquote(value); err == nil {
			value = unquoted
		} else {
			value = strings.Trim(value, `'"`)
		}
		values[key] = value
	}
	for _, key := range []string{"PRETTY_NAME", "NAME"} {
		if values[key] != "" {
			return values[key]
		}
	}
	return "Linux"
}

func readInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

func readTrimmed(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
