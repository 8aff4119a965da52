package server

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// appliedDeployment is the configuration manager A applies.
const appliedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.27
`

// appliedWithoutReplicas is A's configuration once A stops caring about replicas.
var appliedWithoutReplicas = strings.Replace(appliedDeployment, "  replicas: 2\n", "", 1)

const replicasOnly = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 5
`

func TestServerSideApplyConflictsBetweenManagers(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "ssa")
	deployments := ts.client.AppsV1().Deployments("ssa")
	apply := func(manager, config string, force bool) (*appsv1.Deployment, error) {
		return deployments.Patch(ctx, "web", types.ApplyPatchType, []byte(config), metav1.PatchOptions{FieldManager: manager, Force: ptr.To(force)})
	}

	created, err := apply("manager-a", appliedDeployment, false)
	if err != nil {
		t.Fatalf("A's first apply: %v", err)
	}
	if *created.Spec.Replicas != 2 || created.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Fatalf("A's apply created replicas %d strategy %q", *created.Spec.Replicas, created.Spec.Strategy.Type)
	}

	_, err = apply("manager-b", replicasOnly, false)
	if !apierrors.IsConflict(err) {
		t.Fatalf("B applying another replicas: want 409 Conflict, got %v", err)
	}
	status := err.(apierrors.APIStatus).Status()
	if !strings.Contains(status.Message, `conflict with "manager-a"`) || !strings.Contains(status.Message, ".spec.replicas") {
		t.Errorf("the conflict does not name A and .spec.replicas: %q", status.Message)
	}
	if status.Details == nil || len(status.Details.Causes) != 1 || status.Details.Causes[0].Field != ".spec.replicas" || status.Details.Causes[0].Type != metav1.CauseTypeFieldManagerConflict {
		t.Errorf("want one FieldManagerConflict cause on .spec.replicas, got %+v", status.Details)
	}
	if got, _ := deployments.Get(ctx, "web", metav1.GetOptions{}); *got.Spec.Replicas != 2 || got.ResourceVersion != created.ResourceVersion {
		t.Fatalf("the conflicting apply changed the object: replicas %d rv %s→%s", *got.Spec.Replicas, created.ResourceVersion, got.ResourceVersion)
	}

	forced, err := apply("manager-b", replicasOnly, true)
	if err != nil || *forced.Spec.Replicas != 5 {
		t.Fatalf("B's forced apply: %v", err)
	}
	owned := fieldsByManager(t, forced.ManagedFields)
	if !owned["manager-b"]["f:spec"]["f:replicas"] {
		t.Errorf("B does not own spec.replicas: %v", owned["manager-b"])
	}
	if owned["manager-a"]["f:spec"]["f:replicas"] || !owned["manager-a"]["f:spec"]["f:template"] || !owned["manager-a"]["f:spec"]["f:selector"] {
		t.Errorf("A should keep template and selector and lose replicas: %v", owned["manager-a"])
	}

	reapplied, err := apply("manager-a", appliedWithoutReplicas, false)
	if err != nil {
		t.Fatalf("A's apply without replicas: %v", err)
	}
	if *reapplied.Spec.Replicas != 5 {
		t.Errorf("A dropping replicas it no longer owns reset them: %d", *reapplied.Spec.Replicas)
	}
	if c := reapplied.Spec.Template.Spec.Containers; len(c) != 1 || c[0].Image != "nginx:1.27" {
		t.Errorf("A's containers changed: %+v", c)
	}
	if owned := fieldsByManager(t, reapplied.ManagedFields); !owned["manager-b"]["f:spec"]["f:replicas"] {
		t.Errorf("B lost spec.replicas: %v", owned)
	}

	// Removing a field one owns alone removes it from the object.
	unlabelled := strings.Replace(appliedWithoutReplicas, "  labels: {app: web}\nspec:", "spec:", 1)
	if got, err := apply("manager-a", unlabelled, false); err != nil || len(got.Labels) != 0 {
		t.Fatalf("A dropping its label: %v labels %v", err, got.Labels)
	}
}

// fieldsByManager reads managedFields as manager → top-level field →
// second-level fields owned (f:spec → f:replicas); Apply entries only.
func fieldsByManager(t *testing.T, entries []metav1.ManagedFieldsEntry) map[string]map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]map[string]bool{}
	for _, e := range entries {
		if e.Operation != metav1.ManagedFieldsOperationApply || e.FieldsV1 == nil {
			continue
		}
		var tree map[string]map[string]json.RawMessage
		if err := json.Unmarshal(e.FieldsV1.Raw, &tree); err != nil {
			t.Fatalf("managedFields of %s: %v", e.Manager, err)
		}
		byTop := map[string]map[string]bool{}
		for top, children := range tree {
			byTop[top] = map[string]bool{}
			for child := range children {
				byTop[top][child] = true
			}
		}
		out[e.Manager] = byTop
	}
	return out
}

func TestStrategicMergePatchMergesContainersByName(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "smp")
	deployments := ts.client.AppsV1().Deployments("smp")
	if _, err := deployments.Create(ctx, testDeployment("web", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		patch string
		want  []corev1.Container
	}{
		{"adding a container keeps the others",
			`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}`,
			[]corev1.Container{{Name: "sidecar", Image: "busybox"}, {Name: "app", Image: "nginx:1.27"}}},
		{"changing one container by name leaves the other",
			`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}}}`,
			[]corev1.Container{{Name: "sidecar", Image: "busybox"}, {Name: "app", Image: "nginx:1.28"}}},
		{"$patch: delete removes one container",
			`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}`,
			[]corev1.Container{{Name: "app", Image: "nginx:1.28"}}},
	}
	for _, step := range steps {
		got, err := deployments.Patch(ctx, "web", types.StrategicMergePatchType, []byte(step.patch), metav1.PatchOptions{})
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if !sameContainers(got.Spec.Template.Spec.Containers, step.want) {
			t.Fatalf("%s: containers %+v, want %+v", step.name, got.Spec.Template.Spec.Containers, step.want)
		}
	}
	stored, err := deployments.Get(ctx, "web", metav1.GetOptions{})
	if err != nil || !sameContainers(stored.Spec.Template.Spec.Containers, steps[len(steps)-1].want) {
		t.Fatalf("stored containers differ from the patch answers: %v %+v", err, stored.Spec.Template.Spec.Containers)
	}
	if stored.Spec.Template.Spec.Containers[0].TerminationMessagePath == "" {
		t.Errorf("patched containers were not defaulted")
	}

	bad := `{"spec":{"template":{"spec":{"containers":{"name":"not-a-list"}}}}}`
	if _, err := deployments.Patch(ctx, "web", types.StrategicMergePatchType, []byte(bad), metav1.PatchOptions{}); !apierrors.IsBadRequest(err) && !apierrors.IsInvalid(err) {
		t.Fatalf("a patch that makes containers an object: want 400 or 422, got %v", err)
	}
}

func sameContainers(got, want []corev1.Container) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Name != want[i].Name || got[i].Image != want[i].Image {
			return false
		}
	}
	return true
}

func TestServerSideApplyTakesTheNameFromTheURL(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "ssa-name")
	cms := ts.client.CoreV1().ConfigMaps("ssa-name")
	for _, step := range []string{"create", "update"} {
		config := "apiVersion: v1\nkind: ConfigMap\ndata: {step: " + step + "}\n"
		got, err := cms.Patch(ctx, "unnamed", types.ApplyPatchType, []byte(config), metav1.PatchOptions{FieldManager: "m"})
		if err != nil || got.Name != "unnamed" || got.Data["step"] != step {
			t.Fatalf("%s by an apply without metadata.name: %v %+v", step, err, got)
		}
	}
}
