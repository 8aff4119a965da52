package validate

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/reconciler/gitsync/manifest"
)

// BuiltinNamespaces exist in every berth cluster.
var BuiltinNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// item is an object of the cross-object checks.
type item struct {
	o       *manifest.Object
	typed   k8sruntime.Object // decoded and defaulted; nil if it could not be
	ns      string            // effective namespace; empty for cluster-scoped kinds
	display string
}

// finding is a Finding at the field at fieldPath of it.
func (it item) finding(s Severity, fieldPath, message string) Finding {
	return objectFinding(s, it.display, it.o, fieldPath, message)
}

// podTemplate is the pod a workload runs, and where it is in the object.
type podTemplate struct {
	labels map[string]string
	spec   *corev1.PodSpec
	path   string // of the pod spec
}

// templateOf returns the pod template of a workload (or a Pod itself).
func templateOf(obj k8sruntime.Object) (podTemplate, bool) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return podTemplate{o.Labels, &o.Spec, "spec"}, true
	case *appsv1.Deployment:
		return podTemplate{o.Spec.Template.Labels, &o.Spec.Template.Spec, "spec.template.spec"}, true
	case *appsv1.ReplicaSet:
		return podTemplate{o.Spec.Template.Labels, &o.Spec.Template.Spec, "spec.template.spec"}, true
	case *batchv1.Job:
		return podTemplate{o.Spec.Template.Labels, &o.Spec.Template.Spec, "spec.template.spec"}, true
	}
	return podTemplate{}, false
}

// index is what the repository defines, by namespace/name.
type index struct {
	namespaces      map[string]bool
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	serviceAccounts map[string]bool
}

// crossCheck looks across the objects of r (and its policy).
func (c *checker) crossCheck(r *Report) []Finding {
	items := make([]item, len(r.Objects))
	for i, o := range r.Objects {
		it := item{o: o, typed: r.Typed[i], display: r.display(i)}
		if k, ok := c.registry.ForKind(o.GVK); ok && k.Namespaced {
			it.ns = cmp.Or(o.Namespace(), c.opts.DefaultNamespace)
		}
		items[i] = it
	}
	idx := index{namespaces: map[string]bool{}, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, serviceAccounts: map[string]bool{}}
	for _, ns := range BuiltinNamespaces {
		idx.namespaces[ns] = true
	}
	for _, it := range items {
		switch o := it.typed.(type) {
		case *corev1.Namespace:
			idx.namespaces[o.Name] = true
		case *corev1.ConfigMap:
			idx.configMaps[it.ns+"/"+o.Name] = o
		case *corev1.Secret:
			idx.secrets[it.ns+"/"+o.Name] = o
		case *corev1.ServiceAccount:
			idx.serviceAccounts[it.ns+"/"+o.Name] = true
		}
	}
	var out []Finding
	out = append(out, duplicates(items)...)
	out = append(out, missingNamespaces(items, idx)...)
	out = append(out, servicesSelectingNothing(items)...)
	for _, it := range items {
		if t, ok := templateOf(it.typed); ok {
			out = append(out, missingReferences(it, t, idx)...)
		}
	}
	out = append(out, gitSourceReferences(items, idx)...)
	if r.Policy != nil {
		out = append(out, policyNamespaces(r.Policy, idx)...)
	}
	return out
}

// gitSourceReferences reports the ServiceAccount and Secret a GitSource
// names that the repository does not define.
func gitSourceReferences(items []item, idx index) []Finding {
	var out []Finding
	for _, it := range items {
		g, ok := it.typed.(*berthv1alpha1.GitSource)
		if !ok {
			continue
		}
		if sa := g.Spec.ServiceAccountName; sa != "" && sa != "default" && !idx.serviceAccounts[it.ns+"/"+sa] {
			out = append(out, it.finding(SeverityWarning, "spec.serviceAccountName", fmt.Sprintf("ServiceAccount %s/%s is not defined in the repository: the source syncs as this identity, so add it (and a RoleBinding for it in %s/)", it.ns, sa, PolicyDir)))
		}
		if ref := g.Spec.SecretRef; ref != nil && ref.Name != "" {
			if _, ok := idx.secrets[it.ns+"/"+ref.Name]; !ok {
				out = append(out, it.finding(SeverityWarning, "spec.secretRef.name", fmt.Sprintf("Secret %s/%s is not defined in the repository: create it in the cluster (credentials do not belong in git)", it.ns, ref.Name)))
			}
		}
	}
	return out
}

// duplicates reports every object defined again after its first
// definition: the API server would keep only one of them.
func duplicates(items []item) []Finding {
	first := map[manifest.Key]item{}
	var out []Finding
	for _, it := range items {
		k := it.o.Key()
		if k.Name == "" {
			continue // reported as invalid
		}
		k.Namespace = it.ns
		if prev, dup := first[k]; dup {
			where := prev.o.Pos
			where.File = path.Join(prev.display, where.File)
			out = append(out, it.finding(SeverityError, "metadata.name", fmt.Sprintf("duplicate: %s is also defined at %s; keep one of them", k, where)))
			continue
		}
		first[k] = it
	}
	return out
}

// missingNamespaces reports namespaced objects whose namespace the
// repository does not define and the cluster does not have from the start.
func missingNamespaces(items []item, idx index) []Finding {
	var out []Finding
	for _, it := range items {
		if it.ns == "" || idx.namespaces[it.ns] {
			continue
		}
		out = append(out, it.finding(SeverityWarning, "metadata.namespace", fmt.Sprintf("namespace %q is not defined in the repository: add a Namespace manifest for it (e.g. namespaces/%s.yaml), or make sure it exists in the cluster", it.ns, it.ns)))
	}
	return out
}

// servicesSelectingNothing reports Services whose selector matches the
// labels of no pod template (or Pod) of their namespace.
func servicesSelectingNothing(items []item) []Finding {
	templates := map[string][]map[string]string{} // by namespace
	for _, it := range items {
		if t, ok := templateOf(it.typed); ok {
			templates[it.ns] = append(templates[it.ns], t.labels)
		}
	}
	var out []Finding
	for _, it := range items {
		svc, ok := it.typed.(*corev1.Service)
		if !ok || len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		if slices.ContainsFunc(templates[it.ns], func(l map[string]string) bool { return sel.Matches(labels.Set(l)) }) {
			continue
		}
		out = append(out, it.finding(SeverityWarning, "spec.selector", fmt.Sprintf("selects no pod: no Deployment, ReplicaSet, Job or Pod in namespace %q has pod labels %s; check the selector against the workload's template labels", it.ns, sel)))
	}
	return out
}

// missingReferences reports the ConfigMaps, Secrets, keys and
// ServiceAccount a pod template refers to that the repository does not
// define, unless the reference is optional.
func missingReferences(it item, t podTemplate, idx index) []Finding {
	var out []Finding
	warn := func(field, message string) {
		out = append(out, it.finding(SeverityWarning, t.path+"."+field, message))
	}
	configMap := func(field, name, key string, optional *bool) {
		if optional != nil && *optional {
			return
		}
		cm, ok := idx.configMaps[it.ns+"/"+name]
		switch {
		case !ok:
			warn(field, fmt.Sprintf("ConfigMap %s/%s is not defined in the repository: add it, fix the name, or mark the reference optional: true", it.ns, name))
		case key != "":
			if _, ok := cm.Data[key]; !ok {
				if _, ok := cm.BinaryData[key]; !ok {
					warn(field, fmt.Sprintf("ConfigMap %s/%s has no key %q (it has %s)", it.ns, name, key, keyList(cm.Data, cm.BinaryData)))
				}
			}
		}
	}
	secret := func(field, name, key string, optional *bool) {
		if optional != nil && *optional {
			return
		}
		s, ok := idx.secrets[it.ns+"/"+name]
		switch {
		case !ok:
			warn(field, fmt.Sprintf("Secret %s/%s is not defined in the repository: add it, create it in the cluster before syncing, or mark the reference optional: true", it.ns, name))
		case key != "":
			if _, ok := s.Data[key]; !ok {
				warn(field, fmt.Sprintf("Secret %s/%s has no key %q (it has %s)", it.ns, name, key, keyList(nil, s.Data)))
			}
		}
	}
	for i, v := range t.spec.Volumes {
		at := "volumes[" + strconv.Itoa(i) + "]"
		if cm := v.ConfigMap; cm != nil {
			configMap(at+".configMap.name", cm.Name, "", cm.Optional)
		}
		if s := v.Secret; s != nil {
			secret(at+".secret.secretName", s.SecretName, "", s.Optional)
		}
		if p := v.Projected; p != nil {
			for j, src := range p.Sources {
				pat := at + ".projected.sources[" + strconv.Itoa(j) + "]"
				if cm := src.ConfigMap; cm != nil {
					configMap(pat+".configMap.name", cm.Name, "", cm.Optional)
				}
				if s := src.Secret; s != nil {
					secret(pat+".secret.name", s.Name, "", s.Optional)
				}
			}
		}
	}
	containers := func(kind string, cs []corev1.Container) {
		for i, ctr := range cs {
			at := kind + "[" + strconv.Itoa(i) + "]"
			for j, e := range ctr.EnvFrom {
				eat := at + ".envFrom[" + strconv.Itoa(j) + "]"
				if r := e.ConfigMapRef; r != nil {
					configMap(eat+".configMapRef.name", r.Name, "", r.Optional)
				}
				if r := e.SecretRef; r != nil {
					secret(eat+".secretRef.name", r.Name, "", r.Optional)
				}
			}
			for j, e := range ctr.Env {
				if e.ValueFrom == nil {
					continue
				}
				eat := at + ".env[" + strconv.Itoa(j) + "].valueFrom"
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					configMap(eat+".configMapKeyRef", r.Name, r.Key, r.Optional)
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					secret(eat+".secretKeyRef", r.Name, r.Key, r.Optional)
				}
			}
		}
	}
	containers("initContainers", t.spec.InitContainers)
	containers("containers", t.spec.Containers)
	if sa := t.spec.ServiceAccountName; sa != "" && sa != "default" && !idx.serviceAccounts[it.ns+"/"+sa] {
		warn("serviceAccountName", fmt.Sprintf("ServiceAccount %s/%s is not defined in the repository: add it, or the pod cannot be created", it.ns, sa))
	}
	return out
}

// keyList lists the keys of a ConfigMap or Secret for messages.
func keyList(data map[string]string, binary map[string][]byte) string {
	var keys []string
	for k := range data {
		keys = append(keys, strconv.Quote(k))
	}
	for k := range binary {
		keys = append(keys, strconv.Quote(k))
	}
	if len(keys) == 0 {
		return "none"
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}

// policyNamespaces reports Roles and RoleBindings of the repository's
// policy in namespaces that the repository does not define.
func policyNamespaces(set *policies.Set, idx index) []Finding {
	var out []Finding
	check := func(kind string, meta metav1.ObjectMeta) {
		source := meta.Annotations[policies.SourceAnnotation]
		if source == "" || strings.HasPrefix(source, policies.Bootstrap().Name) || idx.namespaces[meta.Namespace] {
			return
		}
		file, line := source, 0
		if i := strings.LastIndexByte(source, ':'); i > 0 {
			if n, err := strconv.Atoi(source[i+1:]); err == nil {
				file, line = source[:i], n
			}
		}
		out = append(out, Finding{Severity: SeverityWarning, File: file, Line: line, Object: kind + " " + meta.Namespace + "/" + meta.Name, Field: "metadata.namespace",
			Message: fmt.Sprintf("namespace %q is not defined in the repository: the policy grants nothing until it exists", meta.Namespace)})
	}
	for _, r := range set.Roles {
		check("Role", r.ObjectMeta)
	}
	for _, b := range set.RoleBindings {
		check("RoleBinding", b.ObjectMeta)
	}
	return out
}
