package diff

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func rule(verbs, groups, resources []string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

func TestPermissionDelta(t *testing.T) {
	deploy := []string{"deployments"}
	apps := []string{"apps"}
	for _, tc := range []struct {
		name                                 string
		base, head, clusterBase, clusterHead []rbacv1.PolicyRule
		want                                 []string
	}{
		{name: "same rules written differently", base: []rbacv1.PolicyRule{rule([]string{"get", "list"}, apps, deploy)},
			head: []rbacv1.PolicyRule{rule([]string{"list"}, apps, deploy), rule([]string{"get"}, apps, deploy)}},
		{name: "a verb added and one removed", base: []rbacv1.PolicyRule{rule([]string{"get", "delete"}, apps, deploy)},
			head: []rbacv1.PolicyRule{rule([]string{"get", "create", "update"}, apps, deploy)},
			want: []string{"s gains create, update on deployments.apps in namespace ns", "s loses delete on deployments.apps in namespace ns"}},
		{name: "a narrower rule under a wildcard is no gain", base: []rbacv1.PolicyRule{rule([]string{"*"}, []string{"*"}, []string{"*"})},
			head: []rbacv1.PolicyRule{rule([]string{"*"}, []string{"*"}, []string{"*"}), rule([]string{"get"}, apps, []string{"deployments/scale"})}},
		{name: "a wildcard narrowed is lost", base: []rbacv1.PolicyRule{rule([]string{"*"}, apps, deploy)},
			head: []rbacv1.PolicyRule{rule([]string{"get"}, apps, deploy)},
			want: []string{"s loses * on deployments.apps in namespace ns"}},
		{name: "subresources and named resources", base: nil,
			head: []rbacv1.PolicyRule{rule([]string{"get"}, []string{""}, []string{"pods/log"}), {Verbs: []string{"update"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a", "b"}}},
			want: []string{"s gains update on configmaps named a, b in namespace ns", "s gains get on pods/log in namespace ns"}},
		{name: "what the cluster-wide rules grant is reported there", base: nil,
			head:        []rbacv1.PolicyRule{rule([]string{"get"}, apps, deploy)},
			clusterHead: []rbacv1.PolicyRule{rule([]string{"get"}, apps, deploy)}, clusterBase: []rbacv1.PolicyRule{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range permissionDelta("s", "ns", tc.base, tc.head, tc.clusterBase, tc.clusterHead) {
				got = append(got, c.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestWorkloadChange(t *testing.T) {
	template := func(cpu string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("100Mi")}}}}}}
	}
	deployment := func(replicas int32, cpu string) *appsv1.Deployment {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Template: template(cpu)}}
	}
	job := func(parallelism, completions int32) *batchv1.Job {
		return &batchv1.Job{Spec: batchv1.JobSpec{Parallelism: ptr.To(parallelism), Completions: ptr.To(completions), Template: template("1")}}
	}
	for _, tc := range []struct {
		name          string
		before, after k8sruntime.Object
		ok            bool
		cpu, mem      string
		newPods       int32
		podsB, podsA  int32
	}{
		{name: "scaled up", before: deployment(2, "100m"), after: deployment(5, "100m"), ok: true, cpu: "+300m", mem: "+300Mi", newPods: 3, podsB: 2, podsA: 5},
		{name: "scaled down", before: deployment(5, "100m"), after: deployment(2, "100m"), ok: true, cpu: "-300m", mem: "-300Mi", podsB: 5, podsA: 2},
		{name: "requests raised: every pod is replaced", before: deployment(2, "100m"), after: deployment(2, "200m"), ok: true, cpu: "+200m", mem: "0", newPods: 2, podsB: 2, podsA: 2},
		{name: "added", after: deployment(1, "1"), ok: true, cpu: "+1", mem: "+100Mi", newPods: 1, podsA: 1},
		{name: "deleted", before: deployment(3, "1"), ok: true, cpu: "-3", mem: "-300Mi", podsB: 3},
		{name: "unchanged", before: deployment(3, "1"), after: deployment(3, "1")},
		{name: "a Job runs parallelism pods, at most its completions", before: job(4, 2), after: job(4, 3), ok: true, cpu: "+1", mem: "+100Mi", newPods: 1, podsB: 2, podsA: 3},
		{name: "no workload", before: &corev1.ConfigMap{}, after: &corev1.ConfigMap{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, ok := workloadChange("x", tc.before, tc.after)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v: %+v", ok, tc.ok, w)
			}
			if ok && (w.CPU != tc.cpu || w.Memory != tc.mem || w.newPods != tc.newPods || w.PodsBefore != tc.podsB || w.PodsAfter != tc.podsA) {
				t.Errorf("got %s CPU %s memory, %d new pods, %d → %d; want %s %s %d %d → %d", w.CPU, w.Memory, w.newPods, w.PodsBefore, w.PodsAfter, tc.cpu, tc.mem, tc.newPods, tc.podsB, tc.podsA)
			}
		})
	}
}
