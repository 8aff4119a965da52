package informer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

func TestStripManagedFieldsKeepsEverythingElse(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}, Spec: corev1.PodSpec{NodeName: "n"}}
	out, err := StripManagedFields(pod)
	got := out.(*corev1.Pod)
	if err != nil || got.ManagedFields != nil || got.Labels["a"] != "b" || got.Spec.NodeName != "n" {
		t.Fatalf("strip: %v %+v", err, got)
	}
	gone := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "q", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "x"}}}}
	out, _ = StripManagedFields(cache.DeletedFinalStateUnknown{Key: "ns/q", Obj: gone})
	if _, ok := out.(cache.DeletedFinalStateUnknown); !ok || gone.ManagedFields != nil {
		t.Fatalf("a tombstone stays a tombstone and its object is stripped: %T %+v", out, gone.ManagedFields)
	}
}
