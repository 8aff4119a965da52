package envvars

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ServiceLinks are the environment variables kubelet gives a pod for the
// Services it may see (enableServiceLinks): for each Service with a
// cluster IP, <NAME>_SERVICE_HOST and _SERVICE_PORT (and one per named
// port), and the Docker-links style <NAME>_PORT... variables. services
// are the Services of the pod's namespace, plus the "kubernetes" Service
// of the default namespace; later names win, sorted by name.
func ServiceLinks(services []*corev1.Service) []Var {
	sorted := append([]*corev1.Service(nil), services...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var out []Var
	for _, svc := range sorted {
		ip := svc.Spec.ClusterIP
		if ip == "" || ip == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
			continue
		}
		name := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
		first := svc.Spec.Ports[0]
		out = append(out, Var{name + "_SERVICE_HOST", ip}, Var{name + "_SERVICE_PORT", strconv.Itoa(int(first.Port))})
		for _, p := range svc.Spec.Ports {
			if p.Name != "" {
				out = append(out, Var{name + "_SERVICE_PORT_" + strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port))})
			}
		}
		out = append(out, Var{name + "_PORT", linkURL(first, ip)})
		for _, p := range svc.Spec.Ports {
			proto := strings.ToUpper(string(protocolOf(p)))
			prefix := fmt.Sprintf("%s_PORT_%d_%s", name, p.Port, proto)
			out = append(out,
				Var{prefix, linkURL(p, ip)},
				Var{prefix + "_PROTO", strings.ToLower(proto)},
				Var{prefix + "_PORT", strconv.Itoa(int(p.Port))},
				Var{prefix + "_ADDR", ip})
		}
	}
	return out
}

func protocolOf(p corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

func linkURL(p corev1.ServicePort, ip string) string {
	host := ip
	if strings.Contains(ip, ":") {
		host = "[" + ip + "]"
	}
	return fmt.Sprintf("%s://%s:%d", strings.ToLower(string(protocolOf(p))), host, p.Port)
}
