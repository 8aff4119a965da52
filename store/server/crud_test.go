package server

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

func TestClientGoCRUDOverProtobufAndJSON(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	for _, contentType := range []string{"application/vnd.kubernetes.protobuf", "application/json"} {
		t.Run(contentType, func(t *testing.T) {
			config := *ts.config
			config.ContentType = contentType
			client := kubernetes.NewForConfigOrDie(&config)
			ctx := ctxT(t)
			ns := "crud-" + strings.ReplaceAll(strings.TrimPrefix(contentType, "application/"), ".", "-")
			ts.makeNamespace(t, ns)
			cms := client.CoreV1().ConfigMaps(ns)

			created, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: map[string]string{"tier": "web"}}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if created.UID == "" || created.ResourceVersion == "" || created.CreationTimestamp.IsZero() {
				t.Fatalf("server-owned fields missing: %+v", created.ObjectMeta)
			}
			if len(created.ManagedFields) == 0 {
				t.Fatalf("no managedFields recorded on create")
			}
			if _, err := cms.Create(ctx, created, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) && !apierrors.IsBadRequest(err) {
				t.Fatalf("second create: want AlreadyExists, got %v", err)
			}
			again := created.DeepCopy()
			again.ResourceVersion = ""
			if _, err := cms.Create(ctx, again, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
				t.Fatalf("duplicate create: want AlreadyExists, got %v", err)
			}

			got, err := cms.Get(ctx, "app", metav1.GetOptions{})
			if err != nil || got.Data["k"] != "v" {
				t.Fatalf("get: %v %+v", err, got)
			}
			got.Data["k"] = "v2"
			updated, err := cms.Update(ctx, got, metav1.UpdateOptions{})
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if updated.ResourceVersion == got.ResourceVersion {
				t.Fatalf("update did not change resourceVersion")
			}
			stale := got.DeepCopy()
			stale.Data["k"] = "stale"
			if _, err := cms.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
				t.Fatalf("stale update: want Conflict, got %v", err)
			}

			if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-"}}, metav1.CreateOptions{}); err != nil {
				t.Fatalf("generateName create: %v", err)
			}
			list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "tier=web"})
			if err != nil || len(list.Items) != 1 || list.Items[0].Name != "app" {
				t.Fatalf("label-selected list: %v %+v", err, list)
			}
			all, err := cms.List(ctx, metav1.ListOptions{})
			if err != nil || len(all.Items) != 2 {
				t.Fatalf("list: want 2 objects, got %v %d", err, len(all.Items))
			}
			if !strings.HasPrefix(all.Items[1].Name, "gen-") || len(all.Items[1].Name) != len("gen-")+5 {
				t.Fatalf("generated name %q", all.Items[1].Name)
			}

			patched, err := cms.Patch(ctx, "app", types.MergePatchType, []byte(`{"data":{"added":"yes"}}`), metav1.PatchOptions{})
			if err != nil || patched.Data["added"] != "yes" || patched.Data["k"] != "v2" {
				t.Fatalf("merge patch: %v %+v", err, patched)
			}
			patched, err = cms.Patch(ctx, "app", types.JSONPatchType, []byte(`[{"op":"remove","path":"/data/added"}]`), metav1.PatchOptions{})
			if err != nil || patched.Data["added"] != "" {
				t.Fatalf("json patch: %v %+v", err, patched)
			}

			if err := cms.Delete(ctx, "app", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID("wrong"))}}); !apierrors.IsConflict(err) {
				t.Fatalf("delete with wrong uid precondition: want Conflict, got %v", err)
			}
			if err := cms.Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, err := cms.Get(ctx, "app", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("get after delete: want NotFound, got %v", err)
			}
			if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
				t.Fatalf("deletecollection: %v", err)
			}
			if left, _ := cms.List(ctx, metav1.ListOptions{}); len(left.Items) != 0 {
				t.Fatalf("deletecollection left %d objects", len(left.Items))
			}
		})
	}
}

func TestPagingWithLimitAndContinue(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "paging")
	for i := 0; i < 7; i++ {
		if _, err := ts.client.CoreV1().ConfigMaps("paging").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "cm-"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	opts := metav1.ListOptions{Limit: 3}
	pages := 0
	for {
		page, err := ts.client.CoreV1().ConfigMaps("paging").List(ctx, opts)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		for _, cm := range page.Items {
			if seen[cm.Name] {
				t.Fatalf("%s returned twice", cm.Name)
			}
			seen[cm.Name] = true
		}
		if page.Continue == "" {
			break
		}
		opts.Continue = page.Continue
	}
	if pages != 3 || len(seen) != 7 {
		t.Fatalf("want 7 objects in 3 pages, got %d in %d", len(seen), pages)
	}
}
