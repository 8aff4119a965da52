package diff

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/policies/published"
	"github.com/berth-io/berth/reconciler/gitsync"
	"github.com/berth-io/berth/reconciler/gitsync/validate"
	"github.com/berth-io/berth/store/servertest"
)

// TestLiveDryRunShowsHandChangesAndPrunesOnlyLabelledObjects syncs the
// base fixture into a real API server as gitsync would, scales a
// Deployment by hand and adds an unlabelled ConfigMap, then compares the
// head with the cluster.
func TestLiveDryRunShowsHandChangesAndPrunesOnlyLabelledObjects(t *testing.T) {
	s := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s.Namespace("demo")
	opts := validate.Options{DefaultNamespace: "kube-system"}
	base := validate.Repo(os.DirFS("testdata/pr/base"), ".", opts)
	head := validate.Repo(os.DirFS("testdata/pr/head"), ".", opts)
	syncAsGitsync(t, ctx, s, base, "kube-system.repo")

	// kubectl scale deployment hello --replicas 5
	scale, err := s.Admin.AppsV1().Deployments("demo").GetScale(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 5
	if _, err := s.Admin.AppsV1().Deployments("demo").UpdateScale(ctx, "hello", scale, metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Fatal(err)
	}
	// Objects without the source's label are never pruned, nor are those of
	// another source.
	for name, labels := range map[string]map[string]string{"by-hand": nil, "other-source": {gitsync.SourceLabel: "kube-system.other"}} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", Labels: labels}}
		if _, err := s.Admin.CoreV1().ConfigMaps("demo").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// One node with room for 2 of the 3 pods of Deployment big (2 CPU
	// each) and the 4 new pods of hello (100m each).
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}}
	node, err = s.Admin.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("5"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")}
	node.Status.Capacity = node.Status.Allocatable
	if _, err := s.Admin.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The base's policy files as gitsync publishes them for the source, and
	// another source's, which the head does not touch.
	publishPolicies(t, ctx, s, "kube-system", "repo", map[string][]byte{"policies/team.yaml": mustRead(t, "testdata/pr/base/policies/team.yaml")}, "alice-deployer")
	publishPolicies(t, ctx, s, "kube-system", "other", map[string][]byte{"policies/carol.yaml": []byte(carolPolicy)}, "carol-view")

	res, err := Live(ctx, s.AdminConfig, head, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ObjectChange{}
	for _, o := range res.Objects {
		got[string(o.Change)+" "+o.Object()] = o
		if o.Error != "" {
			t.Errorf("%s: dry run failed: %s", o.Object(), o.Error)
		}
	}
	for _, want := range []string{"deleted ConfigMap demo/old-settings", "changed Deployment demo/hello", "added Deployment demo/big", "added Service demo/big-typo", "added ConfigMap kube-system/hello-settings",
		// In a namespace the sync creates first: no dry-run failure.
		"added Namespace team-b", "added ConfigMap team-b/settings"} {
		if _, ok := got[want]; !ok {
			t.Errorf("no %q in %v", want, keys(got))
		}
	}
	if len(got) != 7 || res.Objects[0].Change != Deleted {
		t.Errorf("changes: %v (deletions first)", keys(got))
	}
	d := got["changed Deployment demo/hello"].Diff
	for _, line := range []string{"-  replicas: 5", "+  replicas: 4", "-      - image: berth.local/hello:1", "+      - image: berth.local/hello:2"} {
		if !strings.Contains(d, line+"\n") {
			t.Errorf("the hello diff has no line %q:\n%s", line, d)
		}
	}
	if strings.Contains(d, "resourceVersion") || strings.Contains(d, "managedFields") || strings.Contains(d, "generation") {
		t.Errorf("the hello diff shows server-populated fields:\n%s", d)
	}
	if res.Unchanged != 2 {
		t.Errorf("unchanged: %d, want 2 (Namespace demo, Service demo/hello)", res.Unchanged)
	}

	c := res.Capacity
	if c.Cluster == nil || c.Cluster.Nodes != 1 || c.Cluster.NewPods != 7 || len(c.Cluster.Unfit) != 1 ||
		c.Cluster.Unfit[0].Object != "Deployment demo/big" || c.Cluster.Unfit[0].Pods != 1 || !strings.Contains(c.Cluster.Unfit[0].Reason, "Insufficient cpu") {
		t.Errorf("cluster fit: %+v", c.Cluster)
	}
	// hello: 5 live → 4 pods of 100m; big: 0 → 3 pods of 2 CPU.
	if c.MilliCPU != 6000-100 {
		t.Errorf("CPU requests change by %dm, want 5900m: %+v", c.MilliCPU, c.Workloads)
	}

	var perms []string
	for _, p := range res.RBAC.Changes {
		perms = append(perms, p.String())
	}
	want := []string{
		"Group team-demo gains delete on pods in namespace demo",
		"User alice loses create, get, update on deployments.apps in namespace demo",
		"User bob gains get, list on nodes cluster-wide",
	}
	if strings.Join(perms, "\n") != strings.Join(want, "\n") || res.RBAC.Note != "" {
		t.Errorf("RBAC changes against the policy in force:\n%s\nwant\n%s\n%s", strings.Join(perms, "\n"), strings.Join(want, "\n"), res.RBAC.Note)
	}

	// A source with spec.prune false deletes nothing.
	createSource(t, ctx, s, "kube-system", "keep", false)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept", Namespace: "demo", Labels: map[string]string{gitsync.SourceLabel: "kube-system.keep"}}}
	if _, err := s.Admin.CoreV1().ConfigMaps("demo").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = Live(ctx, s.AdminConfig, head, LiveOptions{Source: "kube-system/keep"})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Count(Deleted); n != 0 {
		t.Errorf("a source that does not prune would delete %d objects: %+v", n, res.Objects)
	}
}

const carolPolicy = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: carol-view
subjects:
- kind: User
  name: carol
roleRef:
  kind: ClusterRole
  name: view
`

// publishPolicies creates GitSource namespace/name and publishes files as
// its policy, as gitsync does, and waits until the API server serves the
// binding named binding.
func publishPolicies(t *testing.T, ctx context.Context, s *servertest.Server, namespace, name string, files map[string][]byte, binding string) {
	t.Helper()
	createSource(t, ctx, s, namespace, name, true)
	if err := published.Publish(ctx, s.Admin, published.SourceName(namespace, name), files); err != nil {
		t.Fatal(err)
	}
	for {
		crbs, err := s.Admin.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rbs, err := s.Admin.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		served := map[string]bool{}
		for _, b := range crbs.Items {
			served[b.Name] = true
		}
		for _, b := range rbs.Items {
			served[b.Name] = true
		}
		if served[binding] {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the API server does not serve the policy of %s/%s", namespace, name)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// createSource creates GitSource namespace/name (for its policies and
// spec.prune; nothing syncs it).
func createSource(t *testing.T, ctx context.Context, s *servertest.Server, namespace, name string, prune bool) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(s.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	src := gitsync.RepoSource("/nowhere", ".", "main", "default")
	src.Name, src.Namespace, src.Spec.Prune = name, namespace, &prune
	obj, err := k8sruntime.DefaultUnstructuredConverter.ToUnstructured(src)
	if err != nil {
		t.Fatal(err)
	}
	gvr := berthv1alpha1.SchemeGroupVersion.WithResource("gitsources")
	if _, err := dyn.Resource(gvr).Namespace(namespace).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// syncAsGitsync applies the objects of r as gitsync does: server-side
// apply as berth-gitsync with the source's label.
func syncAsGitsync(t *testing.T, ctx context.Context, s *servertest.Server, r *validate.Report, label string) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(s.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(s.Admin.Discovery()))
	for _, o := range r.Objects {
		u := o.Object.DeepCopy()
		m, err := mapper.RESTMapping(o.GVK.GroupKind(), o.GVK.Version)
		if err != nil {
			t.Fatal(err)
		}
		u.SetLabels(map[string]string{gitsync.SourceLabel: label})
		u.SetAnnotations(map[string]string{gitsync.FileAnnotation: o.Pos.File, gitsync.CommitAnnotation: "base"})
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			if u.GetNamespace() == "" {
				u.SetNamespace("kube-system")
			}
			ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
		}
		data, err := u.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		force := true
		if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: gitsync.FieldManager, Force: &force}); err != nil {
			t.Fatalf("applying %s: %v", o, err)
		}
	}
}

func keys(m map[string]ObjectChange) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
