package replicaset

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodFromTemplate(t *testing.T) {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", Namespace: "ns", UID: "rs-uid"},
		Spec: appsv1.ReplicaSetSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"a": "b"}, Finalizers: []string{"x/y"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		}},
	}
	p, err := podFromTemplate(rs)
	if err != nil {
		t.Fatal(err)
	}
	if p.GenerateName != "web-5d8f-" || p.Namespace != "ns" || p.Labels["app"] != "web" || p.Annotations["a"] != "b" || p.Finalizers[0] != "x/y" || p.Spec.Containers[0].Image != "nginx" {
		t.Fatalf("pod does not follow the template: %+v", p)
	}
	ref := metav1.GetControllerOf(p)
	if ref == nil || ref.UID != "rs-uid" || ref.Kind != "ReplicaSet" || ref.APIVersion != "apps/v1" || !*ref.BlockOwnerDeletion {
		t.Fatalf("controller reference = %+v", ref)
	}
	p.Labels["app"] = "changed"
	if rs.Spec.Template.Labels["app"] != "web" {
		t.Fatal("the pod shares its labels map with the template")
	}

	rs.Spec.Template.Labels = nil
	if _, err := podFromTemplate(rs); err == nil || !strings.Contains(err.Error(), "spec.template.metadata.labels") {
		t.Fatalf("a template without labels: err = %v", err)
	}
}

func TestNamePrefix(t *testing.T) {
	long := strings.Repeat("a", 253)
	cases := map[string]string{"web": "web-", long: long, strings.Repeat("b", 252): strings.Repeat("b", 252) + "-"}
	for name, want := range cases {
		if got := namePrefix(name); got != want {
			t.Errorf("namePrefix(%d chars) = %d chars, want %d", len(name), len(got), len(want))
		}
	}
}
