package apiserver_test

import (
	"fmt"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/store/servertest"
)

// TestServerSideApplyRightAfterAWriteTheCacheHasNotSeen: apply decides
// between creating and merging from the watch cache, which may lag etcd.
// An apply right after an object was created or deleted behind the
// server's back (straight in etcd, so the cache learns of it only through
// its watch) must still merge into the stored object (200, its fields
// kept) or create it anew (201), whatever the cache knew.
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
