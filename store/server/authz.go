package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/store/apiserver"
	"github.com/berth-io/berth/store/authn"
	"github.com/berth-io/berth/store/registry"
)

// policyAuthorizer is what the API needs of the file-backed RBAC policies.
type policyAuthorizer interface {
	Authorize(a policies.Attributes) (allowed bool, reason string)
}

// rbac adapts the policies' authorizer to the API server's requests.
type rbac struct{ policies policyAuthorizer }

// Authorize checks user's request against the RBAC policy files.
func (r rbac) Authorize(user *authn.User, info apiserver.RequestInfo) (bool, string) {
	allowed, reason := r.policies.Authorize(policies.Attributes{
		User: user.Name, Groups: user.Groups, Verb: info.Verb,
		APIGroup: info.APIGroup, Resource: info.Resource, Subresource: info.Subresource,
		Namespace: info.Namespace, Name: info.Name, ResourceRequest: info.IsResource, Path: info.Path,
	})
	if allowed {
		return true, ""
	}
	return false, reason
}

// impersonation applies Impersonate-* headers when RBAC grants the
// requester the impersonate verb on what it asks for.
func (r rbac) impersonation(req *http.Request, requester *authn.User) (*authn.User, error) {
	user, err := authn.Impersonate(req, requester, func(u *authn.User, verb, group, resource, namespace, name string) bool {
		resource, sub, _ := strings.Cut(resource, "/")
		ok, _ := r.Authorize(u, apiserver.RequestInfo{IsResource: true, Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Namespace: namespace, Name: name})
		return ok
	})
	var denied *authn.ForbiddenError
	switch {
	case err == nil:
		return user, nil
	case errors.As(err, &denied):
		return nil, apierrors.NewForbidden(schema.GroupResource{}, "", err)
	case errors.Is(err, authn.ErrBadImpersonation):
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return nil, err
}

// accessReview answers SelfSubjectAccessReview, SubjectAccessReview and
// LocalSubjectAccessReview: may this user do this?
func (r rbac) accessReview(_ context.Context, requester *authn.User, obj k8sruntime.Object) (k8sruntime.Object, error) {
	var (
		spec      *authorizationv1.SubjectAccessReviewSpec
		status    *authorizationv1.SubjectAccessReviewStatus
		user      = requester
		namespace string
	)
	switch review := obj.(type) {
	case *authorizationv1.SelfSubjectAccessReview:
		spec = &authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: review.Spec.ResourceAttributes, NonResourceAttributes: review.Spec.NonResourceAttributes}
		status = &review.Status
	case *authorizationv1.SubjectAccessReview:
		spec, status = &review.Spec, &review.Status
		user = &authn.User{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	case *authorizationv1.LocalSubjectAccessReview:
		spec, status = &review.Spec, &review.Status
		user = &authn.User{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
		namespace = review.Namespace
		if spec.ResourceAttributes == nil || (spec.ResourceAttributes.Namespace != "" && spec.ResourceAttributes.Namespace != namespace) {
			return nil, apierrors.NewBadRequest("spec.resourceAttributes.namespace must match metadata.namespace")
		}
	default:
		return nil, apierrors.NewBadRequest("not an access review")
	}
	info, err := accessReviewInfo(spec.ResourceAttributes, spec.NonResourceAttributes)
	if err != nil {
		return nil, err
	}
	if namespace != "" {
		info.Namespace = namespace
	}
	allowed, reason := r.Authorize(user, info)
	*status = authorizationv1.SubjectAccessReviewStatus{Allowed: allowed, Reason: reason}
	if a, ok := obj.(metav1.Object); ok {
		a.SetCreationTimestamp(metav1.Now())
	}
	return obj, nil
}

// rulesReview answers SelfSubjectRulesReview (kubectl auth can-i --list).
func rulesReview(pol *policies.Store) apiserver.VirtualFunc {
	return func(_ context.Context, user *authn.User, obj k8sruntime.Object) (k8sruntime.Object, error) {
		review := obj.(*authorizationv1.SelfSubjectRulesReview)
		if review.Spec.Namespace == "" {
			return nil, apierrors.NewBadRequest("spec.namespace is required")
		}
		resources, nonResources := pol.RulesFor(user.Name, user.Groups, review.Spec.Namespace)
		review.Status = authorizationv1.SubjectRulesReviewStatus{ResourceRules: resources, NonResourceRules: nonResources}
		review.CreationTimestamp = metav1.Now()
		return review, nil
	}
}

// policyObjects serves the RBAC objects of the policy files, read-only.
func policyObjects(pol *policies.Store) func(kind *registry.Kind) []k8sruntime.Object {
	return func(kind *registry.Kind) []k8sruntime.Object {
		objs := pol.Objects()
		var out []k8sruntime.Object
		switch kind.GVK.Kind {
		case "Role":
			for _, o := range objs.Roles {
				out = append(out, withKind(o, kind))
			}
		case "ClusterRole":
			for _, o := range objs.ClusterRoles {
				out = append(out, withKind(o, kind))
			}
		case "RoleBinding":
			for _, o := range objs.RoleBindings {
				out = append(out, withKind(o, kind))
			}
		case "ClusterRoleBinding":
			for _, o := range objs.ClusterRoleBindings {
				out = append(out, withKind(o, kind))
			}
		}
		return out
	}
}

// withKind is a copy of obj with its apiVersion and kind set.
func withKind(obj k8sruntime.Object, kind *registry.Kind) k8sruntime.Object {
	out := obj.DeepCopyObject()
	out.GetObjectKind().SetGroupVersionKind(kind.GVK)
	return out
}

// policyStatusHandler shows admins the policy generation in force and the
// problems of the latest load, with file:line.
func policyStatusHandler(pol *policies.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(pol.Status())
	})
}
