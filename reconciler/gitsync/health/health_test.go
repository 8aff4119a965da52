package health

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

const (
	healthyS     = berthv1alpha1.HealthHealthy
	progressingS = berthv1alpha1.HealthProgressing
	degradedS    = berthv1alpha1.HealthDegraded
)

func toU(t *testing.T, obj runtime.Object, gvk schema.GroupVersionKind) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u
}

func deployment(gen, observed int64, replicas int32, st appsv1.DeploymentStatus) *appsv1.Deployment {
	st.ObservedGeneration = observed
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: gen}, Spec: appsv1.DeploymentSpec{Replicas: &replicas}, Status: st}
}

func TestOf(t *testing.T) {
	ready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
	deployGVK := appsv1.SchemeGroupVersion.WithKind("Deployment")
	cases := []struct {
		name string
		obj  runtime.Object
		gvk  schema.GroupVersionKind
		eps  int
		want berthv1alpha1.HealthStatus
		msg  string
	}{
		{"deployment not observed", deployment(2, 1, 3, appsv1.DeploymentStatus{}), deployGVK, 0, progressingS, "observe generation 2"},
		{"deployment updating", deployment(1, 1, 3, appsv1.DeploymentStatus{UpdatedReplicas: 1, Replicas: 3}), deployGVK, 0, progressingS, "1 of 3 replicas updated"},
		{"deployment old replicas", deployment(1, 1, 3, appsv1.DeploymentStatus{UpdatedReplicas: 3, Replicas: 4}), deployGVK, 0, progressingS, "1 old replicas"},
		{"deployment unavailable", deployment(1, 1, 3, appsv1.DeploymentStatus{UpdatedReplicas: 3, Replicas: 3, AvailableReplicas: 2}), deployGVK, 0, progressingS, "2 of 3 updated replicas available"},
		{"deployment rolled out", deployment(1, 1, 3, appsv1.DeploymentStatus{UpdatedReplicas: 3, Replicas: 3, AvailableReplicas: 3}), deployGVK, 0, healthyS, "3/3"},
		{"deployment past deadline", deployment(1, 1, 3, appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "too slow"}}}), deployGVK, 0, degradedS, "too slow"},
		{"replicaset short", &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(2))}, Status: appsv1.ReplicaSetStatus{AvailableReplicas: 1}},
			appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), 0, progressingS, "1 of 2"},
		{"job complete", &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}},
			batchv1.SchemeGroupVersion.WithKind("Job"), 0, healthyS, "complete"},
		{"job failed", &batchv1.Job{Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}}}},
			batchv1.SchemeGroupVersion.WithKind("Job"), 0, degradedS, "BackoffLimitExceeded"},
		{"job running", &batchv1.Job{Status: batchv1.JobStatus{Active: 1}}, batchv1.SchemeGroupVersion.WithKind("Job"), 0, progressingS, "1 active"},
		{"pod ready", &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{ready}}},
			corev1.SchemeGroupVersion.WithKind("Pod"), 0, healthyS, ""},
		{"pod unscheduled", &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}}, corev1.SchemeGroupVersion.WithKind("Pod"), 0, progressingS, "scheduled"},
		{"pod crash looping", &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}}}, corev1.SchemeGroupVersion.WithKind("Pod"), 0, degradedS, "CrashLoopBackOff"},
		{"pod failed", &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed}}, corev1.SchemeGroupVersion.WithKind("Pod"), 0, degradedS, "failed"},
		{"service with endpoints", &corev1.Service{Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "a"}}}, corev1.SchemeGroupVersion.WithKind("Service"), 2, healthyS, "2 ready"},
		{"service without endpoints", &corev1.Service{Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "a"}}}, corev1.SchemeGroupVersion.WithKind("Service"), 0, progressingS, "no ready endpoints"},
		{"headless selectorless service", &corev1.Service{}, corev1.SchemeGroupVersion.WithKind("Service"), 0, healthyS, ""},
		{"namespace terminating", &corev1.Namespace{Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}, corev1.SchemeGroupVersion.WithKind("Namespace"), 0, progressingS, "terminating"},
		{"configmap exists", &corev1.ConfigMap{}, corev1.SchemeGroupVersion.WithKind("ConfigMap"), 0, healthyS, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Of(toU(t, c.obj, c.gvk), func(string, string) int { return c.eps })
			if got.Status != c.want || !strings.Contains(got.Message, c.msg) {
				t.Fatalf("got %s %q, want %s containing %q", got.Status, got.Message, c.want, c.msg)
			}
		})
	}
	if got := Of(nil, nil); got.Status != berthv1alpha1.HealthMissing {
		t.Fatalf("missing object: %v", got)
	}
}

func TestAggregate(t *testing.T) {
	r := func(s berthv1alpha1.HealthStatus) Result { return Result{Status: s} }
	for _, c := range []struct {
		in   []Result
		want berthv1alpha1.HealthStatus
	}{
		{nil, healthyS},
		{[]Result{r(healthyS), r(healthyS)}, healthyS},
		{[]Result{r(healthyS), r(berthv1alpha1.HealthMissing)}, progressingS},
		{[]Result{r(progressingS), r(degradedS), r(healthyS)}, degradedS},
	} {
		if got := Aggregate(c.in); got != c.want {
			t.Errorf("Aggregate(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
