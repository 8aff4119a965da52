package gitsync

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync/commitstatus"
	"github.com/berth-io/berth/reconciler/gitsync/gittest"
	"github.com/berth-io/berth/reconciler/gitsync/webhook"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

const (
	reportNamespace = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
`
	// reportConfigs is two ConfigMaps in one file; kubectl edit changes
	// the second.
	reportConfigs = `apiVersion: v1
kind: ConfigMap
metadata:
  name: first
  namespace: shop
data:
  mode: calm
---
# the greeting of the shop
apiVersion: v1
kind: ConfigMap
metadata:
  name: greeting
  namespace: shop
data:
  text: hello # keep it short
`
	// reportPolicy lets alice list pods in shop.
	reportPolicy = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: shop}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-readers, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
`
)

// statusServer records the commit statuses posted to it.
type statusServer struct {
	*httptest.Server
	mu     sync.Mutex
	states map[string][]string // sha → states in order
}

func newStatusServer(t *testing.T) *statusServer {
	s := &statusServer{states: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ State, Context string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		sha := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if r.Header.Get("Authorization") != "Bearer gh-token" || !strings.HasPrefix(r.URL.Path, "/repos/acme/shop/statuses/") || body.Context != "berth/gitops/shop" {
			t.Errorf("commit status request %s %s auth %q context %q", r.Method, r.URL.Path, r.Header.Get("Authorization"), body.Context)
		}
		s.mu.Lock()
		s.states[sha] = append(s.states[sha], body.State)
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *statusServer) last(sha string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.states[sha]
	if len(st) == 0 {
		return ""
	}
	return st[len(st)-1]
}

// startReporting is startEnv with a controller that reports back.
func startReporting(t *testing.T, opts ReportOptions) *env {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, func(o *server.Options) { o.PolicyDirs = append(o.PolicyDirs, dir) })
	s.Namespace("gitops")
	ctl, err := New(s.ConfigAs(server.GitSyncUser), Options{DataDir: t.TempDir(), HealthRecheck: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctl.ReportBack(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	cfg := rest.CopyConfig(s.AdminConfig)
	cfg.ContentType = "application/json"
	return &env{Server: s, t: t, dyn: dynamic.NewForConfigOrDie(cfg), ctl: ctl}
}

// TestReportBack: a repository with manifests and a policies folder is
// synced by a controller that reports back. Its policy governs the API
// server; kubectl edit is reported as drift in status, as an Event and as
// a commit on berth/live that git diff shows; commit statuses are posted;
// a forged webhook is refused and a signed one triggers a sync.
func TestReportBack(t *testing.T) {
	e := startReporting(t, ReportOptions{})
	s, ctl, ctx := e.Server, e.ctl, context.Background()

	statuses := newStatusServer(t)
	if _, err := s.Admin.CoreV1().Secrets("gitops").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-git"},
		Data: map[string][]byte{"token": []byte("gh-token"), webhook.SecretKey: []byte("hook-secret")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The repository lives at .../acme/shop: its commit statuses go to
	// repos/acme/shop.
	repo := &gittest.Repo{}
	{
		r := gittest.Init(t)
		shop := filepath.Join(r.Dir, "acme", "shop")
		if err := os.MkdirAll(filepath.Dir(shop), 0o755); err != nil {
			t.Fatal(err)
		}
		g, err := git.PlainInitWithOptions(shop, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
		if err != nil {
			t.Fatal(err)
		}
		*repo = *r
		repo.Dir, repo.Repo = shop, g
	}
	c1 := repo.Write(map[string]string{
		"deploy/namespace.yaml":     reportNamespace,
		"deploy/shop/configs.yaml":  reportConfigs,
		"deploy/policies/team.yaml": reportPolicy,
	}).Commit("shop")
	e.createSource("shop", berthv1alpha1.GitSourceSpec{URL: repo.Dir, Ref: "main", Path: "deploy", ServiceAccountName: "deployer",
		Interval: &metav1.Duration{Duration: time.Second}, SecretRef: &corev1.LocalObjectReference{Name: "shop-git"},
		CommitStatusAPI: statuses.URL})
	e.waitSource("shop", 10*time.Second, "the commit to be applied", appliedAndReady(c1))

	// The policies folder governs the API server.
	alice := s.ClientAs("alice")
	waitFor(t, 5*time.Second, "the repository's policy to let alice list pods", func() (bool, error) {
		_, err := alice.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	waitFor(t, 5*time.Second, "the commit status success", func() (bool, error) { return statuses.last(c1) == "success", nil })

	// kubectl edit configmap greeting: drift, in status, as an Event, and
	// on the live branch.
	cm, err := s.Admin.CoreV1().ConfigMaps("shop").Get(ctx, "greeting", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["text"] = "hola"
	edited := time.Now()
	if _, err := s.Admin.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	gs := e.waitSource("shop", 10*time.Second, "the drift in status", func(gs *berthv1alpha1.GitSource) bool {
		return gs.Status.ConditionStatus(berthv1alpha1.ConditionDrifted) == "True"
	})
	if d := gs.Status.Drift; len(d) != 1 || d[0].Kind != "ConfigMap" || d[0].Name != "greeting" || d[0].Field != "data.text" ||
		d[0].Git != "hello" || d[0].Live != "hola" || d[0].By != "kubectl-edit (Update)" || d[0].Time == nil {
		t.Fatalf("drift in status: %+v", d)
	}
	waitFor(t, 5*time.Second, "a DriftDetected Event", func() (bool, error) {
		evs, err := s.Admin.CoreV1().Events("gitops").List(ctx, metav1.ListOptions{})
		for _, ev := range evs.Items {
			if ev.Reason == ReasonDriftDetected && strings.Contains(ev.Message, "data.text: hello → hola by kubectl-edit") {
				return true, nil
			}
		}
		return false, err
	})
	var live *plumbing.Reference
	waitFor(t, 5*time.Second, "the live branch", func() (bool, error) {
		live, err = repo.Repo.Reference(plumbing.NewBranchReferenceName("berth/live"), true)
		return err == nil, err
	})
	t.Logf("kubectl edit → Drifted in status and the live branch committed in %v", time.Since(edited))
	lc, err := repo.Repo.CommitObject(live.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if lc.Author.Name != "berth" || !strings.HasPrefix(lc.Message, "drift: ConfigMap shop/greeting data.text hello → hola by kubectl-edit") || lc.ParentHashes[0].String() != c1 {
		t.Errorf("live commit by %s on %v:\n%s", lc.Author.Name, lc.ParentHashes, lc.Message)
	}
	mainCommit, _ := repo.Repo.CommitObject(plumbing.NewHash(c1))
	mainTree, _ := mainCommit.Tree()
	liveTree, _ := lc.Tree()
	changes, err := mainTree.Diff(liveTree)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ch := range changes {
		_, to, _ := ch.Files()
		got[ch.To.Name], _ = to.Contents()
	}
	if len(got) != 2 || got["deploy/shop/configs.yaml"] != strings.Replace(reportConfigs, "text: hello #", "text: hola #", 1) ||
		!strings.Contains(got["deploy/DRIFT.md"], "| ConfigMap shop/greeting | `data.text` | `hello` | `hola` | kubectl-edit (Update) |") {
		t.Errorf("git diff main berth/live: %v", got)
	}
	if head, _ := repo.Repo.Head(); head.Hash().String() != c1 || head.Name() != plumbing.NewBranchReferenceName("main") {
		t.Errorf("HEAD moved to %s %s", head.Name(), head.Hash())
	}
	if wt, _ := repo.Repo.Worktree(); wt != nil {
		if st, _ := wt.Status(); !st.IsClean() {
			t.Errorf("the working tree changed:\n%s", st)
		}
	}

	// A forged webhook is refused; a signed one triggers a sync.
	hooks := httptest.NewServer(ctl.Webhook())
	defer hooks.Close()
	post := func(signature string) int {
		req, _ := http.NewRequest(http.MethodPost, hooks.URL+webhook.Path+"?source=gitops/shop", strings.NewReader(`{"ref":"refs/heads/main"}`))
		req.Header.Set("X-GitHub-Event", "push")
		if signature != "" {
			req.Header.Set(webhook.SignatureHeader, signature)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != http.StatusUnauthorized {
		t.Errorf("unsigned webhook: %d", code)
	}
	if code := post(webhook.Sign([]byte("guess"), []byte(`{"ref":"refs/heads/main"}`))); code != http.StatusForbidden {
		t.Errorf("forged webhook: %d", code)
	}
	if code := post(webhook.Sign([]byte("hook-secret"), []byte(`{"ref":"refs/heads/main"}`))); code != http.StatusAccepted {
		t.Errorf("signed webhook: %d", code)
	}

	// A broken policy commit changes nothing; the next good one applies.
	c2 := repo.Write(map[string]string{"deploy/policies/team.yaml": strings.Replace(reportPolicy, `verbs: ["list"]`, `verbs: ["list"]`+"\n  colour: blue", 1)}).Commit("broken policy")
	gs = e.waitSource("shop", 10*time.Second, "the broken commit to be refused", func(gs *berthv1alpha1.GitSource) bool {
		return gs.Status.LastAttemptedCommit == c2 && len(gs.Status.Errors) > 0
	})
	if gs.Status.LastAppliedCommit != c1 || !strings.Contains(gs.Status.Errors[0].String(), "policies/team.yaml:8") {
		t.Errorf("broken policy: %s", describe(gs))
	}
	waitFor(t, 5*time.Second, "the failure commit status", func() (bool, error) { return statuses.last(c2) == string(commitstatus.Failure), nil })
	if _, err := alice.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the broken policy commit changed access: %v", err)
	}
	c3 := repo.Write(map[string]string{"deploy/policies/team.yaml": strings.SplitN(reportPolicy, "---\n", 2)[0]}).Commit("no more binding")
	e.waitSource("shop", 10*time.Second, "the binding's removal", appliedAndReady(c3))
	waitFor(t, 5*time.Second, "alice to lose access", func() (bool, error) {
		_, err := alice.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{})
		return err != nil, nil
	})

	// Putting git's value back by hand resolves the drift, and the live
	// branch says so.
	cm, err = s.Admin.CoreV1().ConfigMaps("shop").Get(ctx, "greeting", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["text"] != "hello" {
		cm.Data["text"] = "hello"
		if _, err := s.Admin.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "a DriftResolved Event", func() (bool, error) {
		evs, err := s.Admin.CoreV1().Events("gitops").List(ctx, metav1.ListOptions{})
		for _, ev := range evs.Items {
			if ev.Reason == ReasonDriftResolved {
				return true, nil
			}
		}
		return false, err
	})
	waitFor(t, 5*time.Second, "the live branch to match git", func() (bool, error) {
		ref, err := repo.Repo.Reference(plumbing.NewBranchReferenceName("berth/live"), true)
		if err != nil {
			return false, err
		}
		c, err := repo.Repo.CommitObject(ref.Hash())
		if err != nil {
			return false, err
		}
		f, err := c.File("deploy/DRIFT.md")
		if err != nil {
			return false, err
		}
		text, _ := f.Contents()
		return strings.Contains(text, "The live state matches `main`."), nil
	})

	// selfHeal: a new edit is reverted to git's value, and an Event says so.
	src := e.source("shop")
	src.Spec.SelfHeal = true
	e.updateSpec(src)
	e.waitSource("shop", 10*time.Second, "the drift to be gone", func(gs *berthv1alpha1.GitSource) bool {
		return gs.Status.ObservedGeneration == src.Generation+1 && gs.Status.ConditionStatus(berthv1alpha1.ConditionDrifted) == "False"
	})
	cm, err = s.Admin.CoreV1().ConfigMaps("shop").Get(ctx, "greeting", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["text"] = "ciao"
	if _, err := s.Admin.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "selfHeal to revert the edit", func() (bool, error) {
		cm, err := s.Admin.CoreV1().ConfigMaps("shop").Get(ctx, "greeting", metav1.GetOptions{})
		return err == nil && cm.Data["text"] == "hello", err
	})
	waitFor(t, 5*time.Second, "a SelfHealed Event", func() (bool, error) {
		evs, err := s.Admin.CoreV1().Events("gitops").List(ctx, metav1.ListOptions{})
		for _, ev := range evs.Items {
			if ev.Reason == ReasonSelfHealed && strings.Contains(ev.Message, "data.text: hello → ciao by kubectl-edit") {
				return true, nil
			}
		}
		return false, err
	})
}

// reportDeployment is scaled by hand in TestReportBackPushesTheLiveBranch.
const reportDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
`

// TestReportBackPushesTheLiveBranch: for a remote source (file://,
// fetched into a cache) kubectl scale's drift is committed to the live
// branch and pushed to the remote.
func TestReportBackPushesTheLiveBranch(t *testing.T) {
	e := startReporting(t, ReportOptions{AuthorName: "berth-bot", AuthorEmail: "bot@example.com"})
	s, ctx := e.Server, context.Background()

	repo := gittest.Init(t)
	c1 := repo.Write(map[string]string{"namespace.yaml": reportNamespace, "web.yaml": reportDeployment}).Commit("shop")
	e.createSource("remote", berthv1alpha1.GitSourceSpec{URL: "file://" + repo.Dir, Ref: "main", ServiceAccountName: "deployer",
		LiveBranch: "berth/live-prod", Interval: &metav1.Duration{Duration: time.Second}})
	e.waitSource("remote", 10*time.Second, "the commit to be applied", func(gs *berthv1alpha1.GitSource) bool {
		return gs.Status.LastAppliedCommit == c1 // no controllers here: the Deployment stays progressing
	})

	// kubectl scale deployment web --replicas=5
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: autoscalingv1.ScaleSpec{Replicas: 5}}
	if _, err := s.Admin.AppsV1().Deployments("shop").UpdateScale(ctx, "web", scale, metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Fatal(err)
	}
	var live *plumbing.Reference
	var err error
	waitFor(t, 10*time.Second, "berth/live-prod pushed to the remote", func() (bool, error) {
		live, err = repo.Repo.Reference(plumbing.NewBranchReferenceName("berth/live-prod"), true)
		return err == nil, err
	})
	lc, err := repo.Repo.CommitObject(live.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if lc.Author.Email != "bot@example.com" || !strings.HasPrefix(lc.Message, "drift: Deployment shop/web spec.replicas 2 → 5 by kubectl-scale") {
		t.Errorf("live commit by %s:\n%s", lc.Author.Email, lc.Message)
	}
	f, err := lc.File("web.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Contents(); got != strings.Replace(reportDeployment, "replicas: 2", "replicas: 5", 1) {
		t.Errorf("web.yaml on the live branch:\n%s", got)
	}
	gs := e.waitSource("remote", 5*time.Second, "Drifted in status", func(gs *berthv1alpha1.GitSource) bool {
		return gs.Status.ConditionStatus(berthv1alpha1.ConditionDrifted) == "True"
	})
	if len(gs.Status.Drift) != 1 || gs.Status.Drift[0].Field != "spec.replicas" || gs.Status.Drift[0].By != "kubectl-scale (Update)" {
		t.Errorf("drift in status: %+v", gs.Status.Drift)
	}
}
