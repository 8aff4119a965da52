package kinds

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/store/registry"
)

func TestEveryKindRegistersWithMatchingTableColumns(t *testing.T) {
	reg := registry.New(NewScheme())
	if err := Register(reg); err != nil {
		t.Fatal(err)
	}
	for _, k := range reg.Kinds() {
		if k.Columns == nil {
			continue
		}
		cells := k.Cells(k.New())
		if len(cells) != len(k.Columns) {
			t.Errorf("%s: %d columns but %d cells", k.GVR(), len(k.Columns), len(cells))
		}
	}
	if _, ok := reg.Lookup(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}); !ok {
		t.Fatal("deployments are not served")
	}
	if err := Register(reg); err == nil {
		t.Fatal("registering a kind twice must fail")
	}
}

func TestPodStatusReason(t *testing.T) {
	now := metav1.Now()
	cases := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"phase", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}, "Running"},
		{"waiting container", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}}}, "CrashLoopBackOff"},
		{"init container running", corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{}, {}}}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}, {}}}}, "Init:1/2"},
		{"being deleted", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}, "Terminating"},
	}
	for _, c := range cases {
		if got := PodStatusReason(&c.pod); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}
