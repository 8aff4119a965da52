package podspec

import (
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/kubelet/envvars"
)

// ContainerOptions is what a container config needs beside the pod.
type ContainerOptions struct {
	// Node is the node's name (LabelManaged).
	Node string
	// Kind is KindInit or KindApp.
	Kind string
	// RestartCount is how often the container ran before (its attempt).
	RestartCount int
	// Image is the image reference to run (the image ID once pulled).
	Image string
	// Env is the resolved environment (envvars.Resolve).
	Env []envvars.Var
	// Mounts are the container's volume mounts on the host.
	Mounts []*runtimeapi.Mount
	// LogPath is the log file, relative to the sandbox's LogDirectory.
	LogPath string
}

// Default masked and read-only paths of unprivileged containers, as
// kubelet passes them (k8s.io/kubernetes/pkg/securitycontext).
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// ContainerConfig is the CRI config of container c of pod.
func ContainerConfig(pod *corev1.Pod, c *corev1.Container, o ContainerOptions) *runtimeapi.ContainerConfig {
	lookup := envvars.Lookup(o.Env)
	cfg := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(o.RestartCount)},
		Image:       &runtimeapi.ImageSpec{Image: o.Image, UserSpecifiedImage: c.Image},
		Command:     expandAll(c.Command, lookup),
		Args:        expandAll(c.Args, lookup),
		WorkingDir:  c.WorkingDir,
		Labels:      ContainerLabels(pod, o.Node, c.Name, o.Kind),
		Annotations: ContainerAnnotations(pod, c, o.RestartCount),
		Mounts:      o.Mounts,
		LogPath:     o.LogPath,
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       Resources(c),
			SecurityContext: SecurityContext(pod, c),
		},
	}
	for _, e := range o.Env {
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(e.Value)})
	}
	return cfg
}

// CPU CFS period kubelet uses (100 ms), and the smallest cpu.shares.
const (
	cpuPeriod    = 100000
	minCPUShares = 2
)

// Resources are c's cgroup limits: cpu.shares from the CPU request, CFS
// quota from the CPU limit, the memory limit.
func Resources(c *corev1.Container) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{}
	req := c.Resources.Requests.Cpu().MilliValue()
	lim := c.Resources.Limits.Cpu().MilliValue()
	if req == 0 && lim != 0 {
		req = lim
	}
	r.CpuShares = max(req*1024/1000, minCPUShares)
	if lim != 0 {
		r.CpuPeriod = cpuPeriod
		r.CpuQuota = max(lim*cpuPeriod/1000, 1000)
	}
	if m := c.Resources.Limits.Memory().Value(); m != 0 {
		r.MemoryLimitInBytes = m
	}
	return r
}

// SecurityContext is c's Linux security context: the pod's settings
// overridden by the container's.
func SecurityContext(pod *corev1.Pod, c *corev1.Container) *runtimeapi.LinuxContainerSecurityContext {
	sc := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = supplementalGroups(psc)
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *csc.RunAsUser}
		}
		if csc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *csc.RunAsGroup}
		}
		sc.Privileged = csc.Privileged != nil && *csc.Privileged
		sc.ReadonlyRootfs = csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
		sc.NoNewPrivs = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
		if caps := csc.Capabilities; caps != nil {
			sc.Capabilities = &runtimeapi.Capability{}
			for _, a := range caps.Add {
				sc.Capabilities.AddCapabilities = append(sc.Capabilities.AddCapabilities, string(a))
			}
			for _, d := range caps.Drop {
				sc.Capabilities.DropCapabilities = append(sc.Capabilities.DropCapabilities, string(d))
			}
		}
	}
	if !sc.Privileged {
		sc.MaskedPaths = append([]string(nil), defaultMaskedPaths...)
		sc.ReadonlyPaths = append([]string(nil), defaultReadonlyPaths...)
	}
	return sc
}

func expandAll(list []string, lookup func(string) (string, bool)) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = envvars.Expand(s, lookup)
	}
	return out
}
