package diff

import (
	"cmp"
	"slices"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"

	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/reconciler/gitsync/validate"
)

// RBAC is how the effective permissions of subjects change.
type RBAC struct {
	// Changes are the permissions gained and lost, by subject, scope and
	// resource.
	Changes []PermissionChange `json:"changes"`
	// Note says why permissions could not be compared (the head's policy
	// files have errors: the API servers would keep the policy in force).
	Note string `json:"note,omitempty"`
}

// PermissionChange is verbs on one resource that a subject gains or loses
// in one namespace (or cluster-wide).
type PermissionChange struct {
	// Subject is "User alice", "Group team-demo" or "ServiceAccount
	// demo/ci".
	Subject string `json:"subject"`
	// Gains is true for permissions gained, false for permissions lost.
	Gains bool     `json:"gains"`
	Verbs []string `json:"verbs"`
	// Resource is "deployments.apps", "pods/log", "*" or, for a
	// non-resource URL, its path ("/metrics").
	Resource      string   `json:"resource"`
	ResourceNames []string `json:"resourceNames,omitempty"`
	// Namespace is where; "" is cluster-wide (every namespace and the
	// cluster-scoped resources).
	Namespace string `json:"namespace,omitempty"`
}

// String is "User alice gains create, delete on deployments.apps in
// namespace demo".
func (c PermissionChange) String() string {
	var b strings.Builder
	b.WriteString(c.Subject)
	if c.Gains {
		b.WriteString(" gains ")
	} else {
		b.WriteString(" loses ")
	}
	b.WriteString(strings.Join(c.Verbs, ", "))
	b.WriteString(" on ")
	b.WriteString(c.Resource)
	if len(c.ResourceNames) > 0 {
		b.WriteString(" named " + strings.Join(c.ResourceNames, ", "))
	}
	b.WriteString(" " + c.Scope())
	return b.String()
}

// Scope is "in namespace demo" or "cluster-wide".
func (c PermissionChange) Scope() string {
	if c.Namespace == "" {
		return "cluster-wide"
	}
	return "in namespace " + c.Namespace
}

// policy is one side's RBAC policy: set, or invalid.
type policy struct {
	set     *policies.Set
	invalid bool
}

// policyOf is the policy a revision puts in force: its report's policy,
// the bootstrap policy alone when the revision has no policies folder, or
// invalid when its policy files have errors.
func policyOf(r *validate.Report, opts Options) policy {
	if r.Policy != nil {
		return policy{set: r.Policy}
	}
	dir := cmp.Or(opts.PolicyDir, validate.PolicyDir)
	for _, f := range r.Findings {
		if f.Severity == validate.SeverityError && (f.File == dir || strings.HasPrefix(f.File, dir+"/")) {
			return policy{invalid: true}
		}
	}
	set, err := policies.LoadSources(policies.Bootstrap())
	if err != nil {
		return policy{invalid: true} // the built-in policy is tested to load
	}
	return policy{set: set}
}

// compareRBAC is how effective permissions change from base to head, for
// every subject bound in either.
func compareRBAC(base, head policy) RBAC {
	switch {
	case head.invalid:
		return RBAC{Changes: []PermissionChange{}, Note: "the policy files of the head have errors (see the validation findings): the API servers would keep the policy in force, so no permission changes"}
	case base.invalid:
		return RBAC{Changes: []PermissionChange{}, Note: "the policy files of the base have errors: permissions cannot be compared"}
	}
	azBase, azHead := policies.NewAuthorizer(base.set), policies.NewAuthorizer(head.set)
	subjects, namespaces := boundSubjects(base.set, head.set)
	changes := []PermissionChange{}
	for _, s := range subjects {
		user, groups := s.identity()
		clusterBase := rulesFor(azBase, user, groups, "")
		clusterHead := rulesFor(azHead, user, groups, "")
		changes = append(changes, permissionDelta(s.String(), "", clusterBase, clusterHead, nil, nil)...)
		for _, ns := range namespaces {
			changes = append(changes, permissionDelta(s.String(), ns,
				rulesFor(azBase, user, groups, ns), rulesFor(azHead, user, groups, ns), clusterBase, clusterHead)...)
		}
	}
	return RBAC{Changes: changes}
}

// subject is a binding's subject.
type subject struct{ kind, namespace, name string }

func (s subject) String() string {
	if s.kind == rbacv1.ServiceAccountKind {
		return s.kind + " " + s.namespace + "/" + s.name
	}
	return s.kind + " " + s.name
}

// identity is who the subject authenticates as.
func (s subject) identity() (string, []string) {
	switch s.kind {
	case rbacv1.GroupKind:
		return "", []string{s.name}
	case rbacv1.ServiceAccountKind:
		return policies.ServiceAccountUser(s.namespace, s.name), nil
	}
	return s.name, nil
}

// boundSubjects lists the subjects of every binding of sets, and the
// namespaces of their RoleBindings, sorted.
func boundSubjects(sets ...*policies.Set) ([]subject, []string) {
	seen := map[subject]bool{}
	nsSeen := map[string]bool{}
	var subjects []subject
	var namespaces []string
	add := func(ss []rbacv1.Subject, bindingNS string) {
		for _, s := range ss {
			sub := subject{kind: s.Kind, name: s.Name}
			if s.Kind == rbacv1.ServiceAccountKind {
				sub.namespace = cmp.Or(s.Namespace, bindingNS)
			}
			if !seen[sub] {
				seen[sub] = true
				subjects = append(subjects, sub)
			}
		}
	}
	for _, set := range sets {
		for _, b := range set.ClusterRoleBindings {
			add(b.Subjects, "")
		}
		for _, b := range set.RoleBindings {
			add(b.Subjects, b.Namespace)
			if !nsSeen[b.Namespace] {
				nsSeen[b.Namespace] = true
				namespaces = append(namespaces, b.Namespace)
			}
		}
	}
	slices.SortFunc(subjects, func(a, b subject) int { return strings.Compare(a.String(), b.String()) })
	slices.Sort(namespaces)
	return subjects, namespaces
}

// rulesFor is what user in groups may do in namespace ("" cluster-wide),
// as policy rules.
func rulesFor(az *policies.Authorizer, user string, groups []string, namespace string) []rbacv1.PolicyRule {
	res, nonRes := az.RulesFor(user, groups, namespace)
	out := make([]rbacv1.PolicyRule, 0, len(res)+len(nonRes))
	for _, r := range res {
		out = append(out, resourceRule(r))
	}
	for _, r := range nonRes {
		out = append(out, rbacv1.PolicyRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
	}
	return out
}

func resourceRule(r authorizationv1.ResourceRule) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames}
}

// permissionDelta is what subject gains and loses in namespace going from
// the rules base to head. In a namespace, what the cluster-wide rules
// (clusterBase, clusterHead) already grant is reported cluster-wide and
// left out here.
func permissionDelta(subject, namespace string, base, head, clusterBase, clusterHead []rbacv1.PolicyRule) []PermissionChange {
	type group struct {
		gains    bool
		resource string
		names    string
	}
	verbs := map[group][]string{}
	var order []group
	note := func(gains bool, a atom) {
		g := group{gains: gains, resource: a.resource, names: strings.Join(a.rule.ResourceNames, ",")}
		if _, ok := verbs[g]; !ok {
			order = append(order, g)
		}
		if !slices.Contains(verbs[g], a.verb) {
			verbs[g] = append(verbs[g], a.verb)
		}
	}
	for _, a := range atoms(head) {
		if !covers(base, a.rule) && (clusterHead == nil || !covers(clusterHead, a.rule)) {
			note(true, a)
		}
	}
	for _, a := range atoms(base) {
		if !covers(head, a.rule) && (clusterBase == nil || !covers(clusterBase, a.rule)) {
			note(false, a)
		}
	}
	out := make([]PermissionChange, 0, len(order))
	for _, g := range order {
		v := verbs[g]
		slices.Sort(v)
		c := PermissionChange{Subject: subject, Gains: g.gains, Verbs: v, Resource: g.resource, Namespace: namespace}
		if g.names != "" {
			c.ResourceNames = strings.Split(g.names, ",")
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b PermissionChange) int {
		return cmp.Or(-cmpBool(a.Gains, b.Gains), strings.Compare(a.Resource, b.Resource))
	})
	return out
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// atom is one verb on one resource (or URL).
type atom struct {
	verb, resource string
	rule           rbacv1.PolicyRule
}

// atoms splits rules into single verbs on single resources.
func atoms(rules []rbacv1.PolicyRule) []atom {
	var out []atom
	for _, r := range rules {
		for _, verb := range r.Verbs {
			for _, url := range r.NonResourceURLs {
				out = append(out, atom{verb: verb, resource: url, rule: rbacv1.PolicyRule{Verbs: []string{verb}, NonResourceURLs: []string{url}}})
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					out = append(out, atom{verb: verb, resource: resourceName(g, res), rule: rbacv1.PolicyRule{
						Verbs: []string{verb}, APIGroups: []string{g}, Resources: []string{res}, ResourceNames: r.ResourceNames,
					}})
				}
			}
		}
	}
	return out
}

// resourceName is "deployments.apps", "pods/log" or "*" ("*.*" is "*").
func resourceName(group, resource string) string {
	if group == "" || (group == "*" && resource == "*") {
		return resource
	}
	res, sub, found := strings.Cut(resource, "/")
	if found {
		return res + "." + group + "/" + sub
	}
	return resource + "." + group
}

// covers reports whether owner allows everything rule does.
func covers(owner []rbacv1.PolicyRule, rule rbacv1.PolicyRule) bool {
	ok, _ := rbacvalidation.Covers(owner, []rbacv1.PolicyRule{rule})
	return ok
}
