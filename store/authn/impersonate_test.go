package authn

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// allowList authorizes exactly the listed "group/resource/namespace/name"
// impersonations, and records every check it was asked.
type allowList struct {
	allowed map[string]bool
	asked   []string
}

func (a *allowList) authorize(requester *User, verb, apiGroup, resource, namespace, name string) bool {
	check := apiGroup + "/" + resource + "/" + namespace + "/" + name
	a.asked = append(a.asked, check)
	return requester.Name == "alice" && verb == ImpersonateVerb && a.allowed[check]
}

func TestImpersonate(t *testing.T) {
	alice := &User{Name: "alice", Groups: []string{"ops", AuthenticatedGroup}}
	tests := []struct {
		name    string
		headers http.Header
		allowed []string
		want    *User // nil with wantErr empty: requester unchanged
		asked   []string
		wantErr string
		badReq  bool
	}{
		{
			name: "no impersonation",
		},
		{
			name:    "user",
			headers: http.Header{"Impersonate-User": {"bob"}},
			allowed: []string{"/users//bob"},
			want:    &User{Name: "bob", Groups: []string{AuthenticatedGroup}},
			asked:   []string{"/users//bob"},
		},
		{
			name:    "user denied",
			headers: http.Header{"Impersonate-User": {"bob"}},
			asked:   []string{"/users//bob"},
			wantErr: `users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`,
		},
		{
			name:    "user with groups, one denied",
			headers: http.Header{"Impersonate-User": {"bob"}, "Impersonate-Group": {"dev", "system:masters"}},
			allowed: []string{"/users//bob", "/groups//dev"},
			asked:   []string{"/users//bob", "/groups//dev", "/groups//system:masters"},
			wantErr: `groups "system:masters" is forbidden: User "alice" cannot impersonate resource "groups"`,
		},
		{
			name:    "user with groups",
			headers: http.Header{"Impersonate-User": {"bob"}, "Impersonate-Group": {"dev", "qa"}},
			allowed: []string{"/users//bob", "/groups//dev", "/groups//qa"},
			want:    &User{Name: "bob", Groups: []string{"dev", "qa", AuthenticatedGroup}},
			asked:   []string{"/users//bob", "/groups//dev", "/groups//qa"},
		},
		{
			name:    "service account is namespaced and gets its groups",
			headers: http.Header{"Impersonate-User": {"system:serviceaccount:shop:web"}},
			allowed: []string{"/serviceaccounts/shop/web"},
			want:    &User{Name: "system:serviceaccount:shop:web", Groups: []string{ServiceAccountsGroup, ServiceAccountsGroup + ":shop", AuthenticatedGroup}},
			asked:   []string{"/serviceaccounts/shop/web"},
		},
		{
			name:    "service account denied",
			headers: http.Header{"Impersonate-User": {"system:serviceaccount:shop:web"}},
			asked:   []string{"/serviceaccounts/shop/web"},
			wantErr: `serviceaccounts "web" is forbidden: User "alice" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "shop"`,
		},
		{
			name: "uid and extras",
			headers: http.Header{
				"Impersonate-User":                 {"bob"},
				"Impersonate-Uid":                  {"1234"},
				"Impersonate-Extra-Scopes":         {"view", "edit"},
				"Impersonate-Extra-Example.org%2F": {"x"},
			},
			allowed: []string{"/users//bob", "authentication.k8s.io/uids//1234", "authentication.k8s.io/userextras/example.org///x", "authentication.k8s.io/userextras/scopes//view", "authentication.k8s.io/userextras/scopes//edit"},
			want: &User{Name: "bob", UID: "1234", Groups: []string{AuthenticatedGroup}, Extra: map[string][]string{
				"scopes": {"view", "edit"}, "example.org/": {"x"},
			}},
			asked: []string{"/users//bob", "authentication.k8s.io/userextras/example.org///x", "authentication.k8s.io/userextras/scopes//view", "authentication.k8s.io/userextras/scopes//edit", "authentication.k8s.io/uids//1234"},
		},
		{
			name:    "extra denied",
			headers: http.Header{"Impersonate-User": {"bob"}, "Impersonate-Extra-Scopes": {"admin"}},
			allowed: []string{"/users//bob"},
			asked:   []string{"/users//bob", "authentication.k8s.io/userextras/scopes//admin"},
			wantErr: `userextras/scopes "admin" is forbidden: User "alice" cannot impersonate resource "userextras/scopes" in API group "authentication.k8s.io"`,
		},
		{
			name:    "anonymous stays unauthenticated",
			headers: http.Header{"Impersonate-User": {AnonymousUser}},
			allowed: []string{"/users//" + AnonymousUser},
			want:    &User{Name: AnonymousUser, Groups: []string{UnauthenticatedGroup}},
			asked:   []string{"/users//" + AnonymousUser},
		},
		{
			name:    "explicit unauthenticated group is kept alone",
			headers: http.Header{"Impersonate-User": {"bob"}, "Impersonate-Group": {UnauthenticatedGroup}},
			allowed: []string{"/users//bob", "/groups//" + UnauthenticatedGroup},
			want:    &User{Name: "bob", Groups: []string{UnauthenticatedGroup}},
			asked:   []string{"/users//bob", "/groups//" + UnauthenticatedGroup},
		},
		{
			name:    "groups without user",
			headers: http.Header{"Impersonate-Group": {"system:masters"}},
			wantErr: "Impersonate-Group requires Impersonate-User",
			badReq:  true,
		},
		{
			name:    "uid without user",
			headers: http.Header{"Impersonate-Uid": {"1"}},
			wantErr: "Impersonate-Uid requires Impersonate-User",
			badReq:  true,
		},
		{
			name:    "extra without user",
			headers: http.Header{"Impersonate-Extra-Scopes": {"view"}},
			wantErr: "Impersonate-Extra-<key> requires Impersonate-User",
			badReq:  true,
		},
		{
			name:    "extra header without key",
			headers: http.Header{"Impersonate-User": {"bob"}, "Impersonate-Extra-": {"view"}},
			wantErr: "does not name an extra key",
			badReq:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil)
			for k, v := range tt.headers {
				r.Header[k] = v
			}
			r.Header.Set("Accept", "application/json")
			authz := &allowList{allowed: map[string]bool{}}
			for _, a := range tt.allowed {
				authz.allowed[a] = true
			}

			got, err := Impersonate(r, alice, authz.authorize)

			if !slices.Equal(authz.asked, tt.asked) {
				t.Errorf("checks = %q, want %q", authz.asked, tt.asked)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				var forbidden *ForbiddenError
				if errors.Is(err, ErrBadImpersonation) != tt.badReq || errors.As(err, &forbidden) == tt.badReq {
					t.Errorf("error %v: bad request = %v, want %v", err, errors.Is(err, ErrBadImpersonation), tt.badReq)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == nil {
				if got != alice {
					t.Errorf("got %+v, want the requester unchanged", got)
				}
				return
			}
			if got.Name != tt.want.Name || got.UID != tt.want.UID || !slices.Equal(got.Groups, tt.want.Groups) || !equalExtra(got.Extra, tt.want.Extra) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			for k := range r.Header {
				if strings.HasPrefix(k, "Impersonate-") {
					t.Errorf("header %s left on the request", k)
				}
			}
			if r.Header.Get("Accept") == "" {
				t.Error("unrelated header removed")
			}
		})
	}
}

func equalExtra(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}
