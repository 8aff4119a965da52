package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// errInvalidBearerToken is the answer for a bearer token that no token
// authenticator recognized.
var errInvalidBearerToken = errors.New("invalid bearer token")

// Chain authenticates with several authenticators in order. The first to
// succeed decides; errors of the others are reported only when none does.
type Chain struct {
	// Request authenticators look at the request itself, such as its client
	// certificate. They are tried first.
	Request []Authenticator
	// Tokens verify the bearer token of the Authorization header, in order.
	// They also serve TokenReview through AuthenticateToken.
	Tokens []TokenAuthenticator
	// Metrics, when not nil, counts authentication attempts.
	Metrics *Metrics
}

// Authenticate returns the user of r, in group system:authenticated. It
// returns false and no error when r presents no credentials at all (the
// caller then treats it as Anonymous), and an error when it presents
// credentials none of the authenticators accepts: such a request must be
// refused (401), not downgraded to anonymous. A bearer token that was
// accepted is removed from r, so that nothing downstream can reuse it.
func (c *Chain) Authenticate(r *http.Request) (*User, bool, error) {
	var errs []error
	for _, a := range c.Request {
		user, ok, err := a.Authenticate(r)
		if ok {
			c.Metrics.observe(resultSuccess)
			return user.withGroup(AuthenticatedGroup), true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if token, ok := bearerToken(r); ok {
		user, ok, err := c.AuthenticateToken(r.Context(), token)
		if ok {
			r.Header.Del("Authorization")
			c.Metrics.observe(resultSuccess)
			return user, true, nil
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		c.Metrics.observe(resultFailure)
		return nil, false, errors.Join(errs...)
	}
	c.Metrics.observe(resultAnonymous)
	return nil, false, nil
}

// AuthenticateToken returns the user a bearer token belongs to, in group
// system:authenticated, as TokenReview reports it. It returns false with an
// error when no token authenticator accepts the token.
func (c *Chain) AuthenticateToken(ctx context.Context, token string) (*User, bool, error) {
	var errs []error
	for _, t := range c.Tokens {
		user, ok, err := t.AuthenticateToken(ctx, token)
		if ok {
			return user.withGroup(AuthenticatedGroup), true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		return nil, false, errInvalidBearerToken
	}
	return nil, false, errors.Join(errs...)
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header. Other schemes and an empty token count as no token.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, found := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
