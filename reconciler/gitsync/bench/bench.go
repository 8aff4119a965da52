// Package bench measures gitsync: how soon a commit to a local repository
// is in the cluster (Latency), and how long one commit of many apps takes
// to be applied and healthy on hollow nodes (Scale).
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/berth-io/berth/agents/hollow"
	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/controllers/builtin"
	"github.com/berth-io/berth/reconciler/gitsync"
	"github.com/berth-io/berth/reconciler/scheduler"
	storebench "github.com/berth-io/berth/store/bench"
)

// Namespace holds the benchmark's GitSources; ServiceAccount is what they
// apply as.
const (
	Namespace      = "bench-gitsync"
	ServiceAccount = "deployer"
)

// Policy is the RBAC policy file the API server must load (its PolicyDirs)
// for the benchmark: it lets bench-gitsync/deployer manage everything.
const Policy = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bench-gitsync-deployer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: deployer
  namespace: bench-gitsync
`

// Cluster is the API server under test.
type Cluster struct {
	// Admin is a system:masters config.
	Admin *rest.Config
	// ConfigAs returns a config authenticating as a component user
	// (store/server.GitSyncUser, ControllerManagerUser, SchedulerUser).
	ConfigAs func(user string) (*rest.Config, error)
	// Users are the component user names.
	GitSyncUser, ControllerManagerUser, SchedulerUser string
}

// LatencyReport is the commit → applied latency of a local repository.
type LatencyReport struct {
	Commits int
	Latency storebench.Summary
}

// Latency commits commits changes to a local repository, one after the
// other, and measures each from the commit (ref updated) to the changed
// ConfigMap seen through a watch. gitsync runs in-process as GitSyncUser.
func Latency(ctx context.Context, c Cluster, commits int, progress func(string, ...any)) (*LatencyReport, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	admin, err := kubernetes.NewForConfig(c.Admin)
	if err != nil {
		return nil, err
	}
	if err := startGitSync(ctx, c); err != nil {
		return nil, err
	}
	if err := ensureNamespace(ctx, admin, Namespace); err != nil {
		return nil, err
	}
	repo, err := newRepo()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(repo.dir)
	files := map[string]string{}
	for i := range 10 {
		files[fmt.Sprintf("static/cm-%d.yaml", i)] = configMap(Namespace, fmt.Sprintf("static-%d", i), "x")
	}
	files["latency.yaml"] = configMap(Namespace, "latency", "0")
	first, err := repo.commit(files, "first")
	if err != nil {
		return nil, err
	}
	if err := createSource(ctx, c.Admin, "latency", repo.dir); err != nil {
		return nil, err
	}
	if _, err := waitApplied(ctx, c.Admin, "latency", first, false, 30*time.Second); err != nil {
		return nil, err
	}
	progress("source applied; committing %d changes", commits)
	w, err := admin.CoreV1().ConfigMaps(Namespace).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "latency").String()})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var took []time.Duration
	for i := 1; i <= commits; i++ {
		want := fmt.Sprint(i)
		if _, err := repo.commit(map[string]string{"latency.yaml": configMap(Namespace, "latency", want)}, "change "+want); err != nil {
			return nil, err
		}
		start := time.Now()
		timeout := time.After(30 * time.Second)
	wait:
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					return nil, fmt.Errorf("the ConfigMap watch ended")
				}
				if cm, isCM := ev.Object.(*corev1.ConfigMap); isCM && cm.Data["v"] == want {
					break wait
				}
			case <-timeout:
				return nil, fmt.Errorf("commit %d not applied within 30s", i)
			}
		}
		took = append(took, time.Since(start))
	}
	r := &LatencyReport{Commits: commits, Latency: storebench.Summarize(took)}
	progress("commit → applied: p50 %v, p99 %v", r.Latency.P50, r.Latency.P99)
	return r, nil
}

// ScaleReport is how long one commit of many apps took.
type ScaleReport struct {
	Apps, Objects, Nodes int
	// Applied is commit → every object applied (the source's status);
	// Healthy is commit → every object healthy (Deployments available,
	// Services with endpoints).
	Applied, Healthy time.Duration
	// OneChange is then commit → applied for a commit that changes one
	// ConfigMap of one app (the other objects are not sent again).
	OneChange time.Duration
}

// ObjectsPerApp is how many objects each app of Scale has: a Deployment
// (one replica), a Service, a ServiceAccount, four ConfigMaps and three
// Secrets.
const ObjectsPerApp = 10

// Scale runs the controller manager, the scheduler and nodes hollow nodes,
// commits apps apps (ObjectsPerApp objects each, in 10 namespaces) to a
// local repository in one commit, and measures the time to applied and to
// healthy.
func Scale(ctx context.Context, c Cluster, apps, nodes int, progress func(string, ...any)) (*ScaleReport, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	admin, err := kubernetes.NewForConfig(c.Admin)
	if err != nil {
		return nil, err
	}
	if err := startControlPlane(ctx, c, admin, nodes, apps); err != nil {
		return nil, err
	}
	if err := startGitSync(ctx, c); err != nil {
		return nil, err
	}
	if err := ensureNamespace(ctx, admin, Namespace); err != nil {
		return nil, err
	}
	repo, err := newRepo()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(repo.dir)
	empty, err := repo.commit(map[string]string{"README.md": "apps\n"}, "empty")
	if err != nil {
		return nil, err
	}
	if err := createSource(ctx, c.Admin, "scale", repo.dir); err != nil {
		return nil, err
	}
	if _, err := waitApplied(ctx, c.Admin, "scale", empty, false, 30*time.Second); err != nil {
		return nil, err
	}
	files := appFiles(apps)
	progress("committing %d apps (%d objects)", apps, apps*ObjectsPerApp+10)
	commit, err := repo.commit(files, fmt.Sprintf("%d apps", apps))
	if err != nil {
		return nil, err
	}
	start := time.Now()
	applied, err := waitApplied(ctx, c.Admin, "scale", commit, false, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	appliedAt := applied.Sub(start)
	progress("applied after %v; waiting for health", appliedAt)
	healthy, err := waitApplied(ctx, c.Admin, "scale", commit, true, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	r := &ScaleReport{Apps: apps, Objects: apps*ObjectsPerApp + 10, Nodes: nodes, Applied: appliedAt, Healthy: healthy.Sub(start)}
	progress("healthy after %v; changing one app", r.Healthy)

	one := appFiles(1)
	for p, content := range one {
		if strings.HasPrefix(p, "apps/") {
			one = map[string]string{p: strings.Replace(content, "key: value", "key: changed", 1)}
			break
		}
	}
	commit, err = repo.commit(one, "change one app")
	if err != nil {
		return nil, err
	}
	start = time.Now()
	applied, err = waitApplied(ctx, c.Admin, "scale", commit, false, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	r.OneChange = applied.Sub(start)
	progress("a commit changing one app applied after %v", r.OneChange)
	return r, nil
}

func startGitSync(ctx context.Context, c Cluster) error {
	cfg, err := c.ConfigAs(c.GitSyncUser)
	if err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	dir, err := os.MkdirTemp("", "berth-bench-gitsync-")
	if err != nil {
		return err
	}
	ctl, err := gitsync.New(cfg, gitsync.Options{DataDir: dir, Log: quiet()})
	if err != nil {
		return err
	}
	go func() {
		defer os.RemoveAll(dir)
		_ = ctl.Run(ctx)
	}()
	return nil
}

func startControlPlane(ctx context.Context, c Cluster, admin kubernetes.Interface, nodes, pods int) error {
	cmCfg, err := c.ConfigAs(c.ControllerManagerUser)
	if err != nil {
		return err
	}
	cmCfg.QPS, cmCfg.Burst = -1, 0
	m, err := controllers.New(cmCfg, controllers.Options{Workers: 16, Log: quiet()})
	if err != nil {
		return err
	}
	if err := builtin.Register(m, builtin.DefaultSettings()); err != nil {
		return err
	}
	go func() { _ = m.Run(ctx) }()
	schedCfg, err := c.ConfigAs(c.SchedulerUser)
	if err != nil {
		return err
	}
	schedCfg.QPS, schedCfg.Burst = -1, 0
	opts := scheduler.ComponentOptions{}
	opts.Log = quiet()
	go func() { _ = scheduler.Serve(ctx, schedCfg, opts) }()
	perNode := pods/max(nodes, 1) + 20
	_, err = hollow.Start(ctx, admin, hollow.Options{Nodes: nodes, NamePrefix: "bench-gitsync-", CPU: resource.MustParse("256"), Memory: resource.MustParse("1Ti"),
		Pods: perNode, LeaseRenewInterval: 5 * time.Second, StatusReportInterval: 30 * time.Second, Log: quiet()})
	return err
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func ensureNamespace(ctx context.Context, client kubernetes.Interface, name string) error {
	_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

func createSource(ctx context.Context, admin *rest.Config, name, dir string) error {
	src := gitsync.RepoSource(dir, "", "main", ServiceAccount)
	src.Namespace, src.Name = Namespace, name
	src.Spec.Interval = &metav1.Duration{Duration: time.Hour}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(src)
	if err != nil {
		return err
	}
	d, err := dynamic.NewForConfig(jsonConfig(admin))
	if err != nil {
		return err
	}
	_, err = d.Resource(berthv1alpha1.GitSourcesResource).Namespace(Namespace).Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{})
	return err
}

// waitApplied watches the source until commit is applied (and, with
// healthy, Healthy) and returns when it saw it. A refused commit is an
// error. It watches rather than polls: the status of thousands of objects
// is large.
func waitApplied(ctx context.Context, admin *rest.Config, name, commit string, healthy bool, timeout time.Duration) (time.Time, error) {
	d, err := dynamic.NewForConfig(jsonConfig(admin))
	if err != nil {
		return time.Time{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sources := d.Resource(berthv1alpha1.GitSourcesResource).Namespace(Namespace)
	check := func(u *unstructured.Unstructured) (bool, string, error) {
		var gs berthv1alpha1.GitSource
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &gs); err != nil {
			return false, "", err
		}
		st := &gs.Status
		if st.LastAppliedCommit == commit && (!healthy || st.Health == berthv1alpha1.HealthHealthy) {
			return true, "", nil
		}
		if st.LastAttemptedCommit == commit && st.LastAppliedCommit != commit && len(st.Errors) > 0 {
			return false, "", fmt.Errorf("commit %s refused: %s", commit[:7], st.Errors[0].String())
		}
		return false, st.Message(), nil
	}
	last := ""
	for {
		u, err := sources.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return time.Time{}, fmt.Errorf("commit %s: %w (last status: %s)", commit[:7], err, last)
		}
		done, msg, err := check(u)
		if done || err != nil {
			return time.Now(), err
		}
		last = msg
		w, err := sources.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: u.GetResourceVersion()})
		if err != nil {
			return time.Time{}, err
		}
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			done, msg, err := check(u)
			if done || err != nil {
				w.Stop()
				return time.Now(), err
			}
			last = msg
		}
		w.Stop()
	}
}

func jsonConfig(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	c.ContentType = "application/json"
	return c
}

// appFiles are the manifests of apps apps in 10 namespaces.
func appFiles(apps int) map[string]string {
	files := map[string]string{}
	var ns strings.Builder
	for n := range 10 {
		fmt.Fprintf(&ns, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-apps-%d\n", n)
	}
	files["namespaces.yaml"] = ns.String()
	for a := range apps {
		name, namespace := fmt.Sprintf("app-%04d", a), fmt.Sprintf("bench-apps-%d", a%10)
		var b strings.Builder
		fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      serviceAccountName: %[1]s
      containers:
      - name: app
        image: registry.example/%[1]s:v1
        envFrom:
        - configMapRef: {name: %[1]s-env}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  selector: {app: %[1]s}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: %[1]s, namespace: %[2]s}
`, name, namespace)
		for _, cm := range []string{"env", "config", "features", "routes"} {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s-%s, namespace: %s}\ndata: {key: value}\n", name, cm, namespace)
		}
		for _, s := range []string{"db", "api", "tls"} {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata: {name: %s-%s, namespace: %s}\nstringData: {password: hunter2}\n", name, s, namespace)
		}
		files["apps/"+name+".yaml"] = b.String()
	}
	return files
}

func configMap(namespace, name, v string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  v: %q\n", name, namespace, v)
}

// repo is a local repository the benchmark commits to with go-git, as a
// user's git would.
type repo struct {
	dir  string
	repo *git.Repository
}

func newRepo() (*repo, error) {
	dir, err := os.MkdirTemp("", "berth-bench-repo-")
	if err != nil {
		return nil, err
	}
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")}})
	if err != nil {
		return nil, err
	}
	return &repo{dir: dir, repo: r}, nil
}

// commit writes files and commits them on main.
func (r *repo) commit(files map[string]string, message string) (string, error) {
	wt, err := r.repo.Worktree()
	if err != nil {
		return "", err
	}
	for p, content := range files {
		full := filepath.Join(r.dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return "", fmt.Errorf("git add: %w", err)
	}
	h, err := wt.Commit(message, &git.CommitOptions{AllowEmptyCommits: true, Author: &object.Signature{Name: "bench", Email: "bench@berth.invalid", When: time.Now()}})
	if err != nil {
		return "", fmt.Errorf("git commit: %w", err)
	}
	return h.String(), nil
}
