package kubelet

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStatusPatchCarriesOnlyTheStatusChangeAndTheUID(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1", Labels: map[string]string{"app": "x"}},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}},
	}
	st := *pod.Status.DeepCopy()
	st.Phase, st.PodIP = corev1.PodRunning, "10.0.0.7"
	st.PodIPs = []corev1.PodIP{{IP: "10.0.0.7"}}
	b, err := statusPatch(pod, st)
	if err != nil {
		t.Fatal(err)
	}
	var patch map[string]any
	if err := json.Unmarshal(b, &patch); err != nil {
		t.Fatal(err)
	}
	if uid := patch["metadata"].(map[string]any)["uid"]; uid != "uid-1" {
		t.Errorf("patch precondition uid %v, want uid-1: %s", uid, b)
	}
	if _, ok := patch["spec"]; ok {
		t.Errorf("patch touches the spec: %s", b)
	}
	status := patch["status"].(map[string]any)
	if status["phase"] != "Running" || status["podIP"] != "10.0.0.7" {
		t.Errorf("status patch %s", b)
	}
	if _, ok := status["qosClass"]; ok {
		t.Errorf("unchanged fields are in the patch: %s", b)
	}
}
