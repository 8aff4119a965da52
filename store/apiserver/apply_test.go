package apiserver_test

import (
	"fmt"
	"net/http"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/store/servertest"
)

// TestServerSideApplyRightAfterAWriteTheCacheHasNotSeen: apply decides
// between creating and merging from the watch cache, which may lag etcd.
// An apply right after an object was created or deleted behind the
// server's back (straight in etcd, so the cache learns of it only through
// its watch) must still merge into the stored object (200, its fields
// kept, even when the configuration alone would not be a valid object) or
// create it anew (201), whatever the cache knew.
func TestServerSideApplyRightAfterAWriteTheCacheHasNotSeen(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("apps")
	applied := func(name string) string {
		return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"},"data":{"applied":"yes"}}`
	}
	for i := range 10 {
		name := fmt.Sprintf("cm-%d", i)
		key := "/registry/core/configmaps/apps/" + name
		path := "/api/v1/namespaces/apps/configmaps/" + name + "?fieldManager=test&force=true"

		stored := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", UID: "behind-the-back"}, Data: map[string]string{"etcd": "yes"}}
		if err := s.Store.Create(t.Context(), key, stored); err != nil {
			t.Fatalf("creating %s in etcd: %v", key, err)
		}
		a := raw(t, s, "PATCH", path, apply, applied(name))
		data, _ := a.body["data"].(map[string]any)
		if a.code != http.StatusOK || data["etcd"] != "yes" || data["applied"] != "yes" {
			t.Fatalf("apply to an object created in etcd: %d %v, want 200 with both fields", a.code, a.body)
		}

		// A configuration only valid as a change to the stored object.
		deployment := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", UID: "behind-the-back"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}
		if err := s.Store.Create(t.Context(), "/registry/apps/deployments/apps/"+name, deployment); err != nil {
			t.Fatal(err)
		}
		a = raw(t, s, "PATCH", "/apis/apps/v1/namespaces/apps/deployments/"+name+"?fieldManager=test", apply, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: "+name+"}\nspec: {replicas: 5}\n")
		if spec, _ := a.body["spec"].(map[string]any); a.code != http.StatusOK || spec["replicas"] != 5.0 {
			t.Fatalf("apply of replicas to a deployment created in etcd: %d %v, want 200 with 5 replicas", a.code, a.body)
		}

		if _, err := s.Store.Delete(t.Context(), key, nil, nil); err != nil {
			t.Fatalf("deleting %s in etcd: %v", key, err)
		}
		a = raw(t, s, "PATCH", path, apply, applied(name))
		data, _ = a.body["data"].(map[string]any)
		if a.code != http.StatusCreated || data["etcd"] != nil || data["applied"] != "yes" {
			t.Fatalf("apply to an object deleted in etcd: %d %v, want 201 with the applied field only", a.code, a.body)
		}
	}
}
