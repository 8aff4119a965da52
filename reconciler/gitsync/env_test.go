package gitsync

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// testPolicy grants the ServiceAccount gitops/deployer everything and
// gitops/limited only ConfigMaps in its namespace.
const testPolicy = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: test-deployer
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: test-deployer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: test-deployer
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: gitops
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: limited
  namespace: gitops
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: limited
  namespace: gitops
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: limited
subjects:
- kind: ServiceAccount
  name: limited
  namespace: gitops
`

// env is an API server with the test policy and a running gitsync.
type env struct {
	*servertest.Server
	t   testing.TB
	dyn dynamic.Interface
	ctl *Controller
}

func startEnv(t testing.TB, modify ...func(*server.Options)) *env {
	t.Helper()
	return startGitSync(t, startServer(t, modify...))
}

// startServer starts an API server with the test policy and the
// namespace gitops.
func startServer(t testing.TB, modify ...func(*server.Options)) *servertest.Server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	s := servertest.Start(t, append([]func(*server.Options){func(o *server.Options) { o.PolicyDirs = append(o.PolicyDirs, dir) }}, modify...)...)
	s.Namespace("gitops")
	return s
}

func startGitSync(t testing.TB, s *servertest.Server) *env {
	t.Helper()
	ctl, err := New(s.ConfigAs(server.GitSyncUser), Options{DataDir: t.TempDir(), HealthRecheck: 100 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = ctl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{Server: s, t: t, dyn: adminDynamic(t, s), ctl: ctl}
}

// adminDynamic is an admin dynamic client (JSON) for GitSources.
func adminDynamic(t testing.TB, s *servertest.Server) dynamic.Interface {
	cfg := rest.CopyConfig(s.AdminConfig)
	cfg.ContentType = "application/json"
	return dynamic.NewForConfigOrDie(cfg)
}

// createSource creates GitSource gitops/name.
func (e *env) createSource(name string, spec berthv1alpha1.GitSourceSpec) {
	e.t.Helper()
	gs := &berthv1alpha1.GitSource{
		TypeMeta:   metav1.TypeMeta{APIVersion: berthv1alpha1.SchemeGroupVersion.String(), Kind: "GitSource"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "gitops"},
		Spec:       spec,
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(gs)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.dyn.Resource(berthv1alpha1.GitSourcesResource).Namespace("gitops").Create(context.Background(), &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating GitSource %s: %v", name, err)
	}
}

func (e *env) source(name string) *berthv1alpha1.GitSource {
	e.t.Helper()
	u, err := e.dyn.Resource(berthv1alpha1.GitSourcesResource).Namespace("gitops").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var gs berthv1alpha1.GitSource
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &gs); err != nil {
		e.t.Fatal(err)
	}
	return &gs
}

// waitSource polls GitSource gitops/name until cond holds.
func (e *env) waitSource(name string, timeout time.Duration, what string, cond func(*berthv1alpha1.GitSource) bool) *berthv1alpha1.GitSource {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		gs := e.source(name)
		if cond(gs) {
			return gs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; status: %s", what, describe(gs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func describe(gs *berthv1alpha1.GitSource) string {
	s := fmt.Sprintf("fetched=%s attempted=%s applied=%s health=%s", gs.Status.LastFetchedCommit, gs.Status.LastAttemptedCommit, gs.Status.LastAppliedCommit, gs.Status.Health)
	for _, c := range gs.Status.Conditions {
		s += fmt.Sprintf("\n  %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
	}
	for _, e := range gs.Status.Errors {
		s += "\n  error: " + e.String()
	}
	return s
}

func appliedAndReady(commit string) func(*berthv1alpha1.GitSource) bool {
	return func(gs *berthv1alpha1.GitSource) bool {
		return gs.Status.LastAppliedCommit == commit && gs.Status.ConditionStatus(berthv1alpha1.ConditionReady) == "True"
	}
}

func notFound(err error) bool { return apierrors.IsNotFound(err) }

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) updateSpec(gs *berthv1alpha1.GitSource) {
	e.t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(gs)
	if err != nil {
		e.t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(berthv1alpha1.SchemeGroupVersion.String())
	u.SetKind("GitSource")
	if _, err := e.dyn.Resource(berthv1alpha1.GitSourcesResource).Namespace(gs.Namespace).Update(context.Background(), u, metav1.UpdateOptions{}); err != nil {
		e.t.Fatalf("updating GitSource %s: %v", gs.Name, err)
	}
}

func configMapNamed(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "web"}}
}
