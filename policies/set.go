package policies

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SourceAnnotation is set on every loaded object to the file and line it
// was read from, so `kubectl get clusterrole view -o yaml` tells where to
// change it.
const SourceAnnotation = "berth.io/policy-source"

// Set is a validated, immutable collection of RBAC objects, each kind
// sorted by namespace and name. A ClusterRole with an aggregationRule holds
// the rules it aggregates, as kube-controller-manager would write them.
type Set struct {
	Roles               []*rbacv1.Role
	ClusterRoles        []*rbacv1.ClusterRole
	RoleBindings        []*rbacv1.RoleBinding
	ClusterRoleBindings []*rbacv1.ClusterRoleBinding
	// Warnings are problems that do not stop the set from being used: a
	// binding to a role that does not exist (upstream allows it; it grants
	// nothing until the role appears), or a rule that can match nothing.
	Warnings []Problem
}

// Load reads, decodes and validates every policy file below dirs (the
// bootstrap set is not included: see Bootstrap). On error the *LoadError
// lists every problem found in every file.
func Load(dirs ...string) (*Set, error) {
	sources := make([]Source, len(dirs))
	for i, d := range dirs {
		sources[i] = Dir(d)
	}
	return LoadSources(sources...)
}

// LoadSources is Load for any Sources. Object names must be unique across
// all of them.
func LoadSources(sources ...Source) (*Set, error) {
	r := load(sources)
	if len(r.errors) > 0 {
		return nil, &LoadError{Problems: r.errors}
	}
	return r.set, nil
}

// loadResult is what one load of the policy files found.
type loadResult struct {
	set      *Set // nil when errors is not empty
	errors   []Problem
	warnings []Problem
	dirs     []string // directories on disk, for watching
	digest   [sha256.Size]byte
}

// load reads sources in order, each in lexical file order, so the result
// and its problems are deterministic.
func load(sources []Source) loadResult {
	var r loadResult
	h := sha256.New()
	b := builder{seen: map[string]*document{}}
	for _, src := range sources {
		t := src.read()
		fmt.Fprintf(h, "source %q\n", src.Name)
		r.dirs = append(r.dirs, t.dirs...)
		b.errors = append(b.errors, t.problems...)
		for _, p := range t.problems {
			fmt.Fprintf(h, "problem %s\n", p)
		}
		for _, f := range t.files {
			fmt.Fprintf(h, "file %q %d\n", f.name, len(f.data))
			h.Write(f.data)
			docs, problems := decodeFile(f)
			for _, d := range docs {
				problems = append(problems, b.add(d)...)
			}
			slices.SortStableFunc(problems, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
			b.errors = append(b.errors, problems...)
		}
	}
	h.Sum(r.digest[:0])
	set := b.build()
	r.errors, r.warnings = b.errors, set.Warnings
	if len(r.errors) == 0 {
		r.set = set
	}
	return r
}

// builder collects valid documents into a Set.
type builder struct {
	seen                map[string]*document // by kind/namespace/name
	roles               []*document
	clusterRoles        []*document
	roleBindings        []*document
	clusterRoleBindings []*document
	errors, warnings    []Problem
}

// add defaults and validates d, and keeps it when it is valid and its name
// is new. It returns d's errors.
func (b *builder) add(d *document) []Problem {
	setDefaults(d.obj)
	if invalid := validate(d.obj); len(invalid) > 0 {
		return d.fieldProblems(invalid)
	}
	b.warnings = append(b.warnings, d.fieldProblems(lint(d.obj))...)
	key := d.kind + "/" + d.obj.GetNamespace() + "/" + d.obj.GetName()
	if first, ok := b.seen[key]; ok {
		return []Problem{d.problem("metadata.name", fmt.Sprintf("duplicate: already defined at %s:%d", first.file, first.line))}
	}
	b.seen[key] = d
	d.obj.SetAnnotations(withAnnotation(d.obj.GetAnnotations(), SourceAnnotation, fmt.Sprintf("%s:%d", d.file, d.line)))
	switch d.kind {
	case "Role":
		b.roles = append(b.roles, d)
	case "ClusterRole":
		b.clusterRoles = append(b.clusterRoles, d)
	case "RoleBinding":
		b.roleBindings = append(b.roleBindings, d)
	case "ClusterRoleBinding":
		b.clusterRoleBindings = append(b.clusterRoleBindings, d)
	}
	return nil
}

// build checks role references, aggregates ClusterRoles and sorts.
func (b *builder) build() *Set {
	for _, d := range b.roleBindings {
		rb := d.obj.(*rbacv1.RoleBinding)
		b.checkRef(d, rb.RoleRef, rb.Namespace)
	}
	for _, d := range b.clusterRoleBindings {
		b.checkRef(d, d.obj.(*rbacv1.ClusterRoleBinding).RoleRef, "")
	}
	s := &Set{
		Roles:               objects[*rbacv1.Role](b.roles),
		ClusterRoles:        objects[*rbacv1.ClusterRole](b.clusterRoles),
		RoleBindings:        objects[*rbacv1.RoleBinding](b.roleBindings),
		ClusterRoleBindings: objects[*rbacv1.ClusterRoleBinding](b.clusterRoleBindings),
		Warnings:            b.warnings,
	}
	aggregate(s.ClusterRoles)
	return s
}

// checkRef warns when the role ref names is not in the set.
func (b *builder) checkRef(d *document, ref rbacv1.RoleRef, namespace string) {
	ns := ""
	if ref.Kind == "Role" {
		ns = namespace
	}
	if _, ok := b.seen[ref.Kind+"/"+ns+"/"+ref.Name]; ok {
		return
	}
	b.warnings = append(b.warnings, d.problem("roleRef.name",
		fmt.Sprintf("%s not found; the binding grants nothing until it exists", objectName(ref.Kind, ns, ref.Name))))
}

// fieldProblems turns validation errors into problems at their fields.
func (d *document) fieldProblems(errs field.ErrorList) []Problem {
	out := make([]Problem, 0, len(errs))
	for _, e := range errs {
		out = append(out, d.problem(e.Field, e.ErrorBody()))
	}
	return out
}

// objects returns the objects of docs as T, sorted by namespace and name.
func objects[T policyObject](docs []*document) []T {
	out := make([]T, len(docs))
	for i, d := range docs {
		out[i] = d.obj.(T)
	}
	slices.SortFunc(out, func(a, b T) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
	return out
}

func withAnnotation(m map[string]string, key, value string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[key] = value
	return m
}

// aggregate sets the rules of each ClusterRole with an aggregationRule to
// the union of the rules of the ClusterRoles its selectors match, in name
// order, until nothing changes (an aggregated role may itself be
// aggregated into another, as edit is into admin upstream).
func aggregate(roles []*rbacv1.ClusterRole) {
	type target struct {
		role      *rbacv1.ClusterRole
		selectors []labels.Selector
	}
	var targets []target
	for _, r := range roles {
		if r.AggregationRule == nil {
			continue
		}
		t := target{role: r}
		for i := range r.AggregationRule.ClusterRoleSelectors {
			// Validated already, so the conversion cannot fail.
			if sel, err := metav1.LabelSelectorAsSelector(&r.AggregationRule.ClusterRoleSelectors[i]); err == nil {
				t.selectors = append(t.selectors, sel)
			}
		}
		r.Rules = nil
		targets = append(targets, t)
	}
	for changed := len(targets) > 0; changed; {
		changed = false
		for _, t := range targets {
			seen := map[string]bool{}
			for _, rule := range t.role.Rules {
				seen[ruleKey(rule)] = true
			}
			for _, other := range roles {
				if other == t.role || !matchesAny(t.selectors, other.Labels) {
					continue
				}
				for _, rule := range other.Rules {
					if k := ruleKey(rule); !seen[k] {
						seen[k] = true
						t.role.Rules = append(t.role.Rules, *rule.DeepCopy())
						changed = true
					}
				}
			}
		}
	}
}

func matchesAny(selectors []labels.Selector, l map[string]string) bool {
	for _, s := range selectors {
		if s.Matches(labels.Set(l)) {
			return true
		}
	}
	return false
}

// ruleKey identifies a rule's content, for de-duplication.
func ruleKey(r rbacv1.PolicyRule) string {
	return strings.Join([]string{
		strings.Join(r.Verbs, ","), strings.Join(r.APIGroups, ","), strings.Join(r.Resources, ","),
		strings.Join(r.ResourceNames, ","), strings.Join(r.NonResourceURLs, ","),
	}, ";")
}
