// Package authn authenticates requests to the API server: x509 client
// certificates, static bearer tokens from a token file and ServiceAccount
// tokens (signed JWTs). A Chain tries them in order and gives every
// authenticated user the group system:authenticated; a request without any
// credentials is left for the caller to treat as Anonymous. Impersonate
// applies the Impersonate-* headers after authentication.
package authn

import (
	"context"
	"net/http"
	"slices"
)

// Well-known user and group names, as kube-apiserver uses them.
const (
	// AnonymousUser is the name of a request without credentials.
	AnonymousUser = "system:anonymous"
	// AuthenticatedGroup is added to every authenticated user.
	AuthenticatedGroup = "system:authenticated"
	// UnauthenticatedGroup is the group of AnonymousUser.
	UnauthenticatedGroup = "system:unauthenticated"
	// ServiceAccountsGroup holds every ServiceAccount.
	ServiceAccountsGroup = "system:serviceaccounts"
	// CredentialIDKey is the extra key that identifies the credential a user
	// authenticated with, without revealing it.
	CredentialIDKey = "authentication.kubernetes.io/credential-id"
)

// User is an authenticated identity.
type User struct {
	// Name is the user name RBAC subjects of kind User match.
	Name string
	// UID identifies the user across name reuse; may be empty.
	UID string
	// Groups are the groups RBAC subjects of kind Group match.
	Groups []string
	// Extra carries further attributes, such as the pod a ServiceAccount
	// token is bound to.
	Extra map[string][]string
}

// Authenticator finds out who sent a request.
type Authenticator interface {
	// Authenticate returns the user and true when the request carries valid
	// credentials of the kind this authenticator understands. It returns
	// false and no error when the request carries no such credentials, and
	// an error when it carries some that are not valid.
	Authenticate(r *http.Request) (*User, bool, error)
}

// TokenAuthenticator finds out whom a bearer token belongs to.
type TokenAuthenticator interface {
	// AuthenticateToken returns the token's user and true when the token is
	// valid. It returns false and no error for a token it does not know, and
	// an error for one it recognizes as its own but rejects (expired, bad
	// signature).
	AuthenticateToken(ctx context.Context, token string) (*User, bool, error)
}

// Anonymous returns the user of a request that presented no credentials.
func Anonymous() *User {
	return &User{Name: AnonymousUser, Groups: []string{UnauthenticatedGroup}}
}

// clone returns a deep copy of u, so that callers may change the result
// without touching what an authenticator keeps.
func (u *User) clone() *User {
	c := *u
	c.Groups = slices.Clone(u.Groups)
	if u.Extra != nil {
		c.Extra = make(map[string][]string, len(u.Extra))
		for k, v := range u.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return &c
}

// withGroup returns a copy of u that is in group.
func (u *User) withGroup(group string) *User {
	c := u.clone()
	if !slices.Contains(c.Groups, group) {
		c.Groups = append(c.Groups, group)
	}
	return c
}
