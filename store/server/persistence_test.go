package server

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berth-io/berth/store/snapshot"
)

// identity is what must survive a restart: which object, at which version.
type identity struct {
	uid, resourceVersion string
}

// seed creates a namespace with a ConfigMap, a Deployment and a Service
// and returns the identity of each by "kind/name".
func seed(t *testing.T, ts *testServer, ns string) map[string]identity {
	t.Helper()
	ctx := ctxT(t)
	ts.makeNamespace(t, ns)
	cm, err := ts.client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"mode": "fast"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deploy, err := ts.client.AppsV1().Deployments(ns).Create(ctx, testDeployment("web", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := ts.client.CoreV1().Services(ns).Create(ctx, nodePortService("web", "10.96.10.10", 30010), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]identity{
		"configmap/settings": {string(cm.UID), cm.ResourceVersion},
		"deployment/web":     {string(deploy.UID), deploy.ResourceVersion},
		"service/web":        {string(svc.UID), svc.ResourceVersion},
	}
}

// observe reads back what seed created.
func observe(t *testing.T, ts *testServer, ns string) map[string]identity {
	t.Helper()
	ctx := ctxT(t)
	out := map[string]identity{}
	cm, err := ts.client.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ConfigMap: %v", err)
	}
	if cm.Data["mode"] != "fast" {
		t.Errorf("ConfigMap data %v", cm.Data)
	}
	out["configmap/settings"] = identity{string(cm.UID), cm.ResourceVersion}
	deploy, err := ts.client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Deployment: %v", err)
	}
	if *deploy.Spec.Replicas != 3 {
		t.Errorf("Deployment replicas %d", *deploy.Spec.Replicas)
	}
	out["deployment/web"] = identity{string(deploy.UID), deploy.ResourceVersion}
	svc, err := ts.client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Service: %v", err)
	}
	if svc.Spec.ClusterIP != "10.96.10.10" || svc.Spec.Ports[0].NodePort != 30010 {
		t.Errorf("Service addresses %s:%d", svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort)
	}
	out["service/web"] = identity{string(svc.UID), svc.ResourceVersion}
	return out
}

func sameIdentities(t *testing.T, want, got map[string]identity) {
	t.Helper()
	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s: want uid %s rv %s, got uid %s rv %s", key, w.uid, w.resourceVersion, got[key].uid, got[key].resourceVersion)
		}
	}
}

// addressesStillHeld checks that the restored allocations still refuse a
// second Service on the seeded ClusterIP and NodePort.
func addressesStillHeld(t *testing.T, ts *testServer, ns string) {
	t.Helper()
	ctx := ctxT(t)
	_, err := ts.client.CoreV1().Services(ns).Create(ctx, nodePortService("copy", "10.96.10.10", 0), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("ClusterIP 10.96.10.10 was forgotten: %v", err)
	}
	_, err = ts.client.CoreV1().Services(ns).Create(ctx, nodePortService("copy", "", 30010), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided port is already allocated") {
		t.Errorf("NodePort 30010 was forgotten: %v", err)
	}
}

func TestObjectsSurviveARestartOnTheSameDataDir(t *testing.T) {
	dir := t.TempDir()
	opts := freeOptions()
	opts.DataDir = dir
	first := startTestServer(t, opts)
	want := seed(t, first, "keep")
	first.Stop()

	second := startTestServer(t, opts)
	sameIdentities(t, want, observe(t, second, "keep"))
	addressesStillHeld(t, second, "keep")

	// Writes continue from the stored revision.
	cm, err := second.client.CoreV1().ConfigMaps("keep").Create(ctxT(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if revision(t, cm.ResourceVersion) <= revision(t, want["service/web"].resourceVersion) {
		t.Errorf("a write after the restart got resourceVersion %s, not after %s", cm.ResourceVersion, want["service/web"].resourceVersion)
	}
}

func TestSnapshotRestoresObjectsIntoANewDataDir(t *testing.T) {
	source := startTestServer(t, freeOptions())
	want := seed(t, source, "saved")
	file := filepath.Join(t.TempDir(), "berth.db")
	info, err := snapshot.Save(ctxT(t), clientv3.Config{Endpoints: source.Etcd.Endpoints()}, file)
	if err != nil {
		t.Fatalf("saving a snapshot of %v: %v", source.Etcd.Endpoints(), err)
	}
	if info.Revision < revision(t, want["service/web"].resourceVersion) || info.Keys == 0 {
		t.Fatalf("snapshot at revision %d with %d keys misses the seeded objects", info.Revision, info.Keys)
	}
	// Written after the snapshot: must not appear in the restore.
	if _, err := source.client.CoreV1().ConfigMaps("saved").Create(ctxT(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "later"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	if err := snapshot.Restore(file, dir); err != nil {
		t.Fatalf("restore: %v", err)
	}
	opts := freeOptions()
	opts.DataDir = dir
	restored := startTestServer(t, opts)
	sameIdentities(t, want, observe(t, restored, "saved"))
	addressesStillHeld(t, restored, "saved")
	ctx := ctxT(t)
	if _, err := restored.client.CoreV1().ConfigMaps("saved").Get(ctx, "later", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an object written after the snapshot was restored: %v", err)
	}

	// Revisions jump past anything a client saw before the restore, and
	// watches from before it answer 410 Gone.
	cm, err := restored.client.CoreV1().ConfigMaps("saved").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "fresh"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if revision(t, cm.ResourceVersion) <= snapshot.RevisionBump {
		t.Errorf("a write after the restore got resourceVersion %s, not past the bump of %d", cm.ResourceVersion, snapshot.RevisionBump)
	}
	w, err := restored.client.CoreV1().ConfigMaps("saved").Watch(ctx, metav1.ListOptions{ResourceVersion: want["configmap/settings"].resourceVersion})
	if err == nil {
		defer w.Stop()
		ev, ok := <-w.ResultChan()
		if !ok || ev.Type != watch.Error {
			t.Fatalf("a watch from before the restore: want an ERROR event, got %v %+v", ok, ev)
		}
		err = apierrors.FromObject(ev.Object)
	}
	if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("a watch from before the restore: want 410 Expired, got %v", err)
	}
}

func revision(t *testing.T, rv string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q is not a number", rv)
	}
	return n
}
