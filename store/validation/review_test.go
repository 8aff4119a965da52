package validation

import (
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func TestTokenReview(t *testing.T) {
	expectValid(t, Validate(&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "abc"}}))
	expectError(t, Validate(&authenticationv1.TokenReview{}), "spec.token", required, "")
	expectValid(t, Validate(&authenticationv1.SelfSubjectReview{}))
}

func TestSubjectAccessReview(t *testing.T) {
	base := func() *authorizationv1.SubjectAccessReview {
		return &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: "alice", ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods", Namespace: "shop"}}}
	}
	runCases(t, base, func(r *authorizationv1.SubjectAccessReview) field.ErrorList { return Validate(r) }, []errCase[*authorizationv1.SubjectAccessReview]{
		{"both kinds of attributes", func(r *authorizationv1.SubjectAccessReview) {
			r.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Path: "/healthz", Verb: "get"}
		}, "spec.nonResourceAttributes", invalid, "cannot be specified in combination with resourceAttributes"},
		{"no attributes", func(r *authorizationv1.SubjectAccessReview) { r.Spec.ResourceAttributes = nil }, "spec.resourceAttributes", invalid,
			"exactly one of nonResourceAttributes or resourceAttributes must be specified"},
		{"nobody", func(r *authorizationv1.SubjectAccessReview) { r.Spec.User = "" }, "spec.user", invalid, "at least one of user or group must be specified"},
		{"metadata", func(r *authorizationv1.SubjectAccessReview) { r.Name = "x" }, "metadata", invalid, "must be empty"},
	})
}

func TestSelfAndLocalSubjectAccessReview(t *testing.T) {
	self := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}}}
	expectValid(t, Validate(self))
	expectError(t, Validate(&authorizationv1.SelfSubjectAccessReview{}), "spec.resourceAttributes", invalid, "")

	local := func() *authorizationv1.LocalSubjectAccessReview {
		return &authorizationv1.LocalSubjectAccessReview{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}, Spec: authorizationv1.SubjectAccessReviewSpec{
			Groups: []string{"devs"}, ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Resource: "pods", Namespace: "shop"}}}
	}
	runCases(t, local, func(r *authorizationv1.LocalSubjectAccessReview) field.ErrorList { return Validate(r) }, []errCase[*authorizationv1.LocalSubjectAccessReview]{
		{"namespace mismatch", func(r *authorizationv1.LocalSubjectAccessReview) { r.Spec.ResourceAttributes.Namespace = "other" },
			"spec.resourceAttributes.namespace", invalid, "must match metadata.namespace"},
		{"labels", func(r *authorizationv1.LocalSubjectAccessReview) { r.Labels = map[string]string{"a": "b"} }, "metadata", invalid, "must be empty except for namespace"},
	})
	expectError(t, Validate(&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "Shop"}}), "spec.namespace", invalid, "")
}

func TestEviction(t *testing.T) {
	ok := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop"}, DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(10))}}
	expectValid(t, Validate(ok))
	expectError(t, Validate(&policyv1.Eviction{}), "metadata.name", required, "")
	orphanAndForeground := ok.DeepCopy()
	orphanAndForeground.DeleteOptions = &metav1.DeleteOptions{OrphanDependents: ptr.To(true), PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}
	if len(Validate(orphanAndForeground)) == 0 {
		t.Errorf("conflicting delete options accepted")
	}
}
