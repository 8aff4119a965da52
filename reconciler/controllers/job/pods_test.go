package job

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestNewPod(t *testing.T) {
	job := testJob(func(j *batchv1.Job) {
		j.Spec.Template.Labels = map[string]string{batchv1.ControllerUidLabel: "job-uid", "app": "x"}
		j.Spec.Template.Annotations = map[string]string{"note": "kept"}
		j.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "init"}}
		j.Spec.Template.Spec.Containers = []corev1.Container{
			{Name: "main"},
			{Name: "own", Env: []corev1.EnvVar{{Name: completionIndexEnv, Value: "mine"}}},
		}
	})

	plain := newPod(job, noIndex)
	if plain.GenerateName != "j-" || plain.Namespace != "ns" || plain.Labels["app"] != "x" || plain.Annotations["note"] != "kept" {
		t.Errorf("NonIndexed pod meta: %+v", plain.ObjectMeta)
	}
	if ref := metav1.GetControllerOf(plain); ref == nil || ref.UID != "job-uid" || ref.Kind != "Job" || ref.APIVersion != "batch/v1" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("controller reference %+v", plain.OwnerReferences)
	}
	if !tracked(plain) || plain.Spec.Hostname != "" || len(plain.Spec.Containers[0].Env) != 0 {
		t.Errorf("NonIndexed pod: finalizers %v, hostname %q, env %v", plain.Finalizers, plain.Spec.Hostname, plain.Spec.Containers[0].Env)
	}

	ix := newPod(job, 3)
	if ix.GenerateName != "j-3-" || ix.Spec.Hostname != "j-3" || completionIndex(ix) != 3 || ix.Labels[batchv1.JobCompletionIndexAnnotation] != "3" {
		t.Errorf("Indexed pod: generateName %q, hostname %q, annotations %v, labels %v", ix.GenerateName, ix.Spec.Hostname, ix.Annotations, ix.Labels)
	}
	for _, c := range append(ix.Spec.InitContainers, ix.Spec.Containers[0]) {
		if len(c.Env) != 1 || c.Env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("container %s env %+v", c.Name, c.Env)
		}
	}
	if env := ix.Spec.Containers[1].Env; len(env) != 1 || env[0].Value != "mine" {
		t.Errorf("a container's own %s is kept: %+v", completionIndexEnv, env)
	}
	if _, set := job.Spec.Template.Annotations[batchv1.JobCompletionIndexAnnotation]; set || len(job.Spec.Template.Spec.Containers[0].Env) != 0 {
		t.Errorf("newPod changed the job's template")
	}
}

func TestGenerateNameKeepsTheIndex(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		job   string
		index int
		want  string
	}{
		{"pi", noIndex, "pi-"},
		{"pi", 7, "pi-7-"},
		{long, noIndex, long[:maxGeneratedNameLength-1] + "-"},
		{long, 12345, long[:maxGeneratedNameLength-len("-12345-")] + "-12345-"},
	}
	for _, tt := range tests {
		got := generateName(tt.job, tt.index)
		if got != tt.want || len(got) > maxGeneratedNameLength {
			t.Errorf("generateName(%d chars, %d) = %q, want %q", len(tt.job), tt.index, got, tt.want)
		}
	}
}

func TestLeastUseful(t *testing.T) {
	older := func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour)) }
	restarted := func(p *corev1.Pod) { p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: 3}} }
	pods := []*corev1.Pod{
		testPod("ready", corev1.PodRunning, onNode, ready),
		testPod("running-old", corev1.PodRunning, onNode, older),
		testPod("running-new", corev1.PodRunning, onNode),
		testPod("running-restarted", corev1.PodRunning, onNode, restarted),
		testPod("pending", corev1.PodPending, onNode),
		testPod("unscheduled", corev1.PodPending),
	}
	leastUseful(pods)
	want := []string{"unscheduled", "pending", "running-restarted", "running-new", "running-old", "ready"}
	for i, p := range pods {
		if p.Name != want[i] {
			t.Fatalf("order %v, want %v", names(pods), want)
		}
	}
}

func TestPodStates(t *testing.T) {
	job := testJob()
	awaitFailure := testJob(func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed) })
	tests := []struct {
		name                        string
		pod                         *corev1.Pod
		active, terminating, failed bool
		failedWhenAwaitingFailure   bool
	}{
		{"pending", testPod("p", corev1.PodPending), true, false, false, false},
		{"running", testPod("p", corev1.PodRunning), true, false, false, false},
		{"succeeded", testPod("p", corev1.PodSucceeded), false, false, false, false},
		{"failed", testPod("p", corev1.PodFailed), false, false, true, true},
		{"running, deleted", testPod("p", corev1.PodRunning, deleting), false, true, true, false},
		{"succeeded, deleted", testPod("p", corev1.PodSucceeded, deleting), false, false, false, false},
	}
	for _, tt := range tests {
		if isActive(tt.pod) != tt.active || isTerminating(tt.pod) != tt.terminating || isFailed(tt.pod, job) != tt.failed ||
			isFailed(tt.pod, awaitFailure) != tt.failedWhenAwaitingFailure {
			t.Errorf("%s: active %v, terminating %v, failed %v/%v", tt.name, isActive(tt.pod), isTerminating(tt.pod), isFailed(tt.pod, job), isFailed(tt.pod, awaitFailure))
		}
	}
	for v, want := range map[string]int{"4": 4, "0": 0, "-1": noIndex, "x": noIndex} {
		if got := completionIndex(testPod("p", corev1.PodRunning, index(v))); got != want {
			t.Errorf("completionIndex(%q) = %d, want %d", v, got, want)
		}
	}
	if completionIndex(testPod("p", corev1.PodRunning)) != noIndex {
		t.Error("a pod without the annotation has no index")
	}
}
