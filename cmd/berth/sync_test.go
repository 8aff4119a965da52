package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync"
	"github.com/berth-io/berth/reconciler/gitsync/gittest"
	"github.com/berth-io/berth/store/server"
)

func TestJudgeSync(t *testing.T) {
	const c1, c2 = "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"
	cond := func(status metav1.ConditionStatus, reason string) []metav1.Condition {
		return []metav1.Condition{{Type: berthv1alpha1.ConditionSynced, Status: status, Reason: reason, Message: "m"}}
	}
	inv := func(h ...berthv1alpha1.HealthStatus) []berthv1alpha1.InventoryEntry {
		var out []berthv1alpha1.InventoryEntry
		for _, s := range h {
			out = append(out, berthv1alpha1.InventoryEntry{Kind: "Deployment", Namespace: "web", Name: "hello", Health: s, Message: "msg"})
		}
		return out
	}
	cases := []struct {
		name   string
		commit string
		status berthv1alpha1.GitSourceStatus
		done   bool
		failed string
	}{
		{"nothing fetched", "", berthv1alpha1.GitSourceStatus{}, false, ""},
		{"latest applied and healthy", "", berthv1alpha1.GitSourceStatus{LastFetchedCommit: c2, LastAppliedCommit: c2, Health: "Healthy", Inventory: inv("Healthy")}, true, ""},
		{"latest applied, progressing", "", berthv1alpha1.GitSourceStatus{LastFetchedCommit: c2, LastAppliedCommit: c2, Health: "Progressing", Inventory: inv("Progressing")}, false, ""},
		{"degraded", "", berthv1alpha1.GitSourceStatus{LastFetchedCommit: c2, LastAppliedCommit: c2, Health: "Degraded", Inventory: inv("Degraded")}, false, "degraded"},
		{"given commit not fetched yet", c2[:7], berthv1alpha1.GitSourceStatus{LastFetchedCommit: c1, LastAppliedCommit: c1, Health: "Healthy"}, false, ""},
		{"given commit invalid", c2[:7], berthv1alpha1.GitSourceStatus{LastFetchedCommit: c2, LastAttemptedCommit: c2, LastAppliedCommit: c1,
			Conditions: cond(metav1.ConditionFalse, gitsync.ReasonValidationFailed), Errors: []berthv1alpha1.SyncError{{File: "a.yaml", Line: 3, Message: "bad"}}}, false, "a.yaml:3: bad"},
		{"fetch failing is not final", c2[:7], berthv1alpha1.GitSourceStatus{LastAppliedCommit: c1, Conditions: cond(metav1.ConditionFalse, gitsync.ReasonFetchFailed)}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := judgeSync(&berthv1alpha1.GitSource{Status: c.status}, c.commit)
			if v.done != c.done || (c.failed == "") != (v.failed == "") || !strings.Contains(v.failed, c.failed) {
				t.Fatalf("got %+v", v)
			}
		})
	}
}

// TestSyncStatusAndWait runs `berth sync status` and `berth sync wait`
// against a server with gitsync running, for a good commit and a bad one.
func TestSyncStatusAndWait(t *testing.T) {
	dir := t.TempDir()
	policy := `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: cd-deployer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: cd
`
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policies", "cd.yaml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := server.Start(ctx, server.Options{DataDir: filepath.Join(dir, "data"), Etcd: server.EtcdOptions{}, CompactInterval: time.Hour,
		PolicyDirs: []string{filepath.Join(dir, "policies")}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	syncConfig := filepath.Join(dir, "gitsync.kubeconfig")
	if err := s.WriteComponentKubeconfig(syncConfig, server.GitSyncUser, nil); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", syncConfig)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gitsync.Run(ctx, cfg, gitsync.Options{DataDir: filepath.Join(dir, "git")})
	}()
	defer func() { cancel(); <-done }()

	repo := gittest.Init(t)
	good := repo.Write(map[string]string{"ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
		"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: prices\n  namespace: shop\ndata:\n  tea: \"3\"\n"}).Commit("good")
	admin, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dynamic.NewForConfigOrDie(admin).Resource(namespacesGVR).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "cd"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	src := gitsync.RepoSource(repo.Dir, "", "main", "deployer")
	src.Namespace = "cd"
	m, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(src)
	if _, err := dynamic.NewForConfigOrDie(admin).Resource(berthv1alpha1.GitSourcesResource).Namespace("cd").Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) result {
		t.Helper()
		return runBerth(t, "", append(args, "--kubeconfig", s.Kubeconfig())...)
	}
	res := run("sync", "wait", "repo", "--commit", good[:10], "--timeout", "30s")
	if res.code != 0 || !strings.Contains(res.stdout, "commit "+good[:7]+" applied: 2 objects, 2 healthy") {
		t.Fatalf("wait for a good commit: %s", res)
	}
	res = run("sync", "status")
	if res.code != 0 || !strings.Contains(res.stdout, "NAMESPACE") || !regexpLine(res.stdout, `^cd\s+repo\s+main\s+`+good[:7]+`\s+True\s+True\s+Healthy\s+2\s`) {
		t.Fatalf("status table: %s", res)
	}
	t.Logf("berth sync status:\n%s", res.stdout)
	res = run("sync", "status", "cd/repo")
	t.Logf("berth sync status cd/repo:\n%s", res.stdout)
	if res.code != 0 || !strings.Contains(res.stdout, "ConfigMap") || !strings.Contains(res.stdout, "cm.yaml") {
		t.Fatalf("status detail: %s", res)
	}

	// kubectl sees GitSources: its table, client-side and server-side apply.
	res = runBerth(t, "", "kubectl", "--kubeconfig", s.Kubeconfig(), "get", "gitsources", "-n", "cd")
	if res.code != 0 || !regexpLine(res.stdout, `^repo\s+`+regexp.QuoteMeta(repo.Dir)+`\s+main\s+`+good[:7]+`\s+True\s+True\s+Healthy\s`) {
		t.Fatalf("kubectl get gitsources: %s", res)
	}
	manifest := "apiVersion: berth.io/v1alpha1\nkind: GitSource\nmetadata:\n  name: other\n  namespace: cd\nspec:\n  url: /nowhere\n  suspend: true\n"
	for _, args := range [][]string{{"apply", "-f", "-"}, {"apply", "--server-side", "-f", "-"}} {
		res = runBerth(t, manifest, append([]string{"kubectl", "--kubeconfig", s.Kubeconfig()}, args...)...)
		if res.code != 0 {
			t.Fatalf("kubectl %v of a GitSource: %s", args, res)
		}
		manifest = strings.Replace(manifest, "suspend: true", "suspend: true\n  ref: v2", 1)
	}
	res = runBerth(t, "", "kubectl", "--kubeconfig", s.Kubeconfig(), "get", "gs", "other", "-n", "cd", "-o", "jsonpath={.spec.ref} {.spec.prune} {.spec.liveBranch}")
	if res.code != 0 || res.stdout != "v2 true berth/live" {
		t.Fatalf("the applied GitSource: %s", res)
	}

	bad := repo.Write(map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n  namespace: shop\n"}).Commit("bad")
	res = run("sync", "wait", "cd/repo", "--commit", bad, "--timeout", "30s")
	t.Logf("berth sync wait of an invalid commit:\n%s%s", res.stdout, res.stderr)
	if res.code != 1 || !strings.Contains(res.stderr, "cm.yaml:4") {
		t.Fatalf("wait for an invalid commit must exit 1 naming cm.yaml:4: %s", res)
	}
	if res = run("sync", "wait"); res.code != 2 {
		t.Fatalf("wait without a source must exit 2: %s", res)
	}
	if res = run("sync", "wait", "repo", "--commit", "xyz"); res.code != 2 {
		t.Fatalf("a bad --commit must exit 2: %s", res)
	}
	if res = run("sync", "wait", "repo", "--timeout", "1ms"); res.code != 1 {
		t.Fatalf("a timeout must exit 1: %s", res)
	}
}

var namespacesGVR = corev1GVR("namespaces")

func corev1GVR(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Version: "v1", Resource: resource}
}

func regexpLine(out, pattern string) bool {
	re := regexp.MustCompile(pattern)
	for _, line := range strings.Split(out, "\n") {
		if re.MatchString(line) {
			return true
		}
	}
	return false
}
