package authn

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
)

// ImpersonateVerb is the RBAC verb that allows impersonation.
const ImpersonateVerb = "impersonate"

// AuthorizeFunc reports whether requester may perform verb on the resource
// named by apiGroup, resource, namespace (empty for cluster scope) and name.
// For user extras the resource is "userextras/<key>", RBAC's
// resource/subresource form.
type AuthorizeFunc func(requester *User, verb, apiGroup, resource, namespace, name string) bool

// ErrBadImpersonation is wrapped by the errors of malformed impersonation
// headers; the API server answers them with 400 Bad Request.
var ErrBadImpersonation = errors.New("invalid impersonation headers")

// ForbiddenError is returned when the requester may not impersonate what
// the headers ask for; the API server answers it with 403 Forbidden.
type ForbiddenError struct {
	// Requester is the authenticated user name.
	Requester string
	// APIGroup, Resource, Namespace and Name are what was refused.
	APIGroup, Resource, Namespace, Name string
}

// Error says who may not impersonate what, in kube-apiserver's words.
func (e *ForbiddenError) Error() string {
	scope := "at the cluster scope"
	if e.Namespace != "" {
		scope = fmt.Sprintf("in the namespace %q", e.Namespace)
	}
	return fmt.Sprintf("%s %q is forbidden: User %q cannot %s resource %q in API group %q %s",
		e.Resource, e.Name, e.Requester, ImpersonateVerb, e.Resource, e.APIGroup, scope)
}

// Impersonate applies the Impersonate-User, Impersonate-Group,
// Impersonate-Uid and Impersonate-Extra-<key> headers of r on behalf of
// requester. Without such headers it returns requester itself. Otherwise
// each thing impersonated must be allowed by authorize, checked as
// kube-apiserver does: verb "impersonate" on users, groups or (namespaced)
// serviceaccounts in the core group, and on uids and userextras/<key> in
// authentication.k8s.io. The impersonated user is in system:authenticated
// (system:unauthenticated for system:anonymous) unless the headers name one
// of the two, and a ServiceAccount without Impersonate-Group gets its
// ServiceAccount groups. On success the headers are removed from r.
func Impersonate(r *http.Request, requester *User, authorize AuthorizeFunc) (*User, error) {
	want, err := requestedUser(r.Header)
	if err != nil || want == nil {
		return requester, err
	}
	for _, check := range impersonationChecks(want, r.Header) {
		if !authorize(requester, ImpersonateVerb, check.APIGroup, check.Resource, check.Namespace, check.Name) {
			check.Requester = requester.Name
			return nil, &check
		}
	}
	want.Groups = withStatusGroup(want.Name, want.Groups)
	deleteImpersonationHeaders(r.Header)
	return want, nil
}

// requestedUser reads the user the headers ask to become, or nil when they
// ask for none. Groups, uid or extras without a user are an error.
func requestedUser(h http.Header) (*User, error) {
	extra, err := requestedExtra(h)
	if err != nil {
		return nil, err
	}
	user := &User{
		Name:   h.Get(authenticationv1.ImpersonateUserHeader),
		UID:    h.Get(authenticationv1.ImpersonateUIDHeader),
		Groups: slices.Clone(h.Values(authenticationv1.ImpersonateGroupHeader)),
		Extra:  extra,
	}
	if user.Name != "" {
		if namespace, _, ok := SplitServiceAccountUsername(user.Name); ok && len(user.Groups) == 0 {
			user.Groups = ServiceAccountGroups(namespace)
		}
		return user, nil
	}
	for _, given := range []struct {
		header  string
		present bool
	}{
		{authenticationv1.ImpersonateGroupHeader, len(user.Groups) > 0},
		{authenticationv1.ImpersonateUIDHeader, user.UID != ""},
		{authenticationv1.ImpersonateUserExtraHeaderPrefix + "<key>", len(user.Extra) > 0},
	} {
		if given.present {
			return nil, fmt.Errorf("%w: %s requires %s", ErrBadImpersonation, given.header, authenticationv1.ImpersonateUserHeader)
		}
	}
	return nil, nil
}

// requestedExtra reads the Impersonate-Extra-<key> headers. Keys are
// case-insensitive and percent-encoded in header names, so they are
// lower-cased and decoded.
func requestedExtra(h http.Header) (map[string][]string, error) {
	var extra map[string][]string
	for header, values := range h {
		encoded, ok := cutPrefixFold(header, authenticationv1.ImpersonateUserExtraHeaderPrefix)
		if !ok {
			continue
		}
		key, err := url.PathUnescape(strings.ToLower(encoded))
		if err != nil || key == "" {
			return nil, fmt.Errorf("%w: header %s does not name an extra key", ErrBadImpersonation, header)
		}
		if extra == nil {
			extra = map[string][]string{}
		}
		extra[key] = append(extra[key], values...)
	}
	return extra, nil
}

// impersonationChecks lists what the requester must be allowed to
// impersonate to become want: the user or ServiceAccount, each group
// asked for, each extra value (keys in order) and the uid.
func impersonationChecks(want *User, h http.Header) []ForbiddenError {
	var checks []ForbiddenError
	if namespace, name, ok := SplitServiceAccountUsername(want.Name); ok {
		checks = append(checks, ForbiddenError{Resource: "serviceaccounts", Namespace: namespace, Name: name})
	} else {
		checks = append(checks, ForbiddenError{Resource: "users", Name: want.Name})
	}
	for _, group := range h.Values(authenticationv1.ImpersonateGroupHeader) {
		checks = append(checks, ForbiddenError{Resource: "groups", Name: group})
	}
	for _, key := range slices.Sorted(maps.Keys(want.Extra)) {
		for _, value := range want.Extra[key] {
			checks = append(checks, ForbiddenError{APIGroup: authenticationv1.GroupName, Resource: "userextras/" + key, Name: value})
		}
	}
	if want.UID != "" {
		checks = append(checks, ForbiddenError{APIGroup: authenticationv1.GroupName, Resource: "uids", Name: want.UID})
	}
	return checks
}

// withStatusGroup adds system:authenticated to the groups of an
// impersonated user, or system:unauthenticated for system:anonymous, unless
// the groups already say which it is.
func withStatusGroup(name string, groups []string) []string {
	if name == AnonymousUser {
		if !slices.Contains(groups, UnauthenticatedGroup) {
			groups = append(groups, UnauthenticatedGroup)
		}
		return groups
	}
	if !slices.Contains(groups, AuthenticatedGroup) && !slices.Contains(groups, UnauthenticatedGroup) {
		groups = append(groups, AuthenticatedGroup)
	}
	return groups
}

// deleteImpersonationHeaders removes every Impersonate-* header, so that
// nothing downstream acts on them twice.
func deleteImpersonationHeaders(h http.Header) {
	h.Del(authenticationv1.ImpersonateUserHeader)
	h.Del(authenticationv1.ImpersonateGroupHeader)
	h.Del(authenticationv1.ImpersonateUIDHeader)
	for header := range h {
		if _, ok := cutPrefixFold(header, authenticationv1.ImpersonateUserExtraHeaderPrefix); ok {
			delete(h, header)
		}
	}
}

// cutPrefixFold is strings.CutPrefix ignoring ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}
