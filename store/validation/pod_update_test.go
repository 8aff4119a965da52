package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func TestPodUpdate(t *testing.T) {
	allowed := []struct {
		name   string
		mutate func(*corev1.Pod)
	}{
		{"nothing", func(*corev1.Pod) {}},
		{"container image", func(p *corev1.Pod) { c0(p).Image = "registry.example.com/shop/web:1.4.3" }},
		{"init container image", func(p *corev1.Pod) { p.Spec.InitContainers[0].Image = "registry.example.com/shop/migrate:2" }},
		{"labels", func(p *corev1.Pod) { p.Labels["release"] = "canary" }},
		{"added toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "spot", Operator: corev1.TolerationOpExists})
		}},
		{"toleration seconds", func(p *corev1.Pod) { p.Spec.Tolerations[1].TolerationSeconds = ptr.To(int64(30)) }},
		{"shorter deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(60)) }},
	}
	for _, tc := range allowed {
		t.Run(tc.name, func(t *testing.T) {
			old := validPod()
			pod := old.DeepCopy()
			tc.mutate(pod)
			expectValid(t, ValidateUpdate(pod, old))
		})
	}

	old := validPod()
	old.Spec.ActiveDeadlineSeconds = ptr.To(int64(100))
	rejected := []errCase[*corev1.Pod]{
		{"port change", func(p *corev1.Pod) { c0(p).Ports[0].ContainerPort = 8081 }, "spec", forbidden,
			"pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"},
		{"added container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "sidecar", Image: "x", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"})
		}, "spec.containers", forbidden, "pod updates may not add or remove containers"},
		{"longer deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To(int64(200)) }, "spec.activeDeadlineSeconds", invalid,
			"must be less than or equal to previous value"},
		{"deadline removed", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil }, "spec.activeDeadlineSeconds", invalid,
			"must not update from a positive integer to nil value"},
		{"toleration changed", func(p *corev1.Pod) { p.Spec.Tolerations[0].Value = "api" }, "spec.tolerations", forbidden,
			"existing toleration can not be modified except its tolerationSeconds"},
		{"renamed", func(p *corev1.Pod) { p.Name = "web-1" }, "metadata.name", invalid, "field is immutable"},
		{"uid changed", func(p *corev1.Pod) { p.UID = "other" }, "metadata.uid", invalid, "field is immutable"},
		{"image removed", func(p *corev1.Pod) { c0(p).Image = "" }, "spec.containers[0].image", required, ""},
		{"new scheduling gate", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/gate"}} },
			"spec.schedulingGates[0].name", forbidden, "only deletion is allowed"},
		{"mirror annotation added", func(p *corev1.Pod) { p.Annotations["kubernetes.io/config.mirror"] = "x"; p.Spec.NodeName = "n" },
			"metadata.annotations[kubernetes.io/config.mirror]", forbidden, ""},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			pod := old.DeepCopy()
			tc.mutate(pod)
			expectError(t, ValidateUpdate(pod, old), tc.field, tc.typ, tc.detail)
		})
	}
}

func TestPodUpdateShowsTheDiff(t *testing.T) {
	old := validPod()
	pod := old.DeepCopy()
	c0(pod).WorkingDir = "/srv"
	errs := ValidateUpdate(pod, old)
	if len(errs) != 1 || !strings.Contains(errs[0].Detail, `WorkingDir: "/srv"`) {
		t.Errorf("want one error whose detail shows the change, got %v", errs)
	}
}

func TestPodUpdateNegativeGracePeriod(t *testing.T) {
	old := validPod()
	old.Spec.TerminationGracePeriodSeconds = ptr.To(int64(-1))
	pod := old.DeepCopy()
	pod.Spec.TerminationGracePeriodSeconds = ptr.To(int64(1))
	for _, e := range ValidateUpdate(pod, old) {
		if e.Field == "spec" {
			t.Errorf("setting a negative grace period to 1 must be allowed: %v", e)
		}
	}
	pod.Spec.TerminationGracePeriodSeconds = ptr.To(int64(5))
	expectError(t, ValidateUpdate(pod, old), "spec", forbidden, "")
}

func TestGatedPodMayGainNodeSelector(t *testing.T) {
	old := validPod()
	old.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/quota"}}
	pod := old.DeepCopy()
	pod.Spec.NodeSelector["disk"] = "ssd"
	pod.Spec.SchedulingGates = nil
	expectValid(t, ValidateUpdate(pod, old))
	pod.Spec.NodeSelector["kubernetes.io/os"] = "windows"
	expectError(t, ValidateUpdate(pod, old), "spec.nodeSelector", invalid, "only additions")
}

func TestPodStatusUpdate(t *testing.T) {
	base := func() *corev1.Pod {
		p := validPod()
		p.Spec.NodeName = "node-1"
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable, HostIP: "10.0.0.5",
			HostIPs: []corev1.HostIP{{IP: "10.0.0.5"}}, PodIPs: []corev1.PodIP{{IP: "10.244.1.7"}, {IP: "fd00::7"}}}
		return p
	}
	runCases(t, base, func(p *corev1.Pod) field.ErrorList { return ValidateStatusUpdate(p, base()) }, []errCase[*corev1.Pod]{
		{"node changed", func(p *corev1.Pod) { p.Spec.NodeName = "node-2" }, "status.nodeName", forbidden, "may not be changed directly"},
		{"qos changed", func(p *corev1.Pod) { p.Status.QOSClass = corev1.PodQOSGuaranteed }, "status.qosClass", invalid, "field is immutable"},
		{"pod IP", func(p *corev1.Pod) { p.Status.PodIPs[0].IP = "10.244.1" }, "status.podIPs[0]", invalid, ""},
		{"two IPv4 pod IPs", func(p *corev1.Pod) { p.Status.PodIPs[1].IP = "10.244.1.8" }, "status.podIPs", invalid, "no more than one IP for each IP family"},
		{"host IP mismatch", func(p *corev1.Pod) { p.Status.HostIP = "10.0.0.6" }, "status.hostIPs[0].ip", invalid, "must be equal to `hostIP`"},
		{"condition type", func(p *corev1.Pod) { p.Status.Conditions = []corev1.PodCondition{{Type: "bad type", Status: "True"}} },
			"status.conditions[0].type", invalid, ""},
	})

	old := base()
	old.Spec.RestartPolicy = corev1.RestartPolicyNever
	old.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "web", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}}
	pod := old.DeepCopy()
	pod.Status.ContainerStatuses[0].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	expectError(t, ValidateStatusUpdate(pod, old), "status.containerStatuses[0].state", forbidden, "may not be transitioned to non-terminated state")
}
