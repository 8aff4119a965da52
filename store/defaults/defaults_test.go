package defaults

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func minimalPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "app",
			Image: "nginx:1.27",
			Ports: []corev1.ContainerPort{{ContainerPort: 80}},
			Env: []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("500m")}},
			LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
			VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/app"}},
		}},
			Volumes: []corev1.Volume{
				{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
				{Name: "scratch"},
				{Name: "token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
			},
		},
	}
}

func TestDefaultPod(t *testing.T) {
	pod := minimalPod()
	Default(pod)
	spec := pod.Spec
	c := spec.Containers[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"restartPolicy", spec.RestartPolicy, corev1.RestartPolicyAlways},
		{"dnsPolicy", spec.DNSPolicy, corev1.DNSClusterFirst},
		{"schedulerName", spec.SchedulerName, "default-scheduler"},
		{"terminationGracePeriodSeconds", *spec.TerminationGracePeriodSeconds, int64(30)},
		{"securityContext", *spec.SecurityContext, corev1.PodSecurityContext{}},
		{"enableServiceLinks", *spec.EnableServiceLinks, true},
		{"priority", *spec.Priority, int32(0)},
		{"preemptionPolicy", *spec.PreemptionPolicy, corev1.PreemptLowerPriority},
		{"terminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"terminationMessagePolicy", c.TerminationMessagePolicy, corev1.TerminationMessageReadFile},
		{"imagePullPolicy", c.ImagePullPolicy, corev1.PullIfNotPresent},
		{"port protocol", c.Ports[0].Protocol, corev1.ProtocolTCP},
		{"hostPort without hostNetwork", c.Ports[0].HostPort, int32(0)},
		{"fieldRef apiVersion", c.Env[0].ValueFrom.FieldRef.APIVersion, "v1"},
		{"probe timeoutSeconds", c.LivenessProbe.TimeoutSeconds, int32(1)},
		{"probe periodSeconds", c.LivenessProbe.PeriodSeconds, int32(10)},
		{"probe successThreshold", c.LivenessProbe.SuccessThreshold, int32(1)},
		{"probe failureThreshold", c.LivenessProbe.FailureThreshold, int32(3)},
		{"httpGet scheme", c.LivenessProbe.HTTPGet.Scheme, corev1.URISchemeHTTP},
		{"httpGet path", c.LivenessProbe.HTTPGet.Path, "/"},
		{"request from limit", c.Resources.Requests.Cpu().String(), "500m"},
		{"configMap defaultMode", *spec.Volumes[0].ConfigMap.DefaultMode, int32(420)},
		{"sourceless volume is emptyDir", spec.Volumes[1].EmptyDir != nil, true},
		{"projected defaultMode", *spec.Volumes[2].Projected.DefaultMode, int32(420)},
		{"token expiration", *spec.Volumes[2].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds, int64(3600)},
		{"toleration count", len(spec.Tolerations), 2},
	}
	for _, c := range checks {
		if !apiequality.Semantic.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	for i, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		tol := spec.Tolerations[i]
		if tol.Key != key || tol.Operator != corev1.TolerationOpExists || tol.Effect != corev1.TaintEffectNoExecute || ptr.Deref(tol.TolerationSeconds, 0) != 300 {
			t.Errorf("toleration %d = %+v, want %s Exists NoExecute 300s", i, tol, key)
		}
	}
}

func TestImagePullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                            corev1.PullAlways,
		"nginx:latest":                     corev1.PullAlways,
		"registry.local:5000/team/app":     corev1.PullAlways,
		"nginx:1.27":                       corev1.PullIfNotPresent,
		"registry.local:5000/app:v1":       corev1.PullIfNotPresent,
		"nginx@sha256:" + sha256Hex:        corev1.PullIfNotPresent,
		"nginx:latest@sha256:" + sha256Hex: corev1.PullAlways,
		"Not A Reference":                  corev1.PullIfNotPresent,
		"":                                 corev1.PullIfNotPresent,
	} {
		if got := pullPolicyFor(image); got != want {
			t.Errorf("pullPolicyFor(%q) = %s, want %s", image, got, want)
		}
	}
}

const sha256Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPodOnlyDefaultsStayOffTemplates(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: minimalPod().Spec}}}
	d.Spec.Template.Spec.HostNetwork = true
	Default(d)
	spec := d.Spec.Template.Spec
	if spec.EnableServiceLinks != nil || spec.Priority != nil || spec.PreemptionPolicy != nil || len(spec.Tolerations) != 0 {
		t.Errorf("pod-only admission defaults leaked into a template: %+v", spec)
	}
	if spec.Containers[0].Resources.Requests != nil {
		t.Errorf("requests defaulted from limits on a template: %v", spec.Containers[0].Resources.Requests)
	}
	if spec.Containers[0].Ports[0].HostPort != 0 {
		t.Errorf("hostPort defaulted on a template")
	}
	if spec.RestartPolicy != corev1.RestartPolicyAlways || spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("pod spec defaults missing from template: %+v", spec)
	}
}

func TestHostNetworkPodGetsHostPorts(t *testing.T) {
	pod := minimalPod()
	pod.Spec.HostNetwork = true
	Default(pod)
	if got := pod.Spec.Containers[0].Ports[0].HostPort; got != 80 {
		t.Errorf("hostPort = %d, want 80", got)
	}
}

func TestDefaultTolerationsRespectExisting(t *testing.T) {
	pod := minimalPod()
	pod.Spec.Tolerations = []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To(int64(5))},
	}
	Default(pod)
	if len(pod.Spec.Tolerations) != 2 || *pod.Spec.Tolerations[0].TolerationSeconds != 5 || pod.Spec.Tolerations[1].Key != corev1.TaintNodeUnreachable {
		t.Errorf("tolerations = %+v", pod.Spec.Tolerations)
	}

	tolerateAll := minimalPod()
	tolerateAll.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	Default(tolerateAll)
	if len(tolerateAll.Spec.Tolerations) != 1 {
		t.Errorf("a tolerate-everything pod got extra tolerations: %+v", tolerateAll.Spec.Tolerations)
	}
}

func TestPriorityOfBuiltinClass(t *testing.T) {
	pod := minimalPod()
	pod.Spec.PriorityClassName = "system-node-critical"
	Default(pod)
	if ptr.Deref(pod.Spec.Priority, -1) != 2000001000 {
		t.Errorf("priority = %v", pod.Spec.Priority)
	}
	custom := minimalPod()
	custom.Spec.PriorityClassName = "batch-low"
	Default(custom)
	if custom.Spec.Priority != nil {
		t.Errorf("priority of an unknown class must be left to admission, got %d", *custom.Spec.Priority)
	}
}

func TestServiceAccountFieldsMirror(t *testing.T) {
	pod := minimalPod()
	pod.Spec.DeprecatedServiceAccount = "builder"
	Default(pod)
	if pod.Spec.ServiceAccountName != "builder" || pod.Spec.DeprecatedServiceAccount != "builder" {
		t.Errorf("serviceAccountName=%q serviceAccount=%q", pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount)
	}
}

func TestDefaultService(t *testing.T) {
	tests := []struct {
		name  string
		spec  corev1.ServiceSpec
		check func(t *testing.T, s corev1.ServiceSpec)
	}{
		{
			name: "cluster IP service",
			spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}, {Name: "metrics", Port: 9090, TargetPort: intstr.FromString("metrics")}}},
			check: func(t *testing.T, s corev1.ServiceSpec) {
				want := corev1.ServiceSpec{
					Selector:              map[string]string{"app": "web"},
					Type:                  corev1.ServiceTypeClusterIP,
					SessionAffinity:       corev1.ServiceAffinityNone,
					InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster),
					IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicySingleStack),
					IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
					Ports: []corev1.ServicePort{
						{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)},
						{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("metrics")},
					},
				}
				if !apiequality.Semantic.DeepEqual(s, want) {
					t.Errorf("got %+v\nwant %+v", s, want)
				}
			},
		},
		{
			name: "headless with selector mirrors clusterIPs",
			spec: corev1.ServiceSpec{ClusterIP: "None", Selector: map[string]string{"app": "db"}},
			check: func(t *testing.T, s corev1.ServiceSpec) {
				if len(s.ClusterIPs) != 1 || s.ClusterIPs[0] != "None" || *s.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "selectorless headless is dual stack",
			spec: corev1.ServiceSpec{ClusterIP: "None"},
			check: func(t *testing.T, s corev1.ServiceSpec) {
				if *s.IPFamilyPolicy != corev1.IPFamilyPolicyRequireDualStack || len(s.IPFamilies) != 2 {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "external name gets no IP fields",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"},
			check: func(t *testing.T, s corev1.ServiceSpec) {
				if s.IPFamilyPolicy != nil || s.IPFamilies != nil || s.InternalTrafficPolicy != nil {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "load balancer",
			spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 443}}},
			check: func(t *testing.T, s corev1.ServiceSpec) {
				if s.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || !ptr.Deref(s.AllocateLoadBalancerNodePorts, false) {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "client IP affinity gets a timeout",
			spec: corev1.ServiceSpec{SessionAffinity: corev1.ServiceAffinityClientIP},
			check: func(t *testing.T, s corev1.ServiceSpec) {
				if *s.SessionAffinityConfig.ClientIP.TimeoutSeconds != 10800 {
					t.Errorf("got %+v", s.SessionAffinityConfig)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &corev1.Service{Spec: tt.spec}
			Default(svc)
			tt.check(t, svc.Spec)
		})
	}
}

func TestDefaultDeployment(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: minimalPod().Spec}}}
	Default(d)
	s := d.Spec
	if *s.Replicas != 1 || s.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
		s.Strategy.RollingUpdate.MaxSurge.String() != "25%" || s.Strategy.RollingUpdate.MaxUnavailable.String() != "25%" ||
		*s.RevisionHistoryLimit != 10 || *s.ProgressDeadlineSeconds != 600 {
		t.Errorf("got %+v", s)
	}
	recreate := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}}}
	Default(recreate)
	if recreate.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate strategy got rolling update parameters")
	}
}

func TestDefaultReplicaSet(t *testing.T) {
	rs := &appsv1.ReplicaSet{}
	Default(rs)
	if *rs.Spec.Replicas != 1 || rs.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("got %+v", rs.Spec)
	}
}

func TestDefaultJob(t *testing.T) {
	tests := []struct {
		name                         string
		spec                         batchv1.JobSpec
		wantCompletions              *int32
		wantParallelism, wantBackoff int32
		wantReplacement              batchv1.PodReplacementPolicy
	}{
		{name: "single run", wantCompletions: ptr.To(int32(1)), wantParallelism: 1, wantBackoff: 6, wantReplacement: batchv1.TerminatingOrFailed},
		{name: "work queue keeps completions unset", spec: batchv1.JobSpec{Parallelism: ptr.To(int32(4))}, wantParallelism: 4, wantBackoff: 6, wantReplacement: batchv1.TerminatingOrFailed},
		{name: "fixed completions", spec: batchv1.JobSpec{Completions: ptr.To(int32(5))}, wantCompletions: ptr.To(int32(5)), wantParallelism: 1, wantBackoff: 6, wantReplacement: batchv1.TerminatingOrFailed},
		{name: "backoff per index", spec: batchv1.JobSpec{Completions: ptr.To(int32(3)), BackoffLimitPerIndex: ptr.To(int32(1))}, wantCompletions: ptr.To(int32(3)), wantParallelism: 1, wantBackoff: 2147483647, wantReplacement: batchv1.TerminatingOrFailed},
		{name: "pod failure policy", spec: batchv1.JobSpec{PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}}}}}},
			wantCompletions: ptr.To(int32(1)), wantParallelism: 1, wantBackoff: 6, wantReplacement: batchv1.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job := &batchv1.Job{Spec: tt.spec}
			Default(job)
			s := job.Spec
			if !apiequality.Semantic.DeepEqual(s.Completions, tt.wantCompletions) || *s.Parallelism != tt.wantParallelism ||
				*s.BackoffLimit != tt.wantBackoff || *s.PodReplacementPolicy != tt.wantReplacement ||
				*s.CompletionMode != batchv1.NonIndexedCompletion || *s.Suspend {
				t.Errorf("got %+v", s)
			}
			if s.PodFailurePolicy != nil && s.PodFailurePolicy.Rules[0].OnPodConditions[0].Status != corev1.ConditionTrue {
				t.Errorf("pod condition pattern status not defaulted")
			}
		})
	}
}

func TestJobLabelsFromTemplate(t *testing.T) {
	job := &batchv1.Job{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "migrate"}}}}}
	Default(job)
	if job.Labels["app"] != "migrate" {
		t.Fatalf("labels = %v", job.Labels)
	}
	job.Labels["extra"] = "x"
	if _, shared := job.Spec.Template.Labels["extra"]; shared {
		t.Errorf("job labels alias the template labels")
	}
}

func TestGenerateJobSelector(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "1234"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "pi"}}}}}
	GenerateJobSelector(job)
	wantLabels := map[string]string{"app": "pi", "batch.kubernetes.io/job-name": "pi", "job-name": "pi",
		"batch.kubernetes.io/controller-uid": "1234", "controller-uid": "1234"}
	if !apiequality.Semantic.DeepEqual(job.Spec.Template.Labels, wantLabels) {
		t.Errorf("template labels = %v", job.Spec.Template.Labels)
	}
	if !apiequality.Semantic.DeepEqual(job.Spec.Selector.MatchLabels, map[string]string{"batch.kubernetes.io/controller-uid": "1234"}) {
		t.Errorf("selector = %v", job.Spec.Selector)
	}
	again := job.DeepCopy()
	GenerateJobSelector(again)
	if !apiequality.Semantic.DeepEqual(again, job) {
		t.Errorf("GenerateJobSelector is not idempotent")
	}

	manual := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "m", UID: "1"}, Spec: batchv1.JobSpec{ManualSelector: ptr.To(true)}}
	GenerateJobSelector(manual)
	noUID := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	GenerateJobSelector(noUID)
	if manual.Spec.Selector != nil || noUID.Spec.Selector != nil {
		t.Errorf("selector generated for a manual-selector job or a job without uid")
	}
}

func TestDefaultNamespace(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
	Default(ns)
	if ns.Labels[corev1.LabelMetadataName] != "team-a" || ns.Status.Phase != corev1.NamespaceActive ||
		len(ns.Spec.Finalizers) != 1 || ns.Spec.Finalizers[0] != corev1.FinalizerKubernetes {
		t.Errorf("got %+v", ns)
	}
	finalized := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "old", CreationTimestamp: metav1.Now()},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	Default(finalized)
	if len(finalized.Spec.Finalizers) != 0 || finalized.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("an existing namespace got its finalizer back or lost its phase: %+v", finalized)
	}
}

func TestDefaultSecret(t *testing.T) {
	s := &corev1.Secret{Data: map[string][]byte{"a": []byte("old"), "b": []byte("kept")}, StringData: map[string]string{"a": "new"}}
	Default(s)
	if s.Type != corev1.SecretTypeOpaque || string(s.Data["a"]) != "new" || string(s.Data["b"]) != "kept" || s.StringData != nil {
		t.Errorf("got %+v", s)
	}
}

func TestDefaultNode(t *testing.T) {
	node := &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.244.1.0/24"},
		Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}}
	Default(node)
	if len(node.Spec.PodCIDRs) != 1 || node.Spec.PodCIDRs[0] != "10.244.1.0/24" || node.Status.Allocatable.Cpu().String() != "2" {
		t.Errorf("got %+v", node)
	}
	node.Status.Capacity[corev1.ResourceCPU] = resource.MustParse("4")
	if node.Status.Allocatable.Cpu().String() != "2" {
		t.Errorf("allocatable aliases capacity")
	}
	both := &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24", PodCIDRs: []string{"10.1.0.0/24", "fd00::/64"}}}
	Default(both)
	if both.Spec.PodCIDR != "10.1.0.0/24" {
		t.Errorf("podCIDR = %q, want podCIDRs[0]", both.Spec.PodCIDR)
	}
}

func TestDefaultEndpoints(t *testing.T) {
	slice := &discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: ptr.To(int32(80))}}}
	Default(slice)
	if ptr.Deref(slice.Ports[0].Name, "x") != "" || ptr.Deref(slice.Ports[0].Protocol, "") != corev1.ProtocolTCP {
		t.Errorf("got %+v", slice.Ports[0])
	}
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}
	Default(ep)
	if ep.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("got %+v", ep.Subsets[0].Ports[0])
	}
}

// objects returns one object of every defaulted kind, with most fields left
// for defaulting to fill.
func objects() []runtime.Object {
	return []runtime.Object{
		minimalPod(),
		&corev1.Service{Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}, SessionAffinity: corev1.ServiceAffinityClientIP}},
		&corev1.Secret{StringData: map[string]string{"k": "v"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}},
		&corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/24"}, Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}}},
		&corev1.Endpoints{Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}},
		&appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: minimalPod().Spec}}},
		&appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{Spec: minimalPod().Spec}}},
		&batchv1.Job{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"a": "b"}}, Spec: minimalPod().Spec}}},
		&discoveryv1.EndpointSlice{Ports: []discoveryv1.EndpointPort{{Port: ptr.To(int32(80))}}},
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	for _, obj := range objects() {
		once := obj.DeepCopyObject()
		Default(once)
		twice := once.DeepCopyObject()
		Default(twice)
		if !apiequality.Semantic.DeepEqual(once, twice) {
			t.Errorf("%T: second Default changed the object:\nonce  %+v\ntwice %+v", obj, once, twice)
		}
	}
}

func TestDefaultKeepsUserValues(t *testing.T) {
	pod := minimalPod()
	spec := &pod.Spec
	spec.RestartPolicy = corev1.RestartPolicyNever
	spec.DNSPolicy = corev1.DNSDefault
	spec.SchedulerName = "custom"
	spec.TerminationGracePeriodSeconds = ptr.To(int64(0))
	spec.EnableServiceLinks = ptr.To(false)
	spec.Priority = ptr.To(int32(7))
	spec.PreemptionPolicy = ptr.To(corev1.PreemptNever)
	c := &spec.Containers[0]
	c.ImagePullPolicy = corev1.PullNever
	c.TerminationMessagePath = "/tmp/msg"
	c.TerminationMessagePolicy = corev1.TerminationMessageFallbackToLogsOnError
	c.Ports[0].Protocol = corev1.ProtocolUDP
	c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	c.Env[0].ValueFrom.FieldRef.APIVersion = "v1"
	c.LivenessProbe.TimeoutSeconds, c.LivenessProbe.PeriodSeconds, c.LivenessProbe.SuccessThreshold, c.LivenessProbe.FailureThreshold = 5, 20, 1, 9
	c.LivenessProbe.HTTPGet.Scheme, c.LivenessProbe.HTTPGet.Path = corev1.URISchemeHTTPS, "/healthz"
	spec.Volumes[0].ConfigMap.DefaultMode = ptr.To(int32(0o400))
	want := pod.DeepCopy()
	Default(pod)
	got := pod.Spec
	if got.RestartPolicy != want.Spec.RestartPolicy || got.DNSPolicy != want.Spec.DNSPolicy || got.SchedulerName != "custom" ||
		*got.TerminationGracePeriodSeconds != 0 || *got.EnableServiceLinks || *got.Priority != 7 || *got.PreemptionPolicy != corev1.PreemptNever {
		t.Errorf("pod spec values overwritten: %+v", got)
	}
	if !apiequality.Semantic.DeepEqual(got.Containers[0], want.Spec.Containers[0]) {
		t.Errorf("container overwritten:\n got %+v\nwant %+v", got.Containers[0], want.Spec.Containers[0])
	}
	if *got.Volumes[0].ConfigMap.DefaultMode != 0o400 {
		t.Errorf("volume defaultMode overwritten")
	}

	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(0)), RevisionHistoryLimit: ptr.To(int32(0)), ProgressDeadlineSeconds: ptr.To(int32(30)),
		Strategy: appsv1.DeploymentStrategy{RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}}}}
	Default(d)
	if *d.Spec.Replicas != 0 || *d.Spec.RevisionHistoryLimit != 0 || *d.Spec.ProgressDeadlineSeconds != 30 ||
		d.Spec.Strategy.RollingUpdate.MaxSurge.IntValue() != 0 || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 1 {
		t.Errorf("deployment values overwritten: %+v", d.Spec)
	}

	svc := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
		InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyLocal), Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolSCTP}}}}
	Default(svc)
	if svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal || *svc.Spec.InternalTrafficPolicy != corev1.ServiceInternalTrafficPolicyLocal ||
		svc.Spec.Ports[0].TargetPort.IntValue() != 8080 || svc.Spec.Ports[0].Protocol != corev1.ProtocolSCTP {
		t.Errorf("service values overwritten: %+v", svc.Spec)
	}

	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"own": "label"}},
		Spec: batchv1.JobSpec{BackoffLimit: ptr.To(int32(0)), Completions: ptr.To(int32(3)), Parallelism: ptr.To(int32(2)), Suspend: ptr.To(true),
			CompletionMode: ptr.To(batchv1.IndexedCompletion), PodReplacementPolicy: ptr.To(batchv1.Failed),
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}}}}}
	Default(job)
	if *job.Spec.BackoffLimit != 0 || *job.Spec.Completions != 3 || *job.Spec.Parallelism != 2 || !*job.Spec.Suspend ||
		*job.Spec.CompletionMode != batchv1.IndexedCompletion || *job.Spec.PodReplacementPolicy != batchv1.Failed || len(job.Labels) != 1 {
		t.Errorf("job values overwritten: %+v %+v", job.Labels, job.Spec)
	}

	secret := &corev1.Secret{Type: corev1.SecretTypeTLS}
	Default(secret)
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("secret type overwritten")
	}
}

func TestUnknownKindIsUntouched(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}
	want := cm.DeepCopy()
	Default(cm)
	Default(nil)
	if !apiequality.Semantic.DeepEqual(cm, want) {
		t.Errorf("ConfigMap changed: %+v", cm)
	}
}
