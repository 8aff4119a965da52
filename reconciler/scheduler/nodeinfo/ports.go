package nodeinfo

import corev1 "k8s.io/api/core/v1"

// anyIP is the host IP that a port without one binds: every address.
const anyIP = "0.0.0.0"

// HostPort is a host port a container asks for, with the defaults filled
// in (IP 0.0.0.0, protocol TCP).
type HostPort struct {
	IP       string
	Protocol corev1.Protocol
	Port     int32
}

// protocolPort is a port on one IP.
type protocolPort struct {
	Protocol corev1.Protocol
	Port     int32
}

// HostPorts are the host ports in use on a node, by IP.
type HostPorts map[string]map[protocolPort]int

// podHostPorts lists the host ports of pod's containers and of its
// restartable init containers (sidecars), which run alongside them.
func podHostPorts(pod *corev1.Pod) []HostPort {
	var ports []HostPort
	add := func(c *corev1.Container) {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			hp := HostPort{IP: p.HostIP, Protocol: p.Protocol, Port: p.HostPort}
			if hp.IP == "" {
				hp.IP = anyIP
			}
			if hp.Protocol == "" {
				hp.Protocol = corev1.ProtocolTCP
			}
			ports = append(ports, hp)
		}
	}
	for i := range pod.Spec.InitContainers {
		if c := &pod.Spec.InitContainers[i]; c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			add(c)
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
	return ports
}

// Conflicts says whether p clashes with a port in use: the same protocol
// and port on the same IP, or on any IP when either side binds 0.0.0.0.
func (h HostPorts) Conflicts(p HostPort) bool {
	pp := protocolPort{p.Protocol, p.Port}
	if p.IP == anyIP {
		for _, used := range h {
			if used[pp] > 0 {
				return true
			}
		}
		return false
	}
	return h[p.IP][pp] > 0 || h[anyIP][pp] > 0
}

func (h HostPorts) add(p HostPort, delta int) {
	pp := protocolPort{p.Protocol, p.Port}
	byIP := h[p.IP]
	if byIP == nil {
		byIP = map[protocolPort]int{}
		h[p.IP] = byIP
	}
	byIP[pp] += delta
	if byIP[pp] <= 0 {
		delete(byIP, pp)
		if len(byIP) == 0 {
			delete(h, p.IP)
		}
	}
}

func (h HostPorts) clone() HostPorts {
	if len(h) == 0 {
		return HostPorts{}
	}
	out := make(HostPorts, len(h))
	for ip, ports := range h {
		c := make(map[protocolPort]int, len(ports))
		for k, v := range ports {
			c[k] = v
		}
		out[ip] = c
	}
	return out
}
