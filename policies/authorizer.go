package policies

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// MastersGroup is always allowed everything, whatever the policy says, as
// in kube-apiserver: the break-glass group of the admin credentials.
const MastersGroup = "system:masters"

// DeniedReason is the reason Authorize gives when no rule allows a
// request. The API server words the 403 message itself, as
// kube-apiserver does ("User \"bob\" cannot list resource ...").
const DeniedReason = "no RBAC policy matched"

// Attributes describe a request to authorize, as the API server parsed it.
type Attributes struct {
	// User and Groups are who asks.
	User   string
	Groups []string
	// Verb is get, list, watch, create, update, patch, delete,
	// deletecollection, impersonate... for resources, or the lower-cased
	// HTTP method for non-resource paths.
	Verb string
	// APIGroup ("" for core), Resource ("pods"), Subresource ("status"),
	// Namespace ("" for cluster-scoped resources and cluster-wide lists)
	// and Name ("" for list, watch and create) describe a resource request.
	APIGroup, Resource, Subresource, Namespace, Name string
	// ResourceRequest is false for non-resource paths such as /healthz.
	ResourceRequest bool
	// Path is the request path, matched by nonResourceURLs.
	Path string
}

// Authorizer answers requests with Kubernetes RBAC semantics from one Set.
// It is immutable and safe for concurrent use; build a new one for a new
// Set.
type Authorizer struct {
	users  map[string]*grants // by user name, ServiceAccounts included
	groups map[string]*grants // by group name
}

// NewAuthorizer indexes set by subject, so that Authorize only looks at
// the bindings of the requesting user and its groups.
func NewAuthorizer(set *Set) *Authorizer {
	az := &Authorizer{users: map[string]*grants{}, groups: map[string]*grants{}}
	clusterRoles := map[string]*role{}
	for _, cr := range set.ClusterRoles {
		clusterRoles[cr.Name] = compileRole(cr.Rules)
	}
	roles := map[string]*role{}
	for _, r := range set.Roles {
		roles[r.Namespace+"/"+r.Name] = compileRole(r.Rules)
	}
	for _, b := range set.ClusterRoleBindings {
		if r := clusterRoles[b.RoleRef.Name]; r != nil {
			az.bind("ClusterRoleBinding", b.Name, "", b.RoleRef, r, b.Subjects)
		}
	}
	for _, b := range set.RoleBindings {
		r := clusterRoles[b.RoleRef.Name]
		if b.RoleRef.Kind == "Role" {
			r = roles[b.Namespace+"/"+b.RoleRef.Name]
		}
		if r != nil {
			az.bind("RoleBinding", b.Namespace+"/"+b.Name, b.Namespace, b.RoleRef, r, b.Subjects)
		}
	}
	return az
}

// Authorize reports whether a may be done, and why. Members of
// MastersGroup may do anything. Otherwise a request is allowed when a rule
// of a role bound to the user, or to one of its groups, matches it: by a
// ClusterRoleBinding anywhere, by a RoleBinding only inside the binding's
// namespace. Non-resource paths are granted by ClusterRoleBindings only.
func (az *Authorizer) Authorize(a Attributes) (allowed bool, reason string) {
	if slices.Contains(a.Groups, MastersGroup) {
		return true, "RBAC: allowed as a member of " + MastersGroup
	}
	if reason, ok := az.users[a.User].allow(&a); ok {
		return true, reason
	}
	for _, g := range a.Groups {
		if reason, ok := az.groups[g].allow(&a); ok {
			return true, reason
		}
	}
	return false, DeniedReason
}

// grants are the roles bound to one subject.
type grants struct {
	cluster    []grant            // by ClusterRoleBindings
	namespaced map[string][]grant // by RoleBindings, by namespace
}

// grant is one role bound to a subject, with the reason an allowed
// request is given, worded once here rather than on every request.
type grant struct {
	role   *role
	reason string
}

// allow finds a grant allowing a; g may be nil.
func (g *grants) allow(a *Attributes) (string, bool) {
	if g == nil {
		return "", false
	}
	for i := range g.cluster {
		if g.cluster[i].role.allows(a) {
			return g.cluster[i].reason, true
		}
	}
	if !a.ResourceRequest || a.Namespace == "" {
		return "", false
	}
	for _, gr := range g.namespaced[a.Namespace] {
		if gr.role.allows(a) {
			return gr.reason, true
		}
	}
	return "", false
}

// bind records that a binding gives r to subjects, in namespace (empty for
// a ClusterRoleBinding).
func (az *Authorizer) bind(kind, name, namespace string, ref rbacv1.RoleRef, r *role, subjects []rbacv1.Subject) {
	for _, s := range subjects {
		index, key, who := az.users, s.Name, fmt.Sprintf("%s %q", s.Kind, s.Name)
		switch s.Kind {
		case rbacv1.GroupKind:
			index = az.groups
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = namespace
			}
			key = ServiceAccountUser(ns, s.Name)
			who = fmt.Sprintf("ServiceAccount %q", ns+"/"+s.Name)
		}
		g := index[key]
		if g == nil {
			g = &grants{namespaced: map[string][]grant{}}
			index[key] = g
		}
		gr := grant{role: r, reason: fmt.Sprintf("RBAC: allowed by %s %q of %s %q to %s", kind, name, ref.Kind, ref.Name, who)}
		if namespace == "" {
			g.cluster = append(g.cluster, gr)
		} else {
			g.namespaced[namespace] = append(g.namespaced[namespace], gr)
		}
	}
}

// ServiceAccountUser is the user name of a ServiceAccount's tokens,
// "system:serviceaccount:<namespace>:<name>".
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// role is a role's rules, compiled for matching.
type role struct {
	rules  []rule
	source []rbacv1.PolicyRule
}

// rule is one PolicyRule with its wildcards found once.
type rule struct {
	verbs, groups, resources, names []string
	anyVerb, anyGroup, anyResource  bool
	urls                            []string // exact paths
	urlPrefixes                     []string // paths ending in "*", without it
}

func compileRole(rules []rbacv1.PolicyRule) *role {
	r := &role{source: rules, rules: make([]rule, len(rules))}
	for i, pr := range rules {
		c := rule{
			verbs: pr.Verbs, groups: pr.APIGroups, resources: pr.Resources, names: pr.ResourceNames,
			anyVerb:     slices.Contains(pr.Verbs, rbacv1.VerbAll),
			anyGroup:    slices.Contains(pr.APIGroups, rbacv1.APIGroupAll),
			anyResource: slices.Contains(pr.Resources, rbacv1.ResourceAll),
		}
		for _, u := range pr.NonResourceURLs {
			if prefix, ok := strings.CutSuffix(u, "*"); ok {
				c.urlPrefixes = append(c.urlPrefixes, prefix)
			} else {
				c.urls = append(c.urls, u)
			}
		}
		r.rules[i] = c
	}
	return r
}

func (r *role) allows(a *Attributes) bool {
	for i := range r.rules {
		if r.rules[i].allows(a) {
			return true
		}
	}
	return false
}

// allows matches a as kube-apiserver's RBAC does: the verb, then for a
// resource request the API group, resource (exact "pods" or "pods/status",
// "*", or "*/status" for a subresource) and resource name (a rule with
// names never matches a request without one, such as list or create); for
// any other request the path (exact, or a prefix ending in "*").
func (r *rule) allows(a *Attributes) bool {
	if !r.anyVerb && !slices.Contains(r.verbs, a.Verb) {
		return false
	}
	if !a.ResourceRequest {
		return slices.Contains(r.urls, a.Path) || hasPrefixIn(r.urlPrefixes, a.Path)
	}
	return (r.anyGroup || slices.Contains(r.groups, a.APIGroup)) &&
		(r.anyResource || matchResource(r.resources, a.Resource, a.Subresource)) &&
		(len(r.names) == 0 || slices.Contains(r.names, a.Name))
}

// matchResource reports whether one of resources names resource (without a
// subresource) or resource/subresource, or is "*/subresource". It does not
// build the combined name, to keep Authorize free of allocations.
func matchResource(resources []string, resource, subresource string) bool {
	for _, r := range resources {
		if subresource == "" {
			if r == resource {
				return true
			}
			continue
		}
		if len(r) == len(resource)+1+len(subresource) && r[len(resource)] == '/' &&
			r[:len(resource)] == resource && r[len(resource)+1:] == subresource {
			return true
		}
		if len(r) == len(subresource)+2 && r[0] == '*' && r[1] == '/' && r[2:] == subresource {
			return true
		}
	}
	return false
}

func hasPrefixIn(prefixes []string, s string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
