package runtime

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultCNIBinDir is where Debian's containernetworking-plugins installs the plugins.
const DefaultCNIBinDir = "/usr/lib/cni"

// BusyboxPath is Debian's busybox binary: the pause and busybox images are
// made from it, so it must be the static build (package busybox-static).
const BusyboxPath = "/bin/busybox"

// Host is the machine CheckHost inspects; a zero field means the real one
// (tests inject lookups that fail).
type Host struct {
	// LookPath finds a command in PATH (default exec.LookPath).
	LookPath func(file string) (string, error)
	// Stat reads a file's metadata (default os.Stat).
	Stat func(name string) (os.FileInfo, error)
	// Static reports an error unless the file is a statically linked executable.
	Static func(path string) error
	// CNIBinDir is where the CNI plugins are (default DefaultCNIBinDir).
	CNIBinDir string
	// Busybox is the busybox binary (default BusyboxPath).
	Busybox string
}

// requirement is one thing the agent needs and the Debian package providing it.
type requirement struct {
	what, pkg string
	check     func(h Host) error
}

// CheckHost reports what berth agent needs and this machine lacks, naming
// the Debian packages to install; nil when everything is present.
func CheckHost() error { return Host{}.Check() }

// Check is CheckHost for h.
func (h Host) Check() error {
	h = h.withDefaults()
	var problems []string
	var pkgs []string
	for _, r := range h.requirements() {
		if err := r.check(h); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v (package %s)", r.what, err, r.pkg))
			if !slices.Contains(pkgs, r.pkg) {
				pkgs = append(pkgs, r.pkg)
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("this machine lacks what berth agent needs:\n  %s\ninstall with: apt-get install -y %s (or make deps)",
		strings.Join(problems, "\n  "), strings.Join(pkgs, " "))
}

func (h Host) withDefaults() Host {
	if h.LookPath == nil {
		h.LookPath = exec.LookPath
	}
	if h.Stat == nil {
		h.Stat = os.Stat
	}
	if h.Static == nil {
		h.Static = staticExecutable
	}
	if h.CNIBinDir == "" {
		h.CNIBinDir = DefaultCNIBinDir
	}
	if h.Busybox == "" {
		h.Busybox = BusyboxPath
	}
	return h
}

func (h Host) requirements() []requirement {
	command := func(name string) func(Host) error {
		return func(h Host) error {
			_, err := h.LookPath(name)
			if err != nil {
				return fmt.Errorf("%s not found in PATH", name)
			}
			return nil
		}
	}
	file := func(path string) func(Host) error {
		return func(h Host) error {
			if _, err := h.Stat(path); err != nil {
				return fmt.Errorf("%s missing", path)
			}
			return nil
		}
	}
	cni := func(plugin string) requirement {
		return requirement{"CNI plugin " + plugin, "containernetworking-plugins", file(filepath.Join(h.CNIBinDir, plugin))}
	}
	return []requirement{
		{"containerd", "containerd", command("containerd")},
		{"containerd-shim-runc-v2", "containerd", command("containerd-shim-runc-v2")},
		{"runc", "runc", command("runc")},
		cni("bridge"), cni("host-local"), cni("portmap"), cni("loopback"),
		{"iptables (the CNI bridge and portmap plugins call it)", "iptables", command("iptables")},
		{"static busybox (the pause and busybox images are made of it)", "busybox-static", func(h Host) error {
			if _, err := h.Stat(h.Busybox); err != nil {
				return fmt.Errorf("%s missing", h.Busybox)
			}
			return h.Static(h.Busybox)
		}},
	}
}

// staticExecutable fails unless path is an ELF executable without a dynamic
// loader (a dynamically linked busybox cannot run in an image holding only it).
func staticExecutable(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an executable: %v", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New(path + " is dynamically linked")
		}
	}
	return nil
}
