package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func TestDeployment(t *testing.T) {
	runCases(t, validDeployment, func(d *appsv1.Deployment) field.ErrorList { return Validate(d) }, []errCase[*appsv1.Deployment]{
		{"name", func(d *appsv1.Deployment) { d.Name = "web_v2" }, "metadata.name", invalid, ""},
		{"no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil }, "spec.selector", required, ""},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }, "spec.selector", invalid, "empty selector is invalid for deployment"},
		{"selector misses template", func(d *appsv1.Deployment) { d.Spec.Selector.MatchLabels["app"] = "api" }, "spec.template.metadata.labels", invalid,
			"`selector` does not match template `labels`"},
		{"bad selector operator", func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Like"}}
		}, "spec.selector.matchExpressions[0].operator", invalid, ""},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To(int32(-1)) }, "spec.replicas", invalid, "must be greater than or equal to 0"},
		{"restart policy", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, "spec.template.spec.restartPolicy", notSupported,
			`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`},
		{"template deadline", func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To(int64(60)) },
			"spec.template.spec.activeDeadlineSeconds", forbidden, "activeDeadlineSeconds in ReplicaSet is not Supported"},
		{"template container", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" }, "spec.template.spec.containers[0].image", required, ""},
		{"template label", func(d *appsv1.Deployment) { d.Spec.Template.Labels["bad key"] = "x" }, "spec.template.metadata.labels", invalid, ""},
		{"strategy type", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, "spec.strategy.type", notSupported, ""},
		{"recreate with rolling parameters", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			"spec.strategy.rollingUpdate", forbidden, "may not be specified when strategy `type` is 'Recreate'"},
		{"rolling update missing", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate = nil }, "spec.strategy.rollingUpdate", required, ""},
		{"both zero", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("0%"))
		}, "spec.strategy.rollingUpdate.maxUnavailable", invalid, "may not be 0 when `maxSurge` is 0"},
		{"unavailable above 100%", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("110%"))
		},
			"spec.strategy.rollingUpdate.maxUnavailable", invalid, "must not be greater than 100%"},
		{"surge not a percentage", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("half")) },
			"spec.strategy.rollingUpdate.maxSurge", invalid, ""},
		{"negative surge", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(-1)) },
			"spec.strategy.rollingUpdate.maxSurge", invalid, ""},
		{"revision history", func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr.To(int32(-1)) }, "spec.revisionHistoryLimit", invalid, ""},
		{"min ready", func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = -1 }, "spec.minReadySeconds", invalid, ""},
		{"progress deadline not after min ready", func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 600 },
			"spec.progressDeadlineSeconds", invalid, "must be greater than minReadySeconds"},
		{"missing namespace", func(d *appsv1.Deployment) { d.Namespace = "" }, "metadata.namespace", required, ""},
	})
}

func TestDeploymentUpdate(t *testing.T) {
	old := validDeployment()
	runCases(t, func() *appsv1.Deployment { return old.DeepCopy() }, func(d *appsv1.Deployment) field.ErrorList { return ValidateUpdate(d, old) }, []errCase[*appsv1.Deployment]{
		{"selector changed", func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchLabels["tier"] = "frontend"
		}, "spec.selector", invalid, "field is immutable"},
		{"generation decremented", func(d *appsv1.Deployment) { d.Generation = -1 }, "metadata.generation", invalid, ""},
	})
	rollout := old.DeepCopy()
	rollout.Spec.Template.Spec.Containers[0].Image = "registry.example.com/shop/web:1.5.0"
	rollout.Spec.Replicas = ptr.To(int32(10))
	expectValid(t, ValidateUpdate(rollout, old))
}

func TestDeploymentStatusUpdate(t *testing.T) {
	old := validDeployment()
	old.Status = appsv1.DeploymentStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, UpdatedReplicas: 3, CollisionCount: ptr.To(int32(2))}
	runCases(t, func() *appsv1.Deployment { return old.DeepCopy() }, func(d *appsv1.Deployment) field.ErrorList { return ValidateStatusUpdate(d, old) }, []errCase[*appsv1.Deployment]{
		{"ready above replicas", func(d *appsv1.Deployment) { d.Status.ReadyReplicas = 4 }, "status.readyReplicas", invalid, "cannot be greater than status.replicas"},
		{"available above ready", func(d *appsv1.Deployment) { d.Status.ReadyReplicas = 2 }, "status.availableReplicas", invalid, "cannot be greater than readyReplicas"},
		{"negative", func(d *appsv1.Deployment) { d.Status.UnavailableReplicas = -1 }, "status.unavailableReplicas", invalid, ""},
		{"collision count decremented", func(d *appsv1.Deployment) { d.Status.CollisionCount = ptr.To(int32(1)) }, "status.collisionCount", invalid, "cannot be decremented"},
	})
	// A status write does not re-check the spec.
	badSpec := old.DeepCopy()
	badSpec.Spec.Replicas = ptr.To(int32(-3))
	expectValid(t, ValidateStatusUpdate(badSpec, old))
}

func TestReplicaSet(t *testing.T) {
	runCases(t, validReplicaSet, func(rs *appsv1.ReplicaSet) field.ErrorList { return Validate(rs) }, []errCase[*appsv1.ReplicaSet]{
		{"selector misses template", func(rs *appsv1.ReplicaSet) { rs.Spec.Selector.MatchExpressions[0].Values = []string{"api"} },
			"spec.template.metadata.labels", invalid, "`selector` does not match template `labels`"},
		{"no selector", func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = nil }, "spec.selector", required, ""},
		{"negative replicas", func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = ptr.To(int32(-1)) }, "spec.replicas", invalid, ""},
		{"restart policy", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			"spec.template.spec.restartPolicy", notSupported, ""},
	})
	old := validReplicaSet()
	changed := old.DeepCopy()
	changed.Spec.Selector.MatchExpressions[0].Values = []string{"web", "api"}
	expectError(t, ValidateUpdate(changed, old), "spec.selector", invalid, "field is immutable")

	old.Status = appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}
	status := old.DeepCopy()
	status.Status.FullyLabeledReplicas = 3
	expectError(t, ValidateStatusUpdate(status, old), "status.fullyLabeledReplicas", invalid, "cannot be greater than status.replicas")
}
