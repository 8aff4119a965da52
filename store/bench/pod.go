package bench

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Pod is the object every scenario writes: a pod as a Deployment would
// create it (labels, a template hash, anti-affinity, tolerations, volumes
// and one container with resources, environment, ports, probes, mounts and
// a security context), about 1.5 KB on the wire in protobuf. i varies
// labels, an annotation and an environment value so pods differ.
func Pod(namespace, name string, i int) *corev1.Pod {
	app := "bench-app-" + strconv.Itoa(i%10)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: namespace,
			Name:      name,
			Labels: map[string]string{
				"app.kubernetes.io/name":       app,
				"app.kubernetes.io/component":  "web",
				"app.kubernetes.io/part-of":    "berth-bench",
				"app.kubernetes.io/managed-by": "berth-bench",
				"pod-template-hash":            "7f9c6d8b5d",
			},
			Annotations: map[string]string{
				"berth.io/bench-index":              strconv.Itoa(i),
				"prometheus.io/scrape":              "true",
				"prometheus.io/port":                "9090",
				"kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z",
			},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr(int64(30)),
			NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
			Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
					Weight: 100,
					PodAffinityTerm: corev1.PodAffinityTerm{
						LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": app}},
						TopologyKey:   "kubernetes.io/hostname",
					},
				}},
			}},
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(300))},
			},
			Containers: []corev1.Container{{
				Name:    "web",
				Image:   "registry.example.com/berth/bench-web:1.4.2",
				Command: []string{"/usr/local/bin/web"},
				Args:    []string{"--listen=:8080", "--metrics=:9090", "--log-format=json", "--cache-size=256Mi"},
				Ports: []corev1.ContainerPort{
					{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
					{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
				},
				Env: []corev1.EnvVar{
					{Name: "APP_NAME", Value: app},
					{Name: "APP_ENV", Value: "production"},
					{Name: "LOG_LEVEL", Value: "info"},
					{Name: "WORKER_ID", Value: strconv.Itoa(i)},
					{Name: "UPSTREAM_URL", Value: "http://bench-backend.default.svc.cluster.local:8080/api/v1"},
					{Name: "CACHE_DIR", Value: "/var/cache/web"},
					{Name: "GOMAXPROCS", Value: "2"},
					{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromString("http")}},
					PeriodSeconds:    5,
					FailureThreshold: 3,
				},
				LivenessProbe: &corev1.Probe{
					ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/livez", Port: intstr.FromString("http")}},
					InitialDelaySeconds: 10,
					PeriodSeconds:       10,
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "config", MountPath: "/etc/web", ReadOnly: true},
					{Name: "cache", MountPath: "/var/cache/web"},
				},
				SecurityContext: &corev1.SecurityContext{
					RunAsNonRoot:             ptr(true),
					ReadOnlyRootFilesystem:   ptr(true),
					AllowPrivilegeEscalation: ptr(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
				ImagePullPolicy: corev1.PullIfNotPresent,
			}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: app + "-config"}}}},
				{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("512Mi"))}}},
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }
