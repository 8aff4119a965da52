package podspec

import (
	"bytes"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// HostsFile is the /etc/hosts kubelet manages for a pod with its own
// network: the loopback names, the pod's IPs under its hostname (and its
// FQDN when it has a subdomain), then spec.hostAliases.
func HostsFile(pod *corev1.Pod, podIPs []string, domain string) []byte {
	if domain == "" {
		domain = "cluster.local"
	}
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	host := Hostname(pod)
	names := host
	if pod.Spec.Subdomain != "" {
		names = fmt.Sprintf("%s.%s.%s.svc.%s\t%s", host, pod.Spec.Subdomain, pod.Namespace, domain, host)
	}
	for _, ip := range podIPs {
		fmt.Fprintf(&b, "%s\t%s\n", ip, names)
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.Bytes()
}

// ManagesHosts says whether the kubelet mounts its hosts file into c:
// pods with their own network, unless the container mounts /etc/hosts.
func ManagesHosts(pod *corev1.Pod, c *corev1.Container) bool {
	if pod.Spec.HostNetwork {
		return false
	}
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/etc/hosts" {
			return false
		}
	}
	return true
}
