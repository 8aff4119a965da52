package validation

import (
	"testing"

	"github.com/berth-io/berth/store/defaults"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkDefaultAndValidatePod measures what admission does to a typical
// pod on create: defaulting, then validation.
func BenchmarkDefaultAndValidatePod(b *testing.B) {
	raw := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", Labels: map[string]string{"app": "web"}}, Spec: webPodSpec()}
	b.ReportAllocs()
	for b.Loop() {
		pod := raw.DeepCopy()
		defaults.Default(pod)
		if errs := Validate(pod); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkValidatePodUpdate measures an image-only update, the common
// pod update.
func BenchmarkValidatePodUpdate(b *testing.B) {
	old := validPod()
	pod := old.DeepCopy()
	pod.Spec.Containers[0].Image = "registry.example.com/shop/web:1.4.3"
	b.ReportAllocs()
	for b.Loop() {
		if errs := ValidateUpdate(pod, old); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
