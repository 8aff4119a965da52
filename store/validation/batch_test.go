package validation

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func TestJob(t *testing.T) {
	runCases(t, validJob, func(j *batchv1.Job) field.ErrorList { return Validate(j) }, []errCase[*batchv1.Job]{
		{"restart policy Always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			"spec.template.spec.restartPolicy", required, `spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`},
		{"restart policy unknown", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "Later" }, "spec.template.spec.restartPolicy", notSupported, ""},
		{"pod failure policy needs Never", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{}
			j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
		}, "spec.template.spec.restartPolicy", invalid, `only "Never" is supported when podFailurePolicy is specified`},
		{"negative parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To(int32(-1)) }, "spec.parallelism", invalid, ""},
		{"negative completions", func(j *batchv1.Job) { j.Spec.Completions = ptr.To(int32(-1)) }, "spec.completions", invalid, ""},
		{"negative backoff", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To(int32(-1)) }, "spec.backoffLimit", invalid, ""},
		{"negative deadline", func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To(int64(-1)) }, "spec.activeDeadlineSeconds", invalid, ""},
		{"negative ttl", func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To(int32(-1)) }, "spec.ttlSecondsAfterFinished", invalid, ""},
		{"completion mode", func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To(batchv1.CompletionMode("Sharded")) }, "spec.completionMode", notSupported,
			`supported values: "NonIndexed", "Indexed"`},
		{"indexed without completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = nil
		}, "spec.completions", required, "when completion mode is Indexed"},
		{"backoff per index on non-indexed", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To(int32(1)) }, "spec.backoffLimitPerIndex", invalid,
			"requires indexed completion mode"},
		{"indexed name too long for hostnames", func(j *batchv1.Job) {
			j.Name = "a-job-name-that-is-long-enough-to-break-pod-hostnames-of-index-99"
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = ptr.To(int32(100))
		}, "metadata.name", invalid, "will not able to create pod with invalid DNS label"},
		{"pod replacement policy", func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To(batchv1.PodReplacementPolicy("Never")) },
			"spec.podReplacementPolicy", notSupported, ""},
		{"managed by", func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("kueue") }, "spec.managedBy", invalid, ""},
		{"missing uid", func(j *batchv1.Job) { j.UID = "" }, "metadata.uid", required, ""},
		{"generated label tampered", func(j *batchv1.Job) { j.Spec.Template.Labels["batch.kubernetes.io/job-name"] = "other" },
			"spec.template.metadata.labels[batch.kubernetes.io/job-name]", invalid, "must be 'migrate'"},
		{"generated label missing", func(j *batchv1.Job) { delete(j.Spec.Template.Labels, "controller-uid") },
			"spec.template.metadata.labels[controller-uid]", required, ""},
		{"selector not generated", func(j *batchv1.Job) {
			j.Spec.Selector.MatchLabels["app"] = "x"
			j.Spec.Template.Labels["app"] = "x"
			delete(j.Spec.Selector.MatchLabels, "batch.kubernetes.io/controller-uid")
		},
			"spec.selector", invalid, "`selector` not auto-generated"},
		{"missing selector", func(j *batchv1.Job) { j.Spec.Selector = nil }, "spec.selector", required, ""},
		{"manual selector misses template", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr.To(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "migrate"}}
		}, "spec.template.metadata.labels", invalid, "`selector` does not match template `labels`"},
	})
}

func TestJobManifest(t *testing.T) {
	manifest := func() *batchv1.Job {
		return defaulted(&batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "report"},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "report", Image: "registry.example.com/report:2"}},
			}}},
		})
	}
	manifestCheck := func(j *batchv1.Job) field.ErrorList { return Validator{Manifest: true}.Validate(j) }
	runCases(t, manifest, manifestCheck, []errCase[*batchv1.Job]{
		{"selector on the uid", func(j *batchv1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"controller-uid": "abc"}}
		}, "spec.selector", invalid, "`selector` not auto-generated"},
		{"selector on other labels", func(j *batchv1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "report"}}
			j.Spec.Template.Labels = map[string]string{"app": "report"}
		}, "spec.selector", invalid, "`selector` not auto-generated"},
		{"restart policy still checked", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			"spec.template.spec.restartPolicy", required, ""},
	})
	byName := manifest()
	byName.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"batch.kubernetes.io/job-name": "report"}}
	expectValid(t, manifestCheck(byName))
	expectError(t, Validate(manifest()), "spec.selector", required, "")
}

func TestJobUpdate(t *testing.T) {
	old := validJob()
	runCases(t, func() *batchv1.Job { return old.DeepCopy() }, func(j *batchv1.Job) field.ErrorList { return ValidateUpdate(j, old) }, []errCase[*batchv1.Job]{
		{"template changed", func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "registry.example.com/shop/migrate:2" },
			"spec.template", invalid, "field is immutable"},
		{"selector changed", func(j *batchv1.Job) { j.Spec.Selector.MatchLabels["batch.kubernetes.io/job-name"] = "migrate" }, "spec.selector", invalid, "field is immutable"},
		{"completions changed", func(j *batchv1.Job) { j.Spec.Completions = ptr.To(int32(2)) }, "spec.completions", invalid, "field is immutable"},
		{"completion mode changed", func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		}, "spec.completionMode", invalid, "field is immutable"},
	})
	scaled := old.DeepCopy()
	scaled.Spec.Parallelism = ptr.To(int32(4))
	scaled.Spec.Suspend = ptr.To(true)
	expectValid(t, ValidateUpdate(scaled, old))

	suspended := validJob()
	suspended.Spec.Suspend = ptr.To(true)
	moved := suspended.DeepCopy()
	moved.Spec.Template.Spec.NodeSelector = map[string]string{"pool": "batch"}
	moved.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "batch", Operator: corev1.TolerationOpExists}}
	expectValid(t, ValidateUpdate(moved, suspended))

	indexed := validJob()
	indexed.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	elastic := indexed.DeepCopy()
	elastic.Spec.Completions, elastic.Spec.Parallelism = ptr.To(int32(5)), ptr.To(int32(5))
	expectValid(t, ValidateUpdate(elastic, indexed))
	elastic.Spec.Parallelism = ptr.To(int32(4))
	expectError(t, ValidateUpdate(elastic, indexed), "spec.completions", invalid, "can only be modified in tandem with spec.parallelism")
}

func TestJobStatusUpdate(t *testing.T) {
	old := validJob()
	old.Status = batchv1.JobStatus{Active: 1, Failed: 2, Succeeded: 1, Ready: ptr.To(int32(1)),
		Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue}}}
	runCases(t, func() *batchv1.Job { return old.DeepCopy() }, func(j *batchv1.Job) field.ErrorList { return ValidateStatusUpdate(j, old) }, []errCase[*batchv1.Job]{
		{"failed decreased", func(j *batchv1.Job) { j.Status.Failed = 1 }, "status.failed", invalid, "cannot decrease the failed counter"},
		{"succeeded decreased", func(j *batchv1.Job) { j.Status.Succeeded = 0 }, "status.succeeded", invalid, ""},
		{"negative active", func(j *batchv1.Job) { j.Status.Active = -1 }, "status.active", invalid, ""},
		{"more ready than active", func(j *batchv1.Job) { j.Status.Ready = ptr.To(int32(2)) }, "status.ready", invalid, ""},
		{"terminal condition dropped", func(j *batchv1.Job) { j.Status.Conditions = nil }, "status.conditions", invalid, "cannot disable the terminal FailureTarget=True condition"},
	})
}
