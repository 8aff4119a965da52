package podspec

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// SandboxOptions is what a sandbox config needs beside the pod.
type SandboxOptions struct {
	// Node is the node's name (LabelManaged).
	Node string
	// Attempt counts the pod's sandboxes: 0 for the first.
	Attempt uint32
	// LogDirectory holds the container log files (logs.PodDir).
	LogDirectory string
	// CgroupParent is the pod's cgroupfs path ("/berth/pod<uid>").
	CgroupParent string
	// ClusterDNS are the cluster DNS servers for dnsPolicy ClusterFirst;
	// without them such pods use the node's resolv.conf, as kubelet does.
	ClusterDNS []string
	// ClusterDomain is the cluster's DNS domain, "cluster.local" if empty.
	ClusterDomain string
}

// SandboxConfig is the CRI config of pod's sandbox.
func SandboxConfig(pod *corev1.Pod, o SandboxOptions) *runtimeapi.PodSandboxConfig {
	hostNet := pod.Spec.HostNetwork
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: o.Attempt,
		},
		LogDirectory: o.LogDirectory,
		DnsConfig:    DNSConfig(pod, o.ClusterDNS, o.ClusterDomain),
		PortMappings: portMappings(pod),
		Labels:       SandboxLabels(pod, o.Node),
		Annotations:  copyMap(pod.Annotations),
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: o.CgroupParent,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: namespaceOptions(pod),
				Privileged:       anyPrivileged(pod),
			},
			Sysctls: sysctls(pod),
		},
	}
	// runc cannot set a hostname without a private UTS namespace.
	if !hostNet {
		cfg.Hostname = Hostname(pod)
	}
	if sc := pod.Spec.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			cfg.Linux.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		// containerd refuses a group without a user; the sandbox only
		// runs the pause process, so the group alone is left out.
		if sc.RunAsGroup != nil && sc.RunAsUser != nil {
			cfg.Linux.SecurityContext.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
		cfg.Linux.SecurityContext.SupplementalGroups = supplementalGroups(sc)
	}
	return cfg
}

// Hostname is the pod's hostname: spec.hostname, or its name cut to the
// 63 characters a hostname may have.
func Hostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// DNSConfig is the resolv.conf the pod gets, as kubelet builds it; nil
// means the node's own resolv.conf (dnsPolicy Default, or ClusterFirst
// without cluster DNS servers).
func DNSConfig(pod *corev1.Pod, clusterDNS []string, domain string) *runtimeapi.DNSConfig {
	if domain == "" {
		domain = "cluster.local"
	}
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if policy == corev1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = corev1.DNSDefault
	}
	if policy == corev1.DNSClusterFirstWithHostNet {
		policy = corev1.DNSClusterFirst
	}
	if policy == corev1.DNSClusterFirst && len(clusterDNS) == 0 {
		policy = corev1.DNSDefault
	}
	var cfg *runtimeapi.DNSConfig
	switch policy {
	case corev1.DNSClusterFirst:
		cfg = &runtimeapi.DNSConfig{
			Servers:  append([]string(nil), clusterDNS...),
			Searches: []string{pod.Namespace + ".svc." + domain, "svc." + domain, domain},
			Options:  []string{"ndots:5"},
		}
	case corev1.DNSNone:
		cfg = &runtimeapi.DNSConfig{}
	}
	extra := pod.Spec.DNSConfig
	if extra == nil {
		return cfg
	}
	if cfg == nil {
		if len(extra.Nameservers) == 0 && len(extra.Searches) == 0 && len(extra.Options) == 0 {
			return nil
		}
		// Extra settings on top of the node's resolv.conf: CRI has no
		// "merge" mode, so they replace it (documented gap).
		cfg = &runtimeapi.DNSConfig{}
	}
	cfg.Servers = appendUnique(cfg.Servers, extra.Nameservers...)
	cfg.Searches = appendUnique(cfg.Searches, extra.Searches...)
	for _, o := range extra.Options {
		opt := o.Name
		if o.Value != nil {
			opt += ":" + *o.Value
		}
		cfg.Options = appendUnique(cfg.Options, opt)
	}
	return cfg
}

func portMappings(pod *corev1.Pod) []*runtimeapi.PortMapping {
	var out []*runtimeapi.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			out = append(out, &runtimeapi.PortMapping{
				Protocol:      protocol(p.Protocol),
				ContainerPort: p.ContainerPort,
				HostPort:      p.HostPort,
				HostIp:        p.HostIP,
			})
		}
	}
	return out
}

func protocol(p corev1.Protocol) runtimeapi.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case corev1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

func namespaceOptions(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{
		Network: runtimeapi.NamespaceMode_POD,
		Pid:     runtimeapi.NamespaceMode_CONTAINER,
		Ipc:     runtimeapi.NamespaceMode_POD,
	}
	if pod.Spec.HostNetwork {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if pod.Spec.HostPID {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if pod.Spec.HostIPC {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

func anyPrivileged(pod *corev1.Pod) bool {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				return true
			}
		}
	}
	return false
}

func sysctls(pod *corev1.Pod) map[string]string {
	if pod.Spec.SecurityContext == nil || len(pod.Spec.SecurityContext.Sysctls) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, s := range pod.Spec.SecurityContext.Sysctls {
		m[s.Name] = s.Value
	}
	return m
}

func supplementalGroups(sc *corev1.PodSecurityContext) []int64 {
	var g []int64
	if sc.FSGroup != nil {
		g = append(g, *sc.FSGroup)
	}
	return append(g, sc.SupplementalGroups...)
}

func appendUnique(list []string, more ...string) []string {
	for _, m := range more {
		dup := false
		for _, l := range list {
			if l == m {
				dup = true
				break
			}
		}
		if !dup {
			list = append(list, m)
		}
	}
	return list
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
