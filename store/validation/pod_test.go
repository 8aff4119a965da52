package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

const (
	required     = field.ErrorTypeRequired
	invalid      = field.ErrorTypeInvalid
	notSupported = field.ErrorTypeNotSupported
	duplicate    = field.ErrorTypeDuplicate
	forbidden    = field.ErrorTypeForbidden
	notFound     = field.ErrorTypeNotFound
	tooLong      = field.ErrorTypeTooLong
	tooMany      = field.ErrorTypeTooMany
)

func c0(p *corev1.Pod) *corev1.Container { return &p.Spec.Containers[0] }

func TestPodCreate(t *testing.T) {
	runCases(t, validPod, func(p *corev1.Pod) field.ErrorList { return Validate(p) }, []errCase[*corev1.Pod]{
		// metadata
		{"invalid name", func(p *corev1.Pod) { p.Name = "Foo_bar" }, "metadata.name", invalid,
			`metadata.name: Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`},
		{"missing name", func(p *corev1.Pod) { p.Name = "" }, "metadata.name", required, "name or generateName is required"},
		{"invalid generateName", func(p *corev1.Pod) { p.Name, p.GenerateName = "", "Web-" }, "metadata.generateName", invalid, ""},
		{"missing namespace", func(p *corev1.Pod) { p.Namespace = "" }, "metadata.namespace", required, ""},
		{"invalid namespace", func(p *corev1.Pod) { p.Namespace = "shop.eu" }, "metadata.namespace", invalid, "must not contain dots"},
		{"invalid label key", func(p *corev1.Pod) { p.Labels["bad key"] = "x" }, "metadata.labels", invalid, ""},
		{"invalid label value", func(p *corev1.Pod) { p.Labels["app"] = "web app" }, "metadata.labels", invalid, ""},
		{"annotations over 256KiB", func(p *corev1.Pod) { p.Annotations["big"] = strings.Repeat("x", 256*1024) }, "metadata.annotations", tooLong, ""},
		{"unqualified finalizer", func(p *corev1.Pod) { p.Finalizers = []string{"cleanup"} }, "metadata.finalizers[0]", invalid,
			"name is neither a standard finalizer name nor is it fully qualified"},
		{"owner reference without uid", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9f"}}
		}, "metadata.ownerReferences[0].uid", required, ""},
		{"two controllers", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{
				{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "a", UID: "1", Controller: ptr.To(true)},
				{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "b", UID: "2", Controller: ptr.To(true)}}
		}, "metadata.ownerReferences", invalid, "Only one reference can have Controller set to true"},
		{"mirror annotation without node", func(p *corev1.Pod) { p.Annotations["kubernetes.io/config.mirror"] = "x" },
			"metadata.annotations[kubernetes.io/config.mirror]", invalid, ""},
		{"deletion cost not a number", func(p *corev1.Pod) { p.Annotations["controller.kubernetes.io/pod-deletion-cost"] = "high" },
			"metadata.annotations[controller.kubernetes.io/pod-deletion-cost]", invalid, "must be a 32bit integer"},

		// containers
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, "spec.containers", required, ""},
		{"missing image", func(p *corev1.Pod) { c0(p).Image = "" }, "spec.containers[0].image", required, "spec.containers[0].image: Required value"},
		{"image with spaces", func(p *corev1.Pod) { c0(p).Image = " nginx" }, "spec.containers[0].image", invalid, "leading or trailing whitespace"},
		{"missing container name", func(p *corev1.Pod) { c0(p).Name = "" }, "spec.containers[0].name", required, ""},
		{"container name not a DNS label", func(p *corev1.Pod) { c0(p).Name = "Web" }, "spec.containers[0].name", invalid, ""},
		{"duplicate container names", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "web", Image: "x", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"})
		}, "spec.containers[1].name", duplicate, ""},
		{"init container named like a container", func(p *corev1.Pod) { p.Spec.InitContainers[0].Name = "web" }, "spec.initContainers[0].name", duplicate, ""},
		{"init container probe", func(p *corev1.Pod) { p.Spec.InitContainers[0].LivenessProbe = c0(p).LivenessProbe },
			"spec.initContainers[0].livenessProbe", forbidden, "may not be set for init containers without restartPolicy=Always"},
		{"init container restart policy", func(p *corev1.Pod) {
			p.Spec.InitContainers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicy("Never"))
		},
			"spec.initContainers[0].restartPolicy", notSupported, ""},
		{"restart policy on a container", func(p *corev1.Pod) { c0(p).RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways) },
			"spec.containers[0].restartPolicy", forbidden, "may not be set for non-init containers"},
		{"pull policy", func(p *corev1.Pod) { c0(p).ImagePullPolicy = "Sometimes" }, "spec.containers[0].imagePullPolicy", notSupported,
			`supported values: "Always", "IfNotPresent", "Never"`},
		{"termination message policy", func(p *corev1.Pod) { c0(p).TerminationMessagePolicy = "" }, "spec.containers[0].terminationMessagePolicy", required, ""},

		// ports
		{"port zero", func(p *corev1.Pod) { c0(p).Ports[0].ContainerPort = 0 }, "spec.containers[0].ports[0].containerPort", required, ""},
		{"port out of range", func(p *corev1.Pod) { c0(p).Ports[0].ContainerPort = 70000 }, "spec.containers[0].ports[0].containerPort", invalid,
			"must be between 1 and 65535, inclusive"},
		{"host port out of range", func(p *corev1.Pod) { c0(p).Ports[0].HostPort = -1 }, "spec.containers[0].ports[0].hostPort", invalid, ""},
		{"duplicate port name", func(p *corev1.Pod) { c0(p).Ports[1].Name = "http" }, "spec.containers[0].ports[1].name", duplicate, ""},
		{"port name too long", func(p *corev1.Pod) { c0(p).Ports[0].Name = "a-very-long-port-name" }, "spec.containers[0].ports[0].name", invalid, ""},
		{"protocol", func(p *corev1.Pod) { c0(p).Ports[0].Protocol = "ICMP" }, "spec.containers[0].ports[0].protocol", notSupported,
			`supported values: "SCTP", "TCP", "UDP"`},
		{"repeated port binding", func(p *corev1.Pod) {
			c0(p).Ports[1] = corev1.ContainerPort{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}
		},
			"spec.containers[0].ports[1]", duplicate, ""},
		{"host port used twice", func(p *corev1.Pod) {
			c0(p).Ports[0].HostPort, c0(p).Ports[1].HostPort = 80, 80
		}, "spec.containers[0].ports[1].hostPort", duplicate, "TCP//80"},
		{"host network port mismatch", func(p *corev1.Pod) { p.Spec.HostNetwork = true; c0(p).Ports[0].HostPort = 80 },
			"spec.containers[0].ports[0].hostPort", invalid, "must match `containerPort` when `hostNetwork` is true"},

		// env
		{"env name with =", func(p *corev1.Pod) { c0(p).Env[0].Name = "A=B" }, "spec.containers[0].env[0].name", invalid, ""},
		{"env name missing", func(p *corev1.Pod) { c0(p).Env[0].Name = "" }, "spec.containers[0].env[0].name", required, ""},
		{"env value and valueFrom", func(p *corev1.Pod) { c0(p).Env[1].Value = "x" }, "spec.containers[0].env[1].valueFrom", invalid,
			"may not be specified when `value` is not empty"},
		{"env two sources", func(p *corev1.Pod) {
			c0(p).Env[1].ValueFrom.ConfigMapKeyRef = &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Key: "k"}
		}, "spec.containers[0].env[1].valueFrom", invalid, "may not have more than one field specified at a time"},
		{"env no source", func(p *corev1.Pod) { c0(p).Env[1].ValueFrom = &corev1.EnvVarSource{} }, "spec.containers[0].env[1].valueFrom", invalid,
			"must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"},
		{"env unsupported field path", func(p *corev1.Pod) { c0(p).Env[1].ValueFrom.FieldRef.FieldPath = "status.phase" },
			"spec.containers[0].env[1].valueFrom.fieldRef.fieldPath", notSupported, ""},
		{"env unknown field path", func(p *corev1.Pod) { c0(p).Env[1].ValueFrom.FieldRef.FieldPath = "spec.nope" },
			"spec.containers[0].env[1].valueFrom.fieldRef.fieldPath", invalid, "field label not supported"},
		{"env secret key invalid", func(p *corev1.Pod) { c0(p).Env[2].ValueFrom.SecretKeyRef.Key = "a/b" },
			"spec.containers[0].env[2].valueFrom.secretKeyRef.key", invalid, ""},
		{"env resource divisor", func(p *corev1.Pod) { c0(p).Env[3].ValueFrom.ResourceFieldRef.Divisor = resource.MustParse("10m") },
			"spec.containers[0].env[3].valueFrom.resourceFieldRef.divisor", invalid, "only divisor's values 1m and 1 are supported with the cpu resource"},
		{"envFrom without source", func(p *corev1.Pod) { c0(p).EnvFrom[0].ConfigMapRef = nil }, "spec.containers[0].envFrom[0]", invalid,
			"must specify one of: `configMapRef` or `secretRef`"},
		{"envFrom missing name", func(p *corev1.Pod) { c0(p).EnvFrom[0].ConfigMapRef.Name = "" }, "spec.containers[0].envFrom[0].configMapRef.name", required, ""},

		// volumes and mounts
		{"duplicate volume", func(p *corev1.Pod) { p.Spec.Volumes[1].Name = "config" }, "spec.volumes[1].name", duplicate, ""},
		{"volume name", func(p *corev1.Pod) { p.Spec.Volumes[0].Name = "Config" }, "spec.volumes[0].name", invalid, ""},
		{"volume without source", func(p *corev1.Pod) { p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{} }, "spec.volumes[1]", required,
			"must specify a volume type"},
		{"volume with two sources", func(p *corev1.Pod) { p.Spec.Volumes[1].HostPath = &corev1.HostPathVolumeSource{Path: "/tmp"} },
			"spec.volumes[1].hostPath", forbidden, "may not specify more than 1 volume type"},
		{"configMap volume name", func(p *corev1.Pod) { p.Spec.Volumes[0].ConfigMap.Name = "" }, "spec.volumes[0].configMap.name", required, ""},
		{"configMap volume mode", func(p *corev1.Pod) { p.Spec.Volumes[0].ConfigMap.DefaultMode = ptr.To(int32(0o1777)) },
			"spec.volumes[0].configMap.defaultMode", invalid, "must be a number between 0 and 0777 (octal), both inclusive"},
		{"configMap item path climbs", func(p *corev1.Pod) { p.Spec.Volumes[0].ConfigMap.Items[0].Path = "../etc/passwd" },
			"spec.volumes[0].configMap.items[0].path", invalid, "must not contain '..'"},
		{"hostPath relative backsteps", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/../etc"}}
		}, "spec.volumes[1].hostPath.path", invalid, ""},
		{"emptyDir negative size", func(p *corev1.Pod) { p.Spec.Volumes[1].EmptyDir.SizeLimit = ptr.To(resource.MustParse("-1Gi")) },
			"spec.volumes[1].emptyDir.sizeLimit", forbidden, ""},
		{"downward API file without source", func(p *corev1.Pod) { p.Spec.Volumes[2].DownwardAPI.Items[0].FieldRef = nil },
			"spec.volumes[2].downwardAPI.items[0]", required, "one of fieldRef and resourceFieldRef is required"},
		{"secret volume name", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}
		}, "spec.volumes[1].secret.secretName", required, ""},
		{"token projection without service account", func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = ""
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}
		}, "spec.volumes[1].projected.sources[0].serviceAccountToken", forbidden, ""},
		{"mount of unknown volume", func(p *corev1.Pod) { c0(p).VolumeMounts[0].Name = "nope" }, "spec.containers[0].volumeMounts[0].name", notFound, ""},
		{"mount path reused", func(p *corev1.Pod) { c0(p).VolumeMounts[1].MountPath = "/etc/web" }, "spec.containers[0].volumeMounts[1].mountPath", invalid, "must be unique"},
		{"mount path missing", func(p *corev1.Pod) { c0(p).VolumeMounts[1].MountPath = "" }, "spec.containers[0].volumeMounts[1].mountPath", required, ""},
		{"absolute subPath", func(p *corev1.Pod) { c0(p).VolumeMounts[1].SubPath = "/abs" }, "spec.containers[0].volumeMounts[1].subPath", invalid, "must be a relative path"},
		{"bidirectional propagation unprivileged", func(p *corev1.Pod) {
			c0(p).VolumeMounts[1].MountPropagation = ptr.To(corev1.MountPropagationBidirectional)
		}, "spec.containers[0].volumeMounts[1].mountPropagation", forbidden, ""},

		// resources
		{"negative request", func(p *corev1.Pod) { c0(p).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("-1") },
			"spec.containers[0].resources.requests[cpu]", invalid, "must be greater than or equal to 0"},
		{"request above limit", func(p *corev1.Pod) { c0(p).Resources.Requests[corev1.ResourceMemory] = resource.MustParse("1Gi") },
			"spec.containers[0].resources.requests", invalid, "must be less than or equal to memory limit of 256Mi"},
		{"unknown resource", func(p *corev1.Pod) { c0(p).Resources.Limits["gpu"] = resource.MustParse("1") },
			"spec.containers[0].resources.limits[gpu]", invalid, "must be a standard resource for containers"},
		{"fractional extended resource", func(p *corev1.Pod) {
			c0(p).Resources.Limits["example.com/gpu"] = resource.MustParse("500m")
			c0(p).Resources.Requests["example.com/gpu"] = resource.MustParse("500m")
		}, "spec.containers[0].resources.requests[example.com/gpu]", invalid, "must be an integer"},
		{"extended resource request without limit", func(p *corev1.Pod) { c0(p).Resources.Requests["example.com/gpu"] = resource.MustParse("1") },
			"spec.containers[0].resources.limits", required, "Limit must be set for non overcommitable resources"},
		{"hugepages not a page multiple", func(p *corev1.Pod) {
			c0(p).Resources.Limits["hugepages-2Mi"] = resource.MustParse("3Mi")
		}, "spec.containers[0].resources.limits[hugepages-2Mi]", invalid, "is not positive integer multiple of hugepages-2Mi"},

		// probes and lifecycle
		{"probe with two handlers", func(p *corev1.Pod) {
			c0(p).LivenessProbe.Exec = &corev1.ExecAction{Command: []string{"true"}}
		}, "spec.containers[0].livenessProbe.httpGet", forbidden, "may not specify more than 1 handler type"},
		{"probe without handler", func(p *corev1.Pod) { c0(p).ReadinessProbe.TCPSocket = nil }, "spec.containers[0].readinessProbe", required,
			"must specify a handler type"},
		{"liveness success threshold", func(p *corev1.Pod) { c0(p).LivenessProbe.SuccessThreshold = 2 },
			"spec.containers[0].livenessProbe.successThreshold", invalid, "must be 1"},
		{"negative period", func(p *corev1.Pod) { c0(p).ReadinessProbe.PeriodSeconds = -1 }, "spec.containers[0].readinessProbe.periodSeconds", invalid, ""},
		{"readiness grace period", func(p *corev1.Pod) { c0(p).ReadinessProbe.TerminationGracePeriodSeconds = ptr.To(int64(5)) },
			"spec.containers[0].readinessProbe.terminationGracePeriodSeconds", invalid, "must not be set for readinessProbes"},
		{"http probe port", func(p *corev1.Pod) { c0(p).LivenessProbe.HTTPGet.Port = intstr.FromInt32(0) }, "spec.containers[0].livenessProbe.httpGet.port", invalid, ""},
		{"http probe scheme", func(p *corev1.Pod) { c0(p).LivenessProbe.HTTPGet.Scheme = "FTP" }, "spec.containers[0].livenessProbe.httpGet.scheme", notSupported, ""},
		{"exec without command", func(p *corev1.Pod) { c0(p).StartupProbe.Exec.Command = nil }, "spec.containers[0].startupProbe.exec.command", required, ""},
		{"sleep longer than grace period", func(p *corev1.Pod) { c0(p).Lifecycle.PreStop.Sleep.Seconds = 60 },
			"spec.containers[0].lifecycle.preStop.sleep", invalid, "less than terminationGracePeriodSeconds (30)"},

		// pod spec
		{"restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, "spec.restartPolicy", notSupported,
			`supported values: "Always", "OnFailure", "Never"`},
		{"dns policy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }, "spec.dnsPolicy", notSupported, ""},
		{"dns policy None without config", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, "spec.dnsConfig", required, ""},
		{"dns nameserver", func(p *corev1.Pod) { p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"dns.local"}} },
			"spec.dnsConfig.nameservers[0]", invalid, ""},
		{"negative grace period", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr.To(int64(-1)) },
			"spec.terminationGracePeriodSeconds", invalid, "must be greater than or equal to 0"},
		{"missing grace period", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil }, "spec.terminationGracePeriodSeconds", required, ""},
		{"zero active deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(0)) }, "spec.activeDeadlineSeconds", invalid,
			"must be between 1 and 2147483647, inclusive"},
		{"node selector value", func(p *corev1.Pod) { p.Spec.NodeSelector["kubernetes.io/os"] = "linux os" }, "spec.nodeSelector", invalid, ""},
		{"service account name", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Web_SA" }, "spec.serviceAccountName", invalid, ""},
		{"node name", func(p *corev1.Pod) { p.Spec.NodeName = "node_1" }, "spec.nodeName", invalid, ""},
		{"hostname", func(p *corev1.Pod) { p.Spec.Hostname = "web.0" }, "spec.hostname", invalid, ""},
		{"preemption policy", func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("Always")) }, "spec.preemptionPolicy", notSupported, ""},
		{"ephemeral containers on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"}}}
		}, "spec.ephemeralContainers", forbidden, "cannot be set on create"},
		{"node name with scheduling gates", func(p *corev1.Pod) {
			p.Spec.NodeName = "node-1"
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/quota"}}
		}, "spec.nodeName", forbidden, ""},
		{"os name", func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: "plan9"} }, "spec.os.name", notSupported, ""},

		// scheduling
		{"toleration without key must be Exists", func(p *corev1.Pod) { p.Spec.Tolerations[0].Key = "" }, "spec.tolerations[0].operator", invalid,
			"operator must be Exists when `key` is empty"},
		{"toleration seconds need NoExecute", func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = ptr.To(int64(60)) },
			"spec.tolerations[0].effect", invalid, "effect must be 'NoExecute' when `tolerationSeconds` is set"},
		{"toleration Exists with value", func(p *corev1.Pod) { p.Spec.Tolerations[0].Operator = corev1.TolerationOpExists },
			"spec.tolerations[0].operator", invalid, "value must be empty when `operator` is 'Exists'"},
		{"toleration operator", func(p *corev1.Pod) { p.Spec.Tolerations[0].Operator = "In" }, "spec.tolerations[0].operator", notSupported, ""},
		{"toleration effect", func(p *corev1.Pod) { p.Spec.Tolerations[0].Effect = "NoRun" }, "spec.tolerations[0].effect", notSupported, ""},
		{"toleration key", func(p *corev1.Pod) { p.Spec.Tolerations[0].Key = "a b" }, "spec.tolerations[0].key", invalid, ""},
		{"node affinity without terms", func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = nil
		}, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms", required, ""},
		{"node affinity operator", func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Operator = "Like"
		}, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator", invalid, "not a valid selector operator"},
		{"node affinity In without values", func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values = nil
		}, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values", required, ""},
		{"anti-affinity weight", func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].Weight = 0
		},
			"spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight", invalid, "must be in the range 1-100"},
		{"anti-affinity topology key", func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey = ""
		}, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey", required, ""},
		{"anti-affinity selector", func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector.MatchLabels["app"] = "a b"
		}, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchLabels", invalid, ""},
		{"topology spread skew", func(p *corev1.Pod) { p.Spec.TopologySpreadConstraints[0].MaxSkew = 0 }, "spec.topologySpreadConstraints[0].maxSkew", invalid, ""},
		{"topology spread action", func(p *corev1.Pod) { p.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable = "Maybe" },
			"spec.topologySpreadConstraints[0].whenUnsatisfiable", notSupported, ""},

		// security
		{"run as negative user", func(p *corev1.Pod) { c0(p).SecurityContext.RunAsUser = ptr.To(int64(-1)) },
			"spec.containers[0].securityContext.runAsUser", invalid, ""},
		{"privileged without escalation", func(p *corev1.Pod) { c0(p).SecurityContext.Privileged = ptr.To(true) },
			"spec.containers[0].securityContext", invalid, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"},
		{"seccomp localhost without profile", func(p *corev1.Pod) { c0(p).SecurityContext.SeccompProfile.Type = corev1.SeccompProfileTypeLocalhost },
			"spec.containers[0].securityContext.seccompProfile.localhostProfile", required, ""},
		{"fsGroup", func(p *corev1.Pod) { p.Spec.SecurityContext.FSGroup = ptr.To(int64(-5)) }, "spec.securityContext.fsGroup", invalid, ""},
		{"net sysctl on host network", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			for i := range c0(p).Ports {
				c0(p).Ports[i].HostPort = c0(p).Ports[i].ContainerPort
			}
			p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: "1024 65535"}}
		}, "spec.securityContext.sysctls[0].name", invalid, "may not be specified when 'hostNetwork' is true"},
		{"host namespaces in a user namespace", func(p *corev1.Pod) { p.Spec.HostUsers = ptr.To(false); p.Spec.HostPID = true },
			"spec.hostPID", forbidden, ""},
	})
}

func TestPodMessagesMatchKubeAPIServer(t *testing.T) {
	p := validPod()
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	p.Spec.Containers[0].Image = ""
	p.Name = "Foo_bar"
	got := Validate(p).ToAggregate().Error()
	for _, want := range []string{
		`metadata.name: Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		`spec.containers[0].image: Required value`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("message %q missing from:\n%s", want, got)
		}
	}
}

func TestPodGenerateNameOnly(t *testing.T) {
	p := validPod()
	p.Name, p.GenerateName = "", "web-"
	expectValid(t, Validate(p))
}

func TestPodTemplateAllowsUnsetHostPort(t *testing.T) {
	d := validDeployment()
	d.Spec.Template.Spec.HostNetwork = true
	expectValid(t, Validate(d))
}

func TestBinding(t *testing.T) {
	base := func() *corev1.Binding {
		return &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}
	}
	runCases(t, base, func(b *corev1.Binding) field.ErrorList { return Validate(b) }, []errCase[*corev1.Binding]{
		{"target kind", func(b *corev1.Binding) { b.Target.Kind = "Pod" }, "target.kind", notSupported, `supported values: "Node", "<empty>"`},
		{"target name", func(b *corev1.Binding) { b.Target.Name = "" }, "target.name", required, ""},
	})
}

func TestPodSpecDetails(t *testing.T) {
	runCases(t, validPod, func(p *corev1.Pod) field.ErrorList { return Validate(p) }, []errCase[*corev1.Pod]{
		{"pod-level resource", func(p *corev1.Pod) {
			p.Spec.Resources = &corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}}
		}, "spec.resources.limits[ephemeral-storage]", notSupported, ""},
		{"pod-level request above limit", func(p *corev1.Pod) {
			p.Spec.Resources = &corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}, Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
		}, "spec.resources.requests", invalid, "must be less than or equal to cpu limit of 1"},
		{"ephemeral volume without template", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}
		}, "spec.volumes[1].ephemeral.volumeClaimTemplate", required, ""},
		{"ephemeral volume without access modes", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
				Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}}
		}, "spec.volumes[1].ephemeral.volumeClaimTemplate.spec.accessModes", required, ""},
		{"ephemeral claim name too long", func(p *corev1.Pod) {
			p.Name = strings.Repeat("p", 250)
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}}
		}, "spec.volumes[1].name", invalid, "PVC name"},
		{"csi driver", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "Bad Driver"}}
		},
			"spec.volumes[1].csi.driver", invalid, ""},
		{"nfs relative path", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nas", Path: "exports"}}
		}, "spec.volumes[1].nfs.path", invalid, "must be an absolute path"},
		{"projected paths collide", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "a"}, Items: []corev1.KeyToPath{{Key: "k", Path: "f"}}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "b"}, Items: []corev1.KeyToPath{{Key: "k", Path: "f"}}}},
			}}}
		}, "spec.volumes[1].projected.sources[1].secret.items[0].path", invalid, "conflicting duplicate paths"},
		{"short token expiry", func(p *corev1.Pod) {
			p.Spec.Volumes[1].VolumeSource = corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To(int64(60))}}}}}
		}, "spec.volumes[1].projected.sources[0].serviceAccountToken.expirationSeconds", invalid, "may not specify a duration less than 10 minutes"},
		{"apparmor localhost without profile", func(p *corev1.Pod) {
			p.Spec.SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost}
		}, "spec.securityContext.appArmorProfile.localhostProfile", required, ""},
		{"apparmor type", func(p *corev1.Pod) { c0(p).SecurityContext.AppArmorProfile = &corev1.AppArmorProfile{Type: "Strict"} },
			"spec.containers[0].securityContext.appArmorProfile.type", notSupported, ""},
		{"recursive read-only on writable mount", func(p *corev1.Pod) { c0(p).VolumeMounts[1].RecursiveReadOnly = ptr.To(corev1.RecursiveReadOnlyEnabled) },
			"spec.containers[0].volumeMounts[1].recursiveReadOnly", forbidden, "may only be specified when readOnly is true"},
		{"claim not in pod", func(p *corev1.Pod) { c0(p).Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}} },
			"spec.containers[0].resources.claims[0]", notFound, "must be one of the names in pod.spec.resourceClaims which is empty"},
		{"pod claim without source", func(p *corev1.Pod) { p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu"}} },
			"spec.resourceClaims[0]", invalid, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"},
		{"block device from a configMap", func(p *corev1.Pod) {
			c0(p).VolumeDevices = []corev1.VolumeDevice{{Name: "cache", DevicePath: "/dev/xvda"}}
		},
			"spec.containers[0].volumeDevices[0].name", invalid, "can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode"},
		{"resize policy", func(p *corev1.Pod) {
			c0(p).ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: "disk", RestartPolicy: corev1.NotRequired}}
		}, "spec.containers[0].resizePolicy", notSupported, ""},
		{"label subscript", func(p *corev1.Pod) { c0(p).Env[1].ValueFrom.FieldRef.FieldPath = "metadata.labels['bad key']" },
			"spec.containers[0].env[1].valueFrom.fieldRef", invalid, ""},
		{"subscript on a plain field", func(p *corev1.Pod) { c0(p).Env[1].ValueFrom.FieldRef.FieldPath = "metadata.name['x']" },
			"spec.containers[0].env[1].valueFrom.fieldRef.fieldPath", invalid, "does not support subscript"},
		{"memory divisor", func(p *corev1.Pod) {
			p.Spec.Volumes[2].DownwardAPI.Items[1].ResourceFieldRef.Divisor = resource.MustParse("3Mi")
		}, "spec.volumes[2].downwardAPI.items[1].resourceFieldRef.divisor", invalid, "supported with the memory resource"},
		{"node field selector key", func(p *corev1.Pod) {
			term := &p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0]
			term.MatchFields = []corev1.NodeSelectorRequirement{{Key: "metadata.uid", Operator: corev1.NodeSelectorOpIn, Values: []string{"x"}}}
		}, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key", invalid, "not a valid field selector key"},
		{"match label keys without selector", func(p *corev1.Pod) {
			term := &p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm
			term.LabelSelector = nil
			term.MatchLabelKeys = []string{"pod-template-hash"}
		}, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.matchLabelKeys", forbidden, ""},
		{"too many nameservers", func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "8.8.8.8", "9.9.9.9", "1.0.0.1"}}
		}, "spec.dnsConfig.nameservers", invalid, "must not have more than 3 nameservers"},
		{"search domain", func(p *corev1.Pod) { p.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: []string{"bad domain"}} }, "spec.dnsConfig.searches[0]", invalid, ""},
		{"unmasked proc mount on host users", func(p *corev1.Pod) { c0(p).SecurityContext.ProcMount = ptr.To(corev1.UnmaskedProcMount) },
			"spec.containers[0].securityContext.procMount", invalid, "`hostUsers` must be false to use `Unmasked`"},
		{"duplicate sysctl", func(p *corev1.Pod) {
			p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "kernel.shm_rmid_forced", Value: "0"}}
		}, "spec.securityContext.sysctls[1].name", duplicate, ""},
		{"sysctl name", func(p *corev1.Pod) { p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "Kernel.X"}} }, "spec.securityContext.sysctls[0].name", invalid, ""},
		{"host alias", func(p *corev1.Pod) {
			p.Spec.HostAliases = []corev1.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"bad_host"}}}
		},
			"spec.hostAliases[0].hostnames[0]", invalid, ""},
		{"readiness gate", func(p *corev1.Pod) { p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "bad gate"}} },
			"spec.readinessGates[0].conditionType", invalid, ""},
		{"sidecar probe checked", func(p *corev1.Pod) {
			p.Spec.InitContainers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			p.Spec.InitContainers[0].ReadinessProbe = &corev1.Probe{}
		}, "spec.initContainers[0].readinessProbe", required, "must specify a handler type"},
	})
}
