package agent_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRealPods runs the scenarios against one cluster and agent, in
// parallel pods.
func TestRealPods(t *testing.T) {
	c := startCluster(t)
	t.Run("PodRunsAndAnswersHTTP", func(t *testing.T) { podRunsAndAnswers(t, c) })
}

func podRunsAndAnswers(t *testing.T, c *cluster) {
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "e2e"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: hello, ImagePullPolicy: corev1.PullIfNotPresent,
			Env: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}}}},
	}
	if _, err := c.Admin.CoreV1().Pods("e2e").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitPod(t, c.Admin, "e2e", "hello", 30*time.Second, "running", running)
	var body string
	waitFor(t, 10*time.Second, "an HTTP answer", func() (bool, error) {
		b, err := httpGet("http://" + p.Status.PodIP + ":8080/")
		body = b
		return err == nil, err
	})
	if !strings.Contains(body, "hello from hello") {
		t.Errorf("answer %q, want it to name the pod", body)
	}
}
