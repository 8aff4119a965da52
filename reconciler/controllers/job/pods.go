package job

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// controllerKind is what the pods' controller ownerReference names.
var controllerKind = batchv1.SchemeGroupVersion.WithKind("Job")

// noIndex is the completion index of a NonIndexed job's pods.
const noIndex = -1

// completionIndexEnv is the variable through which an Indexed job's pods
// learn their index.
const completionIndexEnv = "JOB_COMPLETION_INDEX"

// maxGeneratedNameLength is how much of generateName the API server keeps
// before appending its random suffix.
const maxGeneratedNameLength = 63 - 5

// tracked reports whether pod p still carries the job-tracking finalizer:
// its end has not been counted in its job's status yet.
func tracked(p *corev1.Pod) bool {
	return slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer)
}

// terminal reports whether p has run to completion, either way.
func terminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// isActive reports whether p counts as running for its job.
func isActive(p *corev1.Pod) bool {
	return !terminal(p) && p.DeletionTimestamp == nil
}

// isTerminating reports whether p is being deleted but not done.
func isTerminating(p *corev1.Pod) bool {
	return !terminal(p) && p.DeletionTimestamp != nil
}

// isReady reports whether p's Ready condition is True.
func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// onlyReplaceFailed reports whether job waits for deleted pods to fail
// before replacing them (podReplacementPolicy Failed).
func onlyReplaceFailed(job *batchv1.Job) bool {
	return ptr.Deref(job.Spec.PodReplacementPolicy, batchv1.TerminatingOrFailed) == batchv1.Failed
}

// isFailed reports whether p counts as a failure of job: it failed, or it
// is being deleted before succeeding (unless the job waits for deleted pods
// to reach the Failed phase).
func isFailed(p *corev1.Pod, job *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	return !onlyReplaceFailed(job) && p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

// completionIndex is p's completion index, or noIndex when it has none or
// it does not parse.
func completionIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return noIndex
	}
	ix, err := strconv.Atoi(v)
	if err != nil || ix < 0 {
		return noIndex
	}
	return ix
}

// indexesOf lists the completion indexes of pods that have one.
func indexesOf(pods []*corev1.Pod) []int {
	var out []int
	for _, p := range pods {
		if ix := completionIndex(p); ix != noIndex {
			out = append(out, ix)
		}
	}
	return out
}

// isIndexed reports whether job runs in Indexed completion mode.
func isIndexed(job *batchv1.Job) bool {
	return ptr.Deref(job.Spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
}

// newPod is the pod job runs for completion index (noIndex for NonIndexed
// jobs): its template, controlled by the job, carrying the job-tracking
// finalizer and, when indexed, the index as annotation, label, hostname
// and JOB_COMPLETION_INDEX variable.
func newPod(job *batchv1.Job, index int) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    generateName(job.Name, index),
			Namespace:       job.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, controllerKind)},
		},
		Spec: t.Spec,
	}
	if !slices.Contains(pod.Finalizers, batchv1.JobTrackingFinalizer) {
		pod.Finalizers = append(pod.Finalizers, batchv1.JobTrackingFinalizer)
	}
	if index == noIndex {
		return pod
	}
	value := strconv.Itoa(index)
	metav1.SetMetaDataAnnotation(&pod.ObjectMeta, batchv1.JobCompletionIndexAnnotation, value)
	metav1.SetMetaDataLabel(&pod.ObjectMeta, batchv1.JobCompletionIndexAnnotation, value)
	pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, index)
	env := corev1.EnvVar{Name: completionIndexEnv, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation)},
	}}
	for _, containers := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range containers {
			if !slices.ContainsFunc(containers[i].Env, func(e corev1.EnvVar) bool { return e.Name == completionIndexEnv }) {
				containers[i].Env = append(containers[i].Env, env)
			}
		}
	}
	return pod
}

// generateName is the name prefix of job's pods: "<job>-", or
// "<job>-<index>-" for an indexed pod, with the job name cut so that the
// index survives the API server's length limit.
func generateName(job string, index int) string {
	suffix := "-"
	if index != noIndex {
		suffix = "-" + strconv.Itoa(index) + "-"
	}
	if len(job)+len(suffix) > maxGeneratedNameLength {
		job = job[:maxGeneratedNameLength-len(suffix)]
	}
	return job + suffix
}

// leastUseful sorts pods so that the ones whose deletion loses the least
// work come first: unscheduled before scheduled, pending before running,
// not ready before ready, more restarts first, newer first.
func leastUseful(pods []*corev1.Pod) {
	phaseRank := map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int {
		return cmp.Or(
			cmp.Compare(boolRank(a.Spec.NodeName != ""), boolRank(b.Spec.NodeName != "")),
			cmp.Compare(phaseRank[a.Status.Phase], phaseRank[b.Status.Phase]),
			cmp.Compare(boolRank(isReady(a)), boolRank(isReady(b))),
			cmp.Compare(restarts(b), restarts(a)),
			b.CreationTimestamp.Compare(a.CreationTimestamp.Time),
		)
	})
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, cs := range p.Status.ContainerStatuses {
		n += cs.RestartCount
	}
	return n
}
