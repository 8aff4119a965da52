package server

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestLogContainer(t *testing.T) {
	pod := func(annotation string, names ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
		if annotation != "" {
			p.Annotations = map[string]string{DefaultContainerAnnotation: annotation}
		}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	withInit := pod("", "app", "sidecar")
	withInit.Spec.InitContainers = []corev1.Container{{Name: "setup"}}
	withInit.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}
	cases := []struct {
		name    string
		pod     *corev1.Pod
		asked   string
		want    string
		wantErr string
	}{
		{"the only container", pod("", "app"), "", "app", ""},
		{"named", pod("", "app", "sidecar"), "sidecar", "sidecar", ""},
		{"annotation", pod("sidecar", "app", "sidecar"), "", "sidecar", ""},
		{"annotation naming no container", pod("gone", "app", "sidecar"), "", "", "choose one of: [app sidecar]"},
		{"several without a choice", withInit, "", "", "choose one of: [app sidecar] or one of the init or ephemeral containers: [setup debug]"},
		{"init container", withInit, "setup", "setup", ""},
		{"ephemeral container", withInit, "debug", "debug", ""},
		{"unknown", pod("", "app"), "db", "", "container db is not valid for pod p"},
	}
	for _, c := range cases {
		got, err := logContainer(c.pod, c.asked)
		if c.wantErr != "" {
			if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: got %q, %v; want a bad request containing %q", c.name, got, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestAgentAddress(t *testing.T) {
	node := func(port int32, addrs ...corev1.NodeAddress) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
		n.Status.Addresses = addrs
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = port
		return n
	}
	internal := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}
	external := corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "203.0.113.1"}
	hostname := corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1.local"}
	cases := []struct {
		name     string
		node     *corev1.Node
		wantHost string
		wantPort int
	}{
		{"internal IP first", node(10250, external, hostname, internal), "10.0.0.1", 10250},
		{"then hostname", node(12345, external, hostname), "n1.local", 12345},
		{"then external IP", node(0, external), "203.0.113.1", DefaultKubeletPort},
	}
	for _, c := range cases {
		host, port, err := agentAddress(c.node)
		if err != nil || host != c.wantHost || port != c.wantPort {
			t.Errorf("%s: got %s:%d, %v; want %s:%d", c.name, host, port, err, c.wantHost, c.wantPort)
		}
	}
	if _, _, err := agentAddress(node(10250)); !apierrors.IsBadRequest(err) {
		t.Errorf("node without addresses: %v, want a bad request", err)
	}
}
