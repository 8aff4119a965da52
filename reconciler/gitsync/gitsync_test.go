package gitsync

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync/gittest"
	"github.com/berth-io/berth/store/server"
)

const (
	nsYAML = `apiVersion: v1
kind: Namespace
metadata:
  name: web
`
	configYAML = `apiVersion: v1
kind: ConfigMap
metadata:
  name: site
  namespace: web
data:
  greeting: %s
`
	serviceYAML = `apiVersion: v1
kind: Service
metadata:
  name: external
  namespace: web
spec:
  type: ExternalName
  externalName: example.com
`
)

func configMap(greeting string) string { return strings.Replace(configYAML, "%s", greeting, 1) }

func TestSyncAppliesUpdatesAndPrunes(t *testing.T) {
	e := startEnv(t)
	repo := gittest.Init(t)
	c1 := repo.Write(map[string]string{
		"apps/namespace.yaml": nsYAML, "apps/web/config.yaml": configMap("hello"), "apps/web/service.yaml": serviceYAML,
		"README.md": "not a manifest",
	}).Commit("first")
	e.createSource("site", berthv1alpha1.GitSourceSpec{URL: repo.Dir, Ref: "main", Path: "apps", ServiceAccountName: "deployer"})
	gs := e.waitSource("site", 10*time.Second, "the first commit to be applied", appliedAndReady(c1))
	if len(gs.Status.Inventory) != 3 || gs.Status.Health != berthv1alpha1.HealthHealthy {
		t.Fatalf("inventory: %+v", gs.Status.Inventory)
	}
	ctx := context.Background()
	cm, err := e.Admin.CoreV1().ConfigMaps("web").Get(ctx, "site", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["greeting"] != "hello" || cm.Labels[SourceLabel] != "gitops.site" || cm.Annotations[CommitAnnotation] != c1 || cm.Annotations[FileAnnotation] != "apps/web/config.yaml" {
		t.Fatalf("applied ConfigMap: %+v", cm.ObjectMeta)
	}
	if mf := cm.ManagedFields; len(mf) == 0 || mf[0].Manager != FieldManager || mf[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("not server-side applied by %s: %+v", FieldManager, mf)
	}
	waitFor(t, 5*time.Second, "an Applied Event on the source", func() (bool, error) {
		evs, err := e.Admin.CoreV1().Events("gitops").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=site,reason=" + ReasonApplied})
		return err == nil && len(evs.Items) > 0 && strings.Contains(evs.Items[0].Message, c1[:7]) && strings.Contains(evs.Items[0].Message, `"first" by Test`), err
	})

	// A change is applied; the commit's time to the cluster is measured.
	start := time.Now()
	c2 := repo.Write(map[string]string{"apps/web/config.yaml": configMap("bonjour")}).Commit("second")
	waitFor(t, 5*time.Second, "the change to be applied", func() (bool, error) {
		cm, err := e.Admin.CoreV1().ConfigMaps("web").Get(ctx, "site", metav1.GetOptions{})
		return err == nil && cm.Data["greeting"] == "bonjour", err
	})
	t.Logf("commit → applied in %v", time.Since(start))
	gs = e.waitSource("site", 5*time.Second, "the second commit in status", appliedAndReady(c2))
	// What the commit did not change was not sent again.
	svc, err := e.Admin.CoreV1().Services("web").Get(ctx, "external", metav1.GetOptions{})
	if err != nil || svc.Annotations[CommitAnnotation] != c1 || !strings.Contains(gs.Status.Condition(berthv1alpha1.ConditionSynced).Message, "(2 unchanged)") {
		t.Fatalf("the unchanged Service was re-applied (%v): %s", err, describe(gs))
	}

	// A removed file's object is pruned; objects of other sources are not.
	other := configMapNamed("bystander")
	if _, err := e.Admin.CoreV1().ConfigMaps("web").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c3 := repo.Remove("apps/web/service.yaml").Commit("third")
	gs = e.waitSource("site", 5*time.Second, "the third commit", appliedAndReady(c3))
	if _, err := e.Admin.CoreV1().Services("web").Get(ctx, "external", metav1.GetOptions{}); !notFound(err) {
		t.Fatalf("the removed Service was not pruned: %v", err)
	}
	if _, err := e.Admin.CoreV1().ConfigMaps("web").Get(ctx, "bystander", metav1.GetOptions{}); err != nil {
		t.Fatalf("an object the source did not apply was pruned: %v", err)
	}
	if len(gs.Status.Inventory) != 2 || !strings.Contains(gs.Status.Condition(berthv1alpha1.ConditionSynced).Message, "pruned 1") {
		t.Fatalf("status after pruning: %s", describe(gs))
	}

	// With prune off, a removed file's object stays.
	u := e.source("site")
	off := false
	u.Spec.Prune = &off
	e.updateSpec(u)
	c4 := repo.Remove("apps/web/config.yaml").Commit("fourth")
	e.waitSource("site", 5*time.Second, "the fourth commit", appliedAndReady(c4))
	if _, err := e.Admin.CoreV1().ConfigMaps("web").Get(ctx, "site", metav1.GetOptions{}); err != nil {
		t.Fatalf("prune: false still pruned: %v", err)
	}
}

func TestInvalidCommitAppliesNothing(t *testing.T) {
	e := startEnv(t)
	repo := gittest.Init(t)
	c1 := repo.Write(map[string]string{"namespace.yaml": nsYAML, "config.yaml": configMap("hello")}).Commit("good")
	e.createSource("site", berthv1alpha1.GitSourceSpec{URL: repo.Dir, ServiceAccountName: "deployer"})
	e.waitSource("site", 10*time.Second, "the good commit", appliedAndReady(c1))

	bad := repo.Write(map[string]string{
		"config.yaml": configMap("changed"),
		"broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n  namespace: web\n",
		"more.yaml":   "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc\n  namespace: web\nspec:\n  ports:\n  - port: 99999\n",
	}).Commit("bad")
	gs := e.waitSource("site", 5*time.Second, "the bad commit to be refused", func(gs *berthv1alpha1.GitSource) bool {
		return gs.Status.LastAttemptedCommit == bad && gs.Status.ConditionStatus(berthv1alpha1.ConditionSynced) == "False"
	})
	if gs.Status.LastAppliedCommit != c1 || gs.Status.Condition(berthv1alpha1.ConditionSynced).Reason != ReasonValidationFailed {
		t.Fatalf("status: %s", describe(gs))
	}
	files := map[string]bool{}
	for _, err := range gs.Status.Errors {
		if err.Line == 0 {
			t.Errorf("error without a line: %s", err.String())
		}
		files[err.File] = true
	}
	if !files["broken.yaml"] || !files["more.yaml"] {
		t.Fatalf("every invalid file must be reported: %s", describe(gs))
	}
	cm, err := e.Admin.CoreV1().ConfigMaps("web").Get(context.Background(), "site", metav1.GetOptions{})
	if err != nil || cm.Data["greeting"] != "hello" || cm.Annotations[CommitAnnotation] != c1 {
		t.Fatalf("the valid part of an invalid commit was applied: %v %v", cm.Data, err)
	}

	// Fixing it applies the fix.
	fixed := repo.Remove("broken.yaml", "more.yaml").Commit("fix")
	e.waitSource("site", 5*time.Second, "the fix", appliedAndReady(fixed))

	// A path the commit does not have is an error too, not an empty commit
	// that would prune everything.
	u := e.source("site")
	u.Spec.Path = "no/such/dir"
	e.updateSpec(u)
	gs = e.waitSource("site", 5*time.Second, "the missing path to be reported", func(gs *berthv1alpha1.GitSource) bool {
		return gs.Status.ObservedGeneration == u.Generation+1 && gs.Status.ConditionStatus(berthv1alpha1.ConditionSynced) == "False"
	})
	if len(gs.Status.Errors) == 0 || !strings.Contains(gs.Status.Errors[0].String(), "no/such/dir") {
		t.Fatalf("status with a missing path: %s", describe(gs))
	}
	if _, err := e.Admin.CoreV1().ConfigMaps("web").Get(context.Background(), "site", metav1.GetOptions{}); err != nil {
		t.Fatalf("a missing path pruned the source's objects: %v", err)
	}
}

func TestServiceAccountRightsLimitWhatASourceChanges(t *testing.T) {
	e := startEnv(t)
	repo := gittest.Init(t)
	repo.Write(map[string]string{
		"config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: allowed\ndata:\n  a: b\n",
		"secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: forbidden\nstringData:\n  a: b\n",
	}).Commit("over-reaching")
	e.createSource("limited", berthv1alpha1.GitSourceSpec{URL: repo.Dir, ServiceAccountName: "limited"})
	gs := e.waitSource("limited", 10*time.Second, "the apply to be refused", func(gs *berthv1alpha1.GitSource) bool {
		c := gs.Status.Condition(berthv1alpha1.ConditionSynced)
		return c != nil && c.Reason == ReasonApplyFailed
	})
	if len(gs.Status.Errors) != 1 || gs.Status.Errors[0].File != "secret.yaml" || gs.Status.Errors[0].Line != 1 ||
		!strings.Contains(gs.Status.Errors[0].Message, "forbidden") || !strings.Contains(gs.Status.Errors[0].Message, "system:serviceaccount:gitops:limited") {
		t.Fatalf("errors: %s", describe(gs))
	}
	if _, err := e.Admin.CoreV1().Secrets("gitops").Get(context.Background(), "forbidden", metav1.GetOptions{}); !notFound(err) {
		t.Fatalf("the Secret was created: %v", err)
	}
}

func TestRepoSourceMakesALocalPathAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("site", 0o755); err != nil {
		t.Fatal(err)
	}
	gs := RepoSource("site", "", "main", "berth-repo")
	if gs.Spec.URL != filepath.Join(dir, "site") || gs.Spec.Path != "." || gs.Namespace != RepoSourceNamespace || gs.Name != RepoSourceName {
		t.Fatalf("RepoSource: %+v", gs)
	}
	if got := RepoSource("https://example.com/site.git", "apps", "", "berth-repo").Spec; got.URL != "https://example.com/site.git" || got.Path != "apps" {
		t.Fatalf("a remote URL changed: %+v", got)
	}
}

// TestPruneAfterARestart restarts gitsync between two commits: the new
// controller knows what the source applied only from its status, and
// still prunes a kind that left git entirely.
func TestPruneAfterARestart(t *testing.T) {
	s := startServer(t)
	run := func() context.CancelFunc {
		ctl, err := New(s.ConfigAs(server.GitSyncUser), Options{DataDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = ctl.Run(ctx) }()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return stop
	}
	stop := run()
	e := &env{Server: s, t: t, dyn: adminDynamic(t, s)}
	repo := gittest.Init(t)
	c1 := repo.Write(map[string]string{"namespace.yaml": nsYAML, "config.yaml": configMap("one"), "service.yaml": serviceYAML}).Commit("one")
	e.createSource("site", berthv1alpha1.GitSourceSpec{URL: repo.Dir, ServiceAccountName: "deployer"})
	e.waitSource("site", 10*time.Second, "the first commit", appliedAndReady(c1))
	stop()

	c2 := repo.Remove("service.yaml").Commit("no more services")
	run()
	gs := e.waitSource("site", 10*time.Second, "the commit after the restart", appliedAndReady(c2))
	if _, err := e.Admin.CoreV1().Services("web").Get(context.Background(), "external", metav1.GetOptions{}); !notFound(err) {
		t.Fatalf("the Service that left git was not pruned after a restart (%v): %s", err, describe(gs))
	}
}
