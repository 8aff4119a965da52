package podspec

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/berth-io/berth/agents/kubelet/envvars"
)

func pod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "u-1", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "demo/hello:v1",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080, HostPort: 30080}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}}}}},
	}
}

func TestSandboxConfig(t *testing.T) {
	p := pod()
	cfg := SandboxConfig(p, SandboxOptions{Node: "n1", Attempt: 2, LogDirectory: "/logs/x", CgroupParent: "/berth/podu-1", ClusterDNS: []string{"10.96.0.10"}})
	if cfg.Metadata.Name != "web-1" || cfg.Metadata.Namespace != "shop" || cfg.Metadata.Uid != "u-1" || cfg.Metadata.Attempt != 2 {
		t.Errorf("metadata %+v", cfg.Metadata)
	}
	if cfg.Hostname != "web-1" || cfg.LogDirectory != "/logs/x" || cfg.Linux.CgroupParent != "/berth/podu-1" {
		t.Errorf("hostname %q log dir %q cgroup %q", cfg.Hostname, cfg.LogDirectory, cfg.Linux.CgroupParent)
	}
	want := map[string]string{"app": "web", LabelManaged: "n1", LabelPodName: "web-1", LabelPodNamespace: "shop", LabelPodUID: "u-1"}
	if !reflect.DeepEqual(cfg.Labels, want) {
		t.Errorf("labels %v, want %v", cfg.Labels, want)
	}
	if len(cfg.PortMappings) != 1 || cfg.PortMappings[0].HostPort != 30080 || cfg.PortMappings[0].ContainerPort != 8080 {
		t.Errorf("port mappings %v", cfg.PortMappings)
	}
	if ns := cfg.Linux.SecurityContext.NamespaceOptions; ns.Network != runtimeapi.NamespaceMode_POD || ns.Pid != runtimeapi.NamespaceMode_CONTAINER {
		t.Errorf("namespaces %v", ns)
	}
	if d := cfg.DnsConfig; d == nil || !reflect.DeepEqual(d.Servers, []string{"10.96.0.10"}) || d.Searches[0] != "shop.svc.cluster.local" || d.Options[0] != "ndots:5" {
		t.Errorf("dns %v", cfg.DnsConfig)
	}
}

func TestHostNetworkSandboxHasNoHostname(t *testing.T) {
	p := pod()
	p.Spec.HostNetwork = true
	cfg := SandboxConfig(p, SandboxOptions{ClusterDNS: []string{"10.96.0.10"}})
	if cfg.Hostname != "" {
		t.Errorf("hostNetwork sandbox has hostname %q; runc refuses it without a UTS namespace", cfg.Hostname)
	}
	if cfg.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_NODE {
		t.Errorf("network namespace %v, want NODE", cfg.Linux.SecurityContext.NamespaceOptions.Network)
	}
	if cfg.DnsConfig != nil {
		t.Errorf("hostNetwork with ClusterFirst uses the node's resolv.conf, got %v", cfg.DnsConfig)
	}
}

func TestDNSConfig(t *testing.T) {
	ndots := "2"
	tests := []struct {
		name    string
		policy  corev1.DNSPolicy
		extra   *corev1.PodDNSConfig
		cluster []string
		want    *runtimeapi.DNSConfig
	}{
		{name: "ClusterFirst without cluster DNS: node's", policy: corev1.DNSClusterFirst},
		{name: "Default: node's", policy: corev1.DNSDefault, cluster: []string{"10.0.0.10"}},
		{name: "ClusterFirst", policy: corev1.DNSClusterFirst, cluster: []string{"10.0.0.10"},
			want: &runtimeapi.DNSConfig{Servers: []string{"10.0.0.10"}, Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local"}, Options: []string{"ndots:5"}}},
		{name: "None with dnsConfig", policy: corev1.DNSNone, extra: &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"x.io"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}, {Name: "edns0"}}},
			want: &runtimeapi.DNSConfig{Servers: []string{"1.1.1.1"}, Searches: []string{"x.io"}, Options: []string{"ndots:2", "edns0"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pod()
			p.Spec.DNSPolicy, p.Spec.DNSConfig = tc.policy, tc.extra
			got := DNSConfig(p, tc.cluster, "")
			if (got == nil) != (tc.want == nil) || (got != nil && (!reflect.DeepEqual(got.Servers, tc.want.Servers) || !reflect.DeepEqual(got.Searches, tc.want.Searches) || !reflect.DeepEqual(got.Options, tc.want.Options))) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestContainerConfig(t *testing.T) {
	p := pod()
	user, group := int64(1000), int64(2000)
	c := &corev1.Container{
		Name: "app", Image: "demo/hello:v1", Command: []string{"/app", "--name=$(NAME)"}, Args: []string{"$(MISSING)", "$$(NAME)"}, WorkingDir: "/w",
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		SecurityContext: &corev1.SecurityContext{RunAsUser: &user, ReadOnlyRootFilesystem: new(true), AllowPrivilegeEscalation: new(false),
			Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}},
	}
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: new(int64(1)), RunAsGroup: &group}
	cfg := ContainerConfig(p, c, ContainerOptions{Node: "n1", Kind: KindApp, RestartCount: 3, Image: "sha256:abc",
		Env: []envvars.Var{{Name: "NAME", Value: "x"}}, LogPath: "app/3.log"})
	if !reflect.DeepEqual(cfg.Command, []string{"/app", "--name=x"}) || !reflect.DeepEqual(cfg.Args, []string{"$(MISSING)", "$(NAME)"}) {
		t.Errorf("command %q args %q", cfg.Command, cfg.Args)
	}
	if cfg.Metadata.Attempt != 3 || cfg.Image.Image != "sha256:abc" || cfg.Image.UserSpecifiedImage != "demo/hello:v1" || cfg.WorkingDir != "/w" || cfg.LogPath != "app/3.log" {
		t.Errorf("config %v", cfg)
	}
	if cfg.Annotations[AnnotationRestartCount] != "3" || cfg.Annotations[AnnotationHash] != Hash(c) || cfg.Labels[LabelContainerName] != "app" || cfg.Labels[LabelContainerKind] != KindApp {
		t.Errorf("labels %v annotations %v", cfg.Labels, cfg.Annotations)
	}
	r := cfg.Linux.Resources
	if r.CpuShares != 256 || r.CpuQuota != 50000 || r.CpuPeriod != 100000 || r.MemoryLimitInBytes != 64<<20 {
		t.Errorf("resources %v", r)
	}
	sc := cfg.Linux.SecurityContext
	if sc.RunAsUser.GetValue() != 1000 || sc.RunAsGroup.GetValue() != 2000 || !sc.ReadonlyRootfs || !sc.NoNewPrivs || sc.Privileged {
		t.Errorf("security context %v", sc)
	}
	if !reflect.DeepEqual(sc.Capabilities.AddCapabilities, []string{"NET_ADMIN"}) || !reflect.DeepEqual(sc.Capabilities.DropCapabilities, []string{"ALL"}) {
		t.Errorf("capabilities %v", sc.Capabilities)
	}
	if len(sc.MaskedPaths) == 0 || len(sc.ReadonlyPaths) == 0 {
		t.Error("an unprivileged container gets the default masked and read-only paths")
	}
}

func TestPrivilegedContainerHasNoMaskedPaths(t *testing.T) {
	p := pod()
	c := &corev1.Container{Name: "app", SecurityContext: &corev1.SecurityContext{Privileged: new(true)}}
	p.Spec.Containers[0] = *c
	sc := ContainerConfig(p, c, ContainerOptions{}).Linux.SecurityContext
	if !sc.Privileged || len(sc.MaskedPaths) != 0 {
		t.Errorf("privileged %v masked %v", sc.Privileged, sc.MaskedPaths)
	}
	if !SandboxConfig(p, SandboxOptions{}).Linux.SecurityContext.Privileged {
		t.Error("the sandbox of a pod with a privileged container must be privileged")
	}
}

func TestResourcesWithoutLimits(t *testing.T) {
	r := Resources(&corev1.Container{})
	if r.CpuShares != 2 || r.CpuQuota != 0 || r.MemoryLimitInBytes != 0 {
		t.Errorf("best effort resources %v, want the minimum shares and no limits", r)
	}
}

func TestHashChangesWithTheImage(t *testing.T) {
	a := &corev1.Container{Name: "app", Image: "a:1"}
	b := &corev1.Container{Name: "app", Image: "a:2"}
	if Hash(a) == Hash(b) || Hash(a) != Hash(a.DeepCopy()) {
		t.Errorf("hashes %s %s", Hash(a), Hash(b))
	}
}

func TestHostsFile(t *testing.T) {
	p := pod()
	p.Spec.Subdomain = "db"
	p.Spec.HostAliases = []corev1.HostAlias{{IP: "10.1.1.1", Hostnames: []string{"foo", "bar"}}}
	got := string(HostsFile(p, []string{"10.244.0.7"}, ""))
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.244.0.7\tweb-1.db.shop.svc.cluster.local\tweb-1\n", "10.1.1.1\tfoo\tbar\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
}
