package policies

import (
	"slices"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// RulesFor lists what user, in groups, may do in namespace (cluster-wide
// grants only when namespace is empty), as SelfSubjectRulesReview reports
// it for `kubectl auth can-i --list`: the rules of every role bound to the
// user or its groups by a ClusterRoleBinding, or by a RoleBinding in
// namespace. Non-resource rules come from ClusterRoleBindings only, since
// only those grant paths. A role bound several times is listed once.
// Members of MastersGroup get "*" on everything first. The result is the
// caller's to modify.
func (az *Authorizer) RulesFor(user string, groups []string, namespace string) ([]authorizationv1.ResourceRule, []authorizationv1.NonResourceRule) {
	var res []authorizationv1.ResourceRule
	var nonRes []authorizationv1.NonResourceRule
	if slices.Contains(groups, MastersGroup) {
		all := []string{"*"}
		res = append(res, authorizationv1.ResourceRule{Verbs: all, APIGroups: all, Resources: all})
		nonRes = append(nonRes, authorizationv1.NonResourceRule{Verbs: all, NonResourceURLs: all})
	}
	seen := map[*role]bool{}
	add := func(r *role, clusterWide bool) {
		if seen[r] {
			return
		}
		seen[r] = true
		for _, pr := range r.source {
			if len(pr.NonResourceURLs) > 0 {
				if clusterWide {
					nonRes = append(nonRes, authorizationv1.NonResourceRule{Verbs: slices.Clone(pr.Verbs), NonResourceURLs: slices.Clone(pr.NonResourceURLs)})
				}
				continue
			}
			res = append(res, resourceRule(pr))
		}
	}
	subjects := append([]*grants{az.users[user]}, lookup(az.groups, groups)...)
	subjects = slices.DeleteFunc(subjects, func(g *grants) bool { return g == nil })
	// Cluster-wide grants first, so that a role also bound in the namespace
	// keeps its non-resource rules.
	for _, g := range subjects {
		for _, gr := range g.cluster {
			add(gr.role, true)
		}
	}
	for _, g := range subjects {
		for _, gr := range g.namespaced[namespace] {
			add(gr.role, false)
		}
	}
	return res, nonRes
}

func resourceRule(pr rbacv1.PolicyRule) authorizationv1.ResourceRule {
	return authorizationv1.ResourceRule{
		Verbs:         slices.Clone(pr.Verbs),
		APIGroups:     slices.Clone(pr.APIGroups),
		Resources:     slices.Clone(pr.Resources),
		ResourceNames: slices.Clone(pr.ResourceNames),
	}
}

func lookup(index map[string]*grants, keys []string) []*grants {
	out := make([]*grants, len(keys))
	for i, k := range keys {
		out[i] = index[k]
	}
	return out
}
