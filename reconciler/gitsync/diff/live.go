package diff

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/policies/published"
	"github.com/berth-io/berth/reconciler/gitsync"
	"github.com/berth-io/berth/reconciler/gitsync/manifest"
	"github.com/berth-io/berth/reconciler/gitsync/validate"
)

// LiveOptions tune Live.
type LiveOptions struct {
	Options
	// Source is the GitSource ("namespace/name") whose sync is compared:
	// its label finds what it would prune. "" means kube-system/repo.
	Source string
	// Workers is how many dry runs are sent at once; 0 means 8.
	Workers int
}

// source is the GitSource's namespace and name.
func (o LiveOptions) source() (string, string, error) {
	s := cmp.Or(o.Source, gitsync.RepoSourceNamespace+"/"+gitsync.RepoSourceName)
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("source %q: give the GitSource as namespace/name", s)
	}
	return ns, name, nil
}

// Live compares head with the cluster that cfg points at: each object of
// head is sent as the sync sends it (server-side apply, field manager
// berth-gitsync, forced, with the source's label and file annotation)
// with dryRun=All, and the server's answer is compared with the live
// object; live objects carrying the source's label that head no longer has
// are what the sync would prune (unless the GitSource, if it exists, has
// spec.prune false). RBAC compares the policy the API server
// has in force with head's; capacity places the new pods on the live
// nodes. Options.Namespace defaults to the source's namespace.
func Live(ctx context.Context, cfg *rest.Config, head *validate.Report, opts LiveOptions) (*Result, error) {
	srcNS, srcName, err := opts.source()
	if err != nil {
		return nil, err
	}
	if opts.Namespace == "" {
		opts.Namespace = srcNS
	}
	n := newNormaliser(opts.namespace())
	cl, err := newCluster(cfg, n)
	if err != nil {
		return nil, err
	}
	label := gitsync.SourceLabelValue(srcNS, srcName)
	gitSide := n.entries(head)

	before, after := side{}, side{}
	var mu sync.Mutex
	keys := make([]manifest.Key, 0, len(gitSide))
	for k := range gitSide {
		keys = append(keys, k)
	}
	// Namespaces the sync creates before the objects in them: a dry run
	// cannot see them yet.
	created := map[string]bool{}
	for k := range gitSide {
		if k.Group == "" && k.Kind == "Namespace" {
			created[k.Name] = true
		}
	}
	errs := make([]error, len(keys))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(cmp.Or(opts.Workers, 8), max(1, len(keys))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				b, a, err := cl.dryRun(ctx, gitSide[keys[i]], label, created)
				if err != nil {
					errs[i] = err
					continue
				}
				mu.Lock()
				if b != nil {
					before[keys[i]] = b
				}
				after[keys[i]] = a
				mu.Unlock()
			}
		}()
	}
	for i := range keys {
		work <- i
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	src, err := getSource(ctx, cl.dynamic, srcNS, srcName)
	if err != nil {
		return nil, err
	}
	var labelled []*unstructured.Unstructured
	if src == nil || src.Spec.PruneEnabled() {
		if labelled, err = cl.labelled(ctx, label); err != nil {
			return nil, err
		}
	}
	for _, u := range labelled {
		e := n.liveEntry(u)
		if gitSide[e.key] == nil {
			before[e.key] = e
		}
	}

	r := &Result{Base: Revision{Rev: "cluster"}, Live: true, Findings: head.Findings}
	if r.Findings == nil {
		r.Findings = []validate.Finding{}
	}
	r.Objects, r.Unchanged = objectChanges(before, after)
	basePolicy, headPolicy, err := cl.policies(ctx, published.SourceName(srcNS, srcName), head, opts.Options)
	if err != nil {
		r.RBAC = RBAC{Changes: []PermissionChange{}, Note: "the policy in force could not be read (" + err.Error() + "): permissions not compared"}
	} else {
		r.RBAC = compareRBAC(basePolicy, headPolicy)
	}
	r.Capacity = capacityOf(before, after)
	if r.Capacity.Cluster, err = cl.fit(ctx, r.Capacity.Workloads); err != nil {
		return nil, err
	}
	return r, nil
}

// SourcePath is spec.path of GitSource source ("namespace/name") in the
// cluster cfg points at; found is false when there is no such source.
func SourcePath(ctx context.Context, cfg *rest.Config, source string) (path string, found bool, err error) {
	ns, name, err := LiveOptions{Source: source}.source()
	if err != nil {
		return "", false, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return "", false, err
	}
	src, err := getSource(ctx, dyn, ns, name)
	if err != nil || src == nil {
		return "", false, err
	}
	return src.Spec.Path, true, nil
}

// getSource reads GitSource ns/name; nil when there is none.
func getSource(ctx context.Context, dyn dynamic.Interface, ns, name string) (*berthv1alpha1.GitSource, error) {
	u, err := dyn.Resource(berthv1alpha1.SchemeGroupVersion.WithResource("gitsources")).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading GitSource %s/%s: %w", ns, name, err)
	}
	src := &berthv1alpha1.GitSource{}
	if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, src); err != nil {
		return nil, fmt.Errorf("reading GitSource %s/%s: %w", ns, name, err)
	}
	return src, nil
}

// cluster holds the clients of Live.
type cluster struct {
	dynamic dynamic.Interface
	core    kubernetes.Interface
	mapper  meta.RESTMapper
	disc    discovery.DiscoveryInterface
	n       *normaliser
}

func newCluster(cfg *rest.Config, n *normaliser) (*cluster, error) {
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc := memory.NewMemCacheClient(core.Discovery())
	return &cluster{dynamic: dyn, core: core, mapper: restmapper.NewDeferredDiscoveryRESTMapper(disc), disc: disc, n: n}, nil
}

// dryRun sends e as the sync would, with dryRun=All, and returns the live
// object (nil when missing) and the answer. An object the server refuses
// is returned with the refusal in err of the answer's entry. An object in
// a namespace that does not exist yet but is in created is compared as
// git has it (defaulted): the sync creates the namespace first.
func (c *cluster) dryRun(ctx context.Context, e *entry, label string, created map[string]bool) (before, after *entry, err error) {
	e.normalised()
	gvk := e.ref.GVK
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		failed := *e
		failed.err = fmt.Sprintf("the API server does not serve kind %s in %s", gvk.Kind, gvk.GroupVersion())
		return nil, &failed, nil
	}
	obj := &unstructured.Unstructured{Object: k8sruntime.DeepCopyJSON(e.shown)}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		obj.SetNamespace("")
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[gitsync.SourceLabel] = label
	obj.SetLabels(labels)
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[gitsync.FileAnnotation] = e.file
	obj.SetAnnotations(annotations)
	data, err := obj.MarshalJSON()
	if err != nil {
		return nil, nil, err
	}
	var r dynamic.ResourceInterface = c.dynamic.Resource(m.Resource)
	if ns := obj.GetNamespace(); ns != "" {
		r = c.dynamic.Resource(m.Resource).Namespace(ns)
	}
	live, err := r.Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && created[obj.GetNamespace()] && !c.namespaceExists(ctx, obj.GetNamespace()):
		return nil, e, nil
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return nil, nil, fmt.Errorf("reading %s: %w", e.key, err)
	}
	if live != nil {
		before = c.liveEntry(live, gvk, e.file)
	}
	force := true
	answer, err := r.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: gitsync.FieldManager, Force: &force, DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) && !apierrors.IsBadRequest(err) && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return nil, nil, fmt.Errorf("dry run of %s: %w", e.key, err)
		}
		failed := *e
		failed.err = err.Error()
		if before != nil {
			failed.compared = before.compared // show no made-up change
		}
		return before, &failed, nil
	}
	a := c.liveEntry(answer, gvk, e.file)
	a.shown = e.shown
	return before, a, nil
}

// namespaceExists reports whether namespace ns exists (errors count as
// yes: the dry run then says what is wrong).
func (c *cluster) namespaceExists(ctx context.Context, ns string) bool {
	_, err := c.core.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	return !apierrors.IsNotFound(err)
}

// liveEntry is the entry of a live object of kind gvk from file.
func (c *cluster) liveEntry(u *unstructured.Unstructured, gvk schema.GroupVersionKind, file string) *entry {
	e := c.n.live(u, gvk)
	e.file = file
	return e
}

// liveEntry is the entry of a live object (a labelled one found by
// listing: its file is its berth.io/file annotation).
func (n *normaliser) liveEntry(u *unstructured.Unstructured) *entry {
	e := n.live(u, u.GroupVersionKind())
	e.file = u.GetAnnotations()[gitsync.FileAnnotation]
	return e
}

// live is the entry of live object u of kind gvk.
func (n *normaliser) live(u *unstructured.Unstructured, gvk schema.GroupVersionKind) *entry {
	norm := normalise(u.Object, gvk, u.GetNamespace())
	nu := &unstructured.Unstructured{Object: norm}
	e := &entry{key: manifest.Key{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}, shown: norm, compared: norm}
	e.ref.GVK, e.ref.Namespace, e.ref.Name = gvk, u.GetNamespace(), u.GetName()
	if obj, err := n.scheme.New(gvk); err == nil {
		if k8sruntime.DefaultUnstructuredConverter.FromUnstructured(nu.Object, obj) == nil {
			e.typed = obj
		}
	}
	return e
}

// labelled lists every live object, of every kind that can be listed and
// deleted, that carries the source's label.
func (c *cluster) labelled(ctx context.Context, label string) ([]*unstructured.Unstructured, error) {
	lists, err := c.disc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("discovering the API server's resources: %w", err)
	}
	var out []*unstructured.Unstructured
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range l.APIResources {
			if strings.Contains(res.Name, "/") || !slices.Contains(res.Verbs, "list") || !slices.Contains(res.Verbs, "delete") {
				continue
			}
			list, err := c.dynamic.Resource(gv.WithResource(res.Name)).List(ctx, metav1.ListOptions{LabelSelector: gitsync.SourceLabel + "=" + label})
			if err != nil {
				return nil, fmt.Errorf("listing %s with label %s=%s: %w", res.Name, gitsync.SourceLabel, label, err)
			}
			for i := range list.Items {
				u := &list.Items[i]
				u.SetGroupVersionKind(gv.WithKind(res.Kind))
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// policies are the RBAC policy the API server has in force (base), and
// the policy it would have once head's policies folder replaced the files
// source published (after): every other source, the bootstrap policy and
// --policy-dir directories stay as they are.
func (c *cluster) policies(ctx context.Context, source string, head *validate.Report, opts Options) (base, after policy, err error) {
	rbac := c.core.RbacV1()
	var served policies.Set
	roles, err := rbac.Roles("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return policy{}, policy{}, err
	}
	clusterRoles, err := rbac.ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return policy{}, policy{}, err
	}
	bindings, err := rbac.RoleBindings("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return policy{}, policy{}, err
	}
	clusterBindings, err := rbac.ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return policy{}, policy{}, err
	}
	for i := range roles.Items {
		served.Roles = append(served.Roles, &roles.Items[i])
	}
	for i := range clusterRoles.Items {
		served.ClusterRoles = append(served.ClusterRoles, &clusterRoles.Items[i])
	}
	for i := range bindings.Items {
		served.RoleBindings = append(served.RoleBindings, &bindings.Items[i])
	}
	for i := range clusterBindings.Items {
		served.ClusterRoleBindings = append(served.ClusterRoleBindings, &clusterBindings.Items[i])
	}
	baseSet, err := policies.LoadSources(policies.Files(policyFiles("served", &served, nil)))
	if err != nil {
		return policy{}, policy{}, fmt.Errorf("loading the served RBAC objects: %w", err)
	}
	base = policy{set: baseSet}

	headPolicy := policyOf(head, opts)
	if headPolicy.invalid {
		return base, headPolicy, nil
	}
	// What source published: taken out of the served policy.
	mine := map[string]bool{}
	cm, err := c.core.CoreV1().ConfigMaps(published.Namespace).Get(ctx, published.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return policy{}, policy{}, fmt.Errorf("reading the published policy files: %w", err)
	default:
		sources, _ := published.Decode(cm)
		if files := sources[source]; len(files) > 0 {
			set, _ := policies.LoadSources(policies.Bootstrap(), policies.Files(files))
			if set != nil {
				eachPolicyObject(set, func(kind string, m *metav1.ObjectMeta) {
					if !builtin(m) {
						mine[kind+"/"+m.Namespace+"/"+m.Name] = true
					}
				})
			}
		}
	}
	files := policyFiles("served", &served, func(kind string, m *metav1.ObjectMeta) bool { return !mine[kind+"/"+m.Namespace+"/"+m.Name] })
	maps.Copy(files, policyFiles("head", headPolicy.set, func(_ string, m *metav1.ObjectMeta) bool { return !builtin(m) }))
	afterSet, err := policies.LoadSources(policies.Files(files))
	if err != nil {
		return base, policy{invalid: true}, nil
	}
	return base, policy{set: afterSet}, nil
}

// builtin reports whether a loaded policy object is berth's bootstrap
// policy.
func builtin(m *metav1.ObjectMeta) bool {
	return strings.HasPrefix(m.Annotations[policies.SourceAnnotation], policies.Bootstrap().Name+"/")
}

// eachPolicyObject calls f with every object of set.
func eachPolicyObject(set *policies.Set, f func(kind string, m *metav1.ObjectMeta)) {
	for _, o := range set.Roles {
		f("Role", &o.ObjectMeta)
	}
	for _, o := range set.ClusterRoles {
		f("ClusterRole", &o.ObjectMeta)
	}
	for _, o := range set.RoleBindings {
		f("RoleBinding", &o.ObjectMeta)
	}
	for _, o := range set.ClusterRoleBindings {
		f("ClusterRoleBinding", &o.ObjectMeta)
	}
}

// policyFiles writes the objects of set that keep accepts (nil: all) as
// policy files below dir, one per kind. Metadata is cut to names and
// labels; a ClusterRole's aggregated rules are kept as plain rules.
func policyFiles(dir string, set *policies.Set, keep func(kind string, m *metav1.ObjectMeta) bool) map[string][]byte {
	docs := map[string]*strings.Builder{}
	add := func(kind string, m *metav1.ObjectMeta, body map[string]any) {
		if keep != nil && !keep(kind, m) {
			return
		}
		body["apiVersion"], body["kind"] = rbacv1.SchemeGroupVersion.String(), kind
		body["metadata"] = metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, Labels: m.Labels}
		data, err := yaml.Marshal(body)
		if err != nil {
			return // typed RBAC objects always marshal
		}
		b := docs[kind]
		if b == nil {
			b = &strings.Builder{}
			docs[kind] = b
		}
		b.Write(data)
		b.WriteString("---\n")
	}
	for _, o := range set.Roles {
		add("Role", &o.ObjectMeta, map[string]any{"rules": o.Rules})
	}
	for _, o := range set.ClusterRoles {
		add("ClusterRole", &o.ObjectMeta, map[string]any{"rules": o.Rules})
	}
	for _, o := range set.RoleBindings {
		add("RoleBinding", &o.ObjectMeta, map[string]any{"subjects": o.Subjects, "roleRef": o.RoleRef})
	}
	for _, o := range set.ClusterRoleBindings {
		add("ClusterRoleBinding", &o.ObjectMeta, map[string]any{"subjects": o.Subjects, "roleRef": o.RoleRef})
	}
	out := map[string][]byte{}
	for kind, b := range docs {
		out[dir+"/"+strings.ToLower(kind)+".yaml"] = []byte(b.String())
	}
	return out
}

// fit places the new pods of workloads on the live nodes.
func (c *cluster) fit(ctx context.Context, workloads []WorkloadChange) (*ClusterFit, error) {
	nodes, err := c.core.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	pods, err := c.core.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.phase!=" + string(corev1.PodSucceeded) + ",status.phase!=" + string(corev1.PodFailed)})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	namespaces, err := c.core.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	return fit(nodes.Items, pods.Items, namespaces.Items, workloads)
}
