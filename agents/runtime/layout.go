// Package runtime sets up what pods run on, on one node: the managed
// containerd (started, supervised and stopped by berth agent), the CNI
// configuration of the node's pod network, the local pause and busybox
// images, host checks and the teardown of all of it (berth agent --cleanup).
//
// The facts it relies on (containerd 1.6 from Debian, cgroup v1, no systemd,
// CNI plugins in /usr/lib/cni) are measured in the project's RUNTIME.md.
package runtime

import "path/filepath"

// Layout is where the agent keeps its files under a berth data dir (the same
// --data-dir as berth server; the agent's share is <data-dir>/agent). The
// kubelet and berth images find the containerd socket here.
type Layout struct {
	// Dir is <data-dir>/agent.
	Dir string
	// ContainerdConfig is the generated containerd config.toml.
	ContainerdConfig string
	// Root is containerd's persistent root (content store, snapshots, image metadata).
	Root string
	// State is containerd's runtime state (shim bundles, FIFOs).
	State string
	// Opt is containerd's opt plugin directory.
	Opt string
	// Address is the containerd gRPC socket (CRI and the containerd API).
	Address string
	// TTRPCAddress is containerd's ttrpc socket (for shims).
	TTRPCAddress string
	// PIDFile holds the pid of the managed containerd.
	PIDFile string
	// RuncRoot is runc's private state directory.
	RuncRoot string
	// CNIConfDir is where WriteCNIConfig writes the pod network's conflist.
	CNIConfDir string
	// IPAMDir is the host-local IPAM plugin's allocation store.
	IPAMDir string
	// ImagesDir holds image tarballs (berth images build -o) that the agent
	// imports each time it starts, as k3s does with its airgap images: the
	// way to ship images to a node without a registry.
	ImagesDir string
}

// AgentDir is the agent's directory under a berth data dir.
func AgentDir(dataDir string) string { return filepath.Join(dataDir, "agent") }

// NewLayout returns the agent's file layout under the berth data dir dataDir.
func NewLayout(dataDir string) Layout {
	dir := AgentDir(dataDir)
	return Layout{
		Dir:              dir,
		ContainerdConfig: filepath.Join(dir, "containerd", "config.toml"),
		Root:             filepath.Join(dir, "containerd", "root"),
		State:            filepath.Join(dir, "containerd", "state"),
		Opt:              filepath.Join(dir, "containerd", "opt"),
		Address:          filepath.Join(dir, "run", "containerd.sock"),
		TTRPCAddress:     filepath.Join(dir, "run", "containerd.ttrpc.sock"),
		PIDFile:          filepath.Join(dir, "run", "containerd.pid"),
		RuncRoot:         filepath.Join(dir, "runc"),
		CNIConfDir:       filepath.Join(dir, "cni", "net.d"),
		IPAMDir:          filepath.Join(dir, "cni", "ipam"),
		ImagesDir:        filepath.Join(dir, "images"),
	}
}

// Address is the managed containerd's socket path for the berth data dir
// dataDir (what the containerd Go client and berth images import dial).
func Address(dataDir string) string { return NewLayout(dataDir).Address }

// Endpoint is the managed containerd's CRI endpoint (unix://...) for the
// berth data dir dataDir.
func Endpoint(dataDir string) string { return "unix://" + Address(dataDir) }

// maxSocketPath is the longest unix socket path Linux accepts (sun_path
// holds 108 bytes including the terminating NUL).
const maxSocketPath = 107
