package kinds_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// TestGitSourceServed checks the API server serves GitSources as kubectl
// uses them: server-side apply with defaults, the status subresource (as
// gitsync's identity), validation errors and the kubectl table.
func TestGitSourceServed(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("apps")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := rest.CopyConfig(s.AdminConfig)
	cfg.ContentType = "application/json"
	dyn := dynamic.NewForConfigOrDie(cfg)
	res := dyn.Resource(berthv1alpha1.GitSourcesResource).Namespace("apps")

	apply := []byte(`{"apiVersion":"berth.io/v1alpha1","kind":"GitSource","metadata":{"name":"site"},"spec":{"url":"/srv/site","ref":"main"}}`)
	got, err := res.Patch(ctx, "site", types.ApplyPatchType, apply, metav1.PatchOptions{FieldManager: "kubectl"})
	if err != nil {
		t.Fatalf("server-side apply: %v", err)
	}
	var gs berthv1alpha1.GitSource
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, &gs); err != nil {
		t.Fatal(err)
	}
	if !gs.Spec.PruneEnabled() || gs.Spec.LiveBranch != "berth/live" || gs.Spec.Interval == nil || gs.Spec.Interval.Duration != time.Minute || gs.Spec.ServiceAccountName != "default" {
		t.Fatalf("defaults missing: %+v", gs.Spec)
	}
	if len(got.GetManagedFields()) == 0 {
		t.Fatal("no managedFields after server-side apply")
	}

	// Re-applying with a change updates it; a field the manifest drops is removed.
	apply2 := []byte(`{"apiVersion":"berth.io/v1alpha1","kind":"GitSource","metadata":{"name":"site"},"spec":{"url":"/srv/site","ref":"prod","suspend":true}}`)
	if got, err = res.Patch(ctx, "site", types.ApplyPatchType, apply2, metav1.PatchOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if ref, _, _ := unstructured.NestedString(got.Object, "spec", "ref"); ref != "prod" {
		t.Fatalf("ref = %q after re-apply", ref)
	}

	// gitsync writes status through the subresource.
	sync := dynamic.NewForConfigOrDie(withJSON(s.ConfigAs(server.GitSyncUser))).Resource(berthv1alpha1.GitSourcesResource).Namespace("apps")
	status := map[string]any{"apiVersion": "berth.io/v1alpha1", "kind": "GitSource", "metadata": map[string]any{"name": "site"},
		"status": map[string]any{"lastAppliedCommit": "0123456789abcdef", "health": "Healthy",
			"conditions": []any{map[string]any{"type": "Ready", "status": "True", "reason": "Synced", "message": "applied 0123456", "lastTransitionTime": "2026-01-01T00:00:00Z"}}}}
	body, _ := json.Marshal(status)
	if _, err := sync.Patch(ctx, "site", types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "berth-gitsync", Force: ptr(true)}, "status"); err != nil {
		t.Fatalf("status apply as gitsync: %v", err)
	}
	if _, err := sync.Patch(ctx, "site", types.MergePatchType, []byte(`{"spec":{"ref":"x"}}`), metav1.PatchOptions{}); err == nil {
		t.Fatal("gitsync may change a GitSource's spec")
	}

	// Invalid specs are refused with the field named.
	bad := []byte(`{"apiVersion":"berth.io/v1alpha1","kind":"GitSource","metadata":{"name":"bad"},"spec":{"url":"relative/dir"}}`)
	if _, err := res.Patch(ctx, "bad", types.ApplyPatchType, bad, metav1.PatchOptions{FieldManager: "kubectl"}); err == nil || !strings.Contains(err.Error(), "spec.url") {
		t.Fatalf("invalid url accepted or not named: %v", err)
	}

	// kubectl get's table.
	var table metav1.Table
	err = s.Admin.CoreV1().RESTClient().Get().AbsPath("/apis/berth.io/v1alpha1/namespaces/apps/gitsources").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(ctx).Into(&table)
	if err != nil {
		t.Fatalf("table: %v", err)
	}
	if len(table.Rows) != 1 || len(table.Rows[0].Cells) != len(table.ColumnDefinitions) {
		t.Fatalf("table rows: %+v", table)
	}
	cells := table.Rows[0].Cells
	if cells[0] != "site" || cells[2] != "prod" || cells[3] != "0123456" || cells[4] != "True" || cells[6] != "Healthy" {
		t.Fatalf("table cells: %v", cells)
	}
}

func withJSON(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	c.ContentType = "application/json"
	return c
}

func ptr[T any](v T) *T { return &v }
