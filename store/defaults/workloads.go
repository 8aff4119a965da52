package defaults

import (
	"math"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Labels the Job create strategy puts on a Job's pods when it generates the
// selector: the prefixed ones and their unprefixed legacy twins.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

func defaultDeployment(d *appsv1.Deployment) {
	spec := &d.Spec
	if spec.Replicas == nil {
		spec.Replicas = ptr.To(int32(1))
	}
	if spec.Strategy.Type == "" {
		spec.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if spec.Strategy.RollingUpdate == nil {
			spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		quarter := intstr.FromString("25%")
		if spec.Strategy.RollingUpdate.MaxUnavailable == nil {
			spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(quarter)
		}
		if spec.Strategy.RollingUpdate.MaxSurge == nil {
			spec.Strategy.RollingUpdate.MaxSurge = ptr.To(quarter)
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr.To(int32(10))
	}
	if spec.ProgressDeadlineSeconds == nil {
		spec.ProgressDeadlineSeconds = ptr.To(int32(600))
	}
	defaultPodTemplateSpec(&spec.Template)
}

func defaultReplicaSet(rs *appsv1.ReplicaSet) {
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = ptr.To(int32(1))
	}
	defaultPodTemplateSpec(&rs.Spec.Template)
}

func defaultJob(job *batchv1.Job) {
	spec := &job.Spec
	// A Job that sets neither is a single pod run once.
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = ptr.To(int32(1))
	}
	if spec.Parallelism == nil {
		spec.Parallelism = ptr.To(int32(1))
	}
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = ptr.To(int32(math.MaxInt32))
		} else {
			spec.BackoffLimit = ptr.To(int32(6))
		}
	}
	if len(job.Labels) == 0 && spec.Template.Labels != nil {
		job.Labels = make(map[string]string, len(spec.Template.Labels))
		for k, v := range spec.Template.Labels {
			job.Labels[k] = v
		}
	}
	if spec.CompletionMode == nil {
		spec.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if spec.Suspend == nil {
		spec.Suspend = ptr.To(false)
	}
	if spec.PodFailurePolicy != nil {
		for _, rule := range spec.PodFailurePolicy.Rules {
			for i := range rule.OnPodConditions {
				if rule.OnPodConditions[i].Status == "" {
					rule.OnPodConditions[i].Status = corev1.ConditionTrue
				}
			}
		}
	}
	if spec.PodReplacementPolicy == nil {
		if spec.PodFailurePolicy != nil {
			spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
	defaultPodTemplateSpec(&spec.Template)
}

// GenerateJobSelector does what the Job create strategy does for a Job that
// does not ask for a manual selector (spec.manualSelector unset or false):
// it labels the pod template with the Job's name and UID
// (batch.kubernetes.io/job-name, batch.kubernetes.io/controller-uid and
// their legacy unprefixed twins) and selects on the UID label. Labels and
// selector entries the user already set are kept, so a conflicting one is
// reported by validation rather than overwritten.
//
// It needs metadata.uid, so the API server calls it on create once the UID
// is assigned; it does nothing when the UID is empty.
func GenerateJobSelector(job *batchv1.Job) {
	if ptr.Deref(job.Spec.ManualSelector, false) || job.UID == "" {
		return
	}
	uid := string(job.UID)
	template := &job.Spec.Template
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	for key, value := range map[string]string{
		batchv1.JobNameLabel:       job.Name,
		legacyJobNameLabel:         job.Name,
		batchv1.ControllerUidLabel: uid,
		legacyControllerUIDLabel:   uid,
	} {
		if _, set := template.Labels[key]; !set {
			template.Labels[key] = value
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, set := job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !set {
		job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = uid
	}
}
