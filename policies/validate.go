package policies

import (
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// setDefaults fills in what kube-apiserver's rbac/v1 defaulting does: the
// apiGroup of a roleRef, and of User and Group subjects.
func setDefaults(obj policyObject) {
	switch o := obj.(type) {
	case *rbacv1.RoleBinding:
		defaultBinding(&o.RoleRef, o.Subjects)
	case *rbacv1.ClusterRoleBinding:
		defaultBinding(&o.RoleRef, o.Subjects)
	}
}

func defaultBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		if s := &subjects[i]; s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

// validate checks obj as kube-apiserver's RBAC validation does. Rules of
// namespaced Roles may not name non-resource URLs; a ClusterRoleBinding may
// only reference a ClusterRole.
func validate(obj policyObject) field.ErrorList {
	meta := field.NewPath("metadata")
	switch o := obj.(type) {
	case *rbacv1.Role:
		errs := validateMeta(&o.ObjectMeta, true, meta)
		return append(errs, validateRules(o.Rules, true, field.NewPath("rules"))...)
	case *rbacv1.ClusterRole:
		errs := validateMeta(&o.ObjectMeta, false, meta)
		errs = append(errs, validateRules(o.Rules, false, field.NewPath("rules"))...)
		return append(errs, validateAggregation(o.AggregationRule, field.NewPath("aggregationRule"))...)
	case *rbacv1.RoleBinding:
		errs := validateMeta(&o.ObjectMeta, true, meta)
		errs = append(errs, validateRoleRef(o.RoleRef, true, field.NewPath("roleRef"))...)
		return append(errs, validateSubjects(o.Subjects, true, field.NewPath("subjects"))...)
	case *rbacv1.ClusterRoleBinding:
		errs := validateMeta(&o.ObjectMeta, false, meta)
		errs = append(errs, validateRoleRef(o.RoleRef, false, field.NewPath("roleRef"))...)
		return append(errs, validateSubjects(o.Subjects, false, field.NewPath("subjects"))...)
	}
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("unexpected type %T", obj))}
}

// validateMeta requires a name that is a valid path segment (RBAC names may
// hold colons, "system:node"), and a namespace exactly when namespaced.
func validateMeta(m *metav1.ObjectMeta, namespaced bool, p *field.Path) field.ErrorList {
	return apivalidation.ValidateObjectMeta(m, namespaced, path.ValidatePathSegmentName, p)
}

func validateRules(rules []rbacv1.PolicyRule, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		rp := p.Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(rp.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(rp.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(rp.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(rp.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(rp.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

func validateAggregation(rule *rbacv1.AggregationRule, p *field.Path) field.ErrorList {
	if rule == nil {
		return nil
	}
	sp := p.Child("clusterRoleSelectors")
	if len(rule.ClusterRoleSelectors) == 0 {
		return field.ErrorList{field.Required(sp, "at least one clusterRoleSelector is required if aggregationRule is set")}
	}
	var errs field.ErrorList
	for i := range rule.ClusterRoleSelectors {
		errs = append(errs, metav1validation.ValidateLabelSelector(&rule.ClusterRoleSelectors[i], metav1validation.LabelSelectorValidationOptions{}, sp.Index(i))...)
	}
	return errs
}

// validateRoleRef checks ref after defaulting. A RoleBinding's Role is
// always in the binding's namespace: a roleRef has no namespace to say
// otherwise.
func validateRoleRef(ref rbacv1.RoleRef, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(p.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"Role", "ClusterRole"}
	}
	if !slices.Contains(kinds, ref.Kind) {
		errs = append(errs, field.NotSupported(p.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	for _, msg := range path.ValidatePathSegmentName(ref.Name, false) {
		errs = append(errs, field.Invalid(p.Child("name"), ref.Name, msg))
	}
	return errs
}

// validateSubjects checks subjects after defaulting. A ServiceAccount
// subject of a RoleBinding may leave out its namespace (the binding's);
// one of a ClusterRoleBinding may not.
func validateSubjects(subjects []rbacv1.Subject, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range subjects {
		sp := p.Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.Name != "" {
				for _, msg := range apivalidation.NameIsDNSSubdomain(s.Name, false) {
					errs = append(errs, field.Invalid(sp.Child("name"), s.Name, msg))
				}
			}
			if s.APIGroup != "" {
				errs = append(errs, field.NotSupported(sp.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if s.Namespace == "" && !namespaced {
				errs = append(errs, field.Required(sp.Child("namespace"), "a ServiceAccount subject of a ClusterRoleBinding needs a namespace"))
			}
			if s.Namespace != "" {
				for _, msg := range apivalidation.ValidateNamespaceName(s.Namespace, false) {
					errs = append(errs, field.Invalid(sp.Child("namespace"), s.Namespace, msg))
				}
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.APIGroup != rbacv1.GroupName {
				errs = append(errs, field.NotSupported(sp.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
			}
		default:
			errs = append(errs, field.NotSupported(sp.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
		}
	}
	return errs
}

// lint finds what is valid but cannot do what its author meant.
func lint(obj policyObject) field.ErrorList {
	switch o := obj.(type) {
	case *rbacv1.Role:
		return lintRules(o.Rules, field.NewPath("rules"))
	case *rbacv1.ClusterRole:
		errs := lintRules(o.Rules, field.NewPath("rules"))
		if o.AggregationRule != nil && len(o.Rules) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("rules"), "", "ignored: the rules of a ClusterRole with an aggregationRule are those of the ClusterRoles it selects"))
		}
		return errs
	}
	return nil
}

// lintRules warns of resources such as "pods/*", which RBAC matches
// literally (only "*" and "*/subresource" are wildcards), and of
// non-resource URLs that no request path can match.
func lintRules(rules []rbacv1.PolicyRule, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		for j, res := range r.Resources {
			if res != rbacv1.ResourceAll && !strings.HasPrefix(res, "*/") && strings.Contains(res, "*") {
				errs = append(errs, field.Invalid(p.Index(i).Child("resources").Index(j), res,
					`matches no request: only "*" and "*/<subresource>" are wildcards; list subresources such as "pods/status" one by one`))
			}
		}
		for j, u := range r.NonResourceURLs {
			star := strings.Index(u, "*")
			if (u != "*" && !strings.HasPrefix(u, "/")) || (star >= 0 && star != len(u)-1) {
				errs = append(errs, field.Invalid(p.Index(i).Child("nonResourceURLs").Index(j), u,
					`matches no request: a non-resource URL is a path starting with "/", optionally ending in "*"`))
			}
		}
	}
	return errs
}
