package authn

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// clockSkew is how far the verifier tolerates the signer's clock to differ
// from its own when checking exp, nbf and iat.
const clockSkew = time.Minute

// LookupFunc checks that the object a token names still exists with the
// given uid, and returns an error saying why not otherwise.
type LookupFunc func(namespace, name, uid string) error

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Issuer is the iss claim tokens must carry; empty means DefaultIssuer.
	// Tokens from other issuers are left to other authenticators.
	Issuer string
	// Audiences are the API audiences: a token must be valid for at least
	// one of them. Empty means the issuer alone.
	Audiences []string
	// Keys verify token signatures (RSA or ECDSA public keys).
	Keys []crypto.PublicKey
	// ServiceAccounts, when set, is asked whether the token's ServiceAccount
	// still exists with the uid it was issued for, so that a token of a
	// deleted or re-created ServiceAccount stops working.
	ServiceAccounts LookupFunc
	// Pods, when set, is asked the same about the pod a token is bound to.
	Pods LookupFunc
}

// Verifier authenticates ServiceAccount tokens.
type Verifier struct {
	config  VerifierConfig
	keys    map[string]crypto.PublicKey
	methods []string
	now     func() time.Time
}

// NewVerifier checks config and returns a verifier for it.
func NewVerifier(config VerifierConfig) (*Verifier, error) {
	if len(config.Keys) == 0 {
		return nil, errors.New("service account token verifier: no public keys")
	}
	if config.Issuer == "" {
		config.Issuer = DefaultIssuer
	}
	if len(config.Audiences) == 0 {
		config.Audiences = []string{config.Issuer}
	}
	v := &Verifier{config: config, keys: map[string]crypto.PublicKey{}, now: time.Now}
	for i, key := range config.Keys {
		method, err := signingMethod(key)
		if err != nil {
			return nil, fmt.Errorf("service account token verifier: key %d: %w", i, err)
		}
		kid, err := keyID(key)
		if err != nil {
			return nil, fmt.Errorf("service account token verifier: key %d: %w", i, err)
		}
		v.keys[kid] = key
		if !slices.Contains(v.methods, method.Alg()) {
			v.methods = append(v.methods, method.Alg())
		}
	}
	return v, nil
}

// AuthenticateToken verifies a ServiceAccount token: its signature, issuer,
// audience, validity period and private claims, then that its
// ServiceAccount (and bound pod) still exist. A token that is not a JWT from
// this issuer is not an error, since another authenticator may know it. The
// user is system:serviceaccount:<ns>:<name> with the ServiceAccount's uid,
// in the ServiceAccount groups, with the token's ID and binding as extras.
func (v *Verifier) AuthenticateToken(_ context.Context, token string) (*User, bool, error) {
	if strings.Count(token, ".") != 2 {
		return nil, false, nil
	}
	var unverified tokenClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &unverified); err != nil || unverified.Issuer != v.config.Issuer {
		return nil, false, nil
	}

	var claims tokenClaims
	parser := jwt.NewParser(
		jwt.WithValidMethods(v.methods),
		jwt.WithIssuer(v.config.Issuer),
		jwt.WithAudience(v.config.Audiences...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(v.now),
	)
	if _, err := parser.ParseWithClaims(token, &claims, v.key); err != nil {
		return nil, false, fmt.Errorf("service account token: %w", err)
	}
	user, err := userOf(&claims)
	if err != nil {
		return nil, false, fmt.Errorf("service account token: %w", err)
	}
	if err := v.checkObjects(claims.Kubernetes); err != nil {
		return nil, false, fmt.Errorf("service account token for %s: %w", user.Name, err)
	}
	return user, true, nil
}

// key picks the verification key named by the token's kid header, or offers
// all keys when the header names none of them.
func (v *Verifier) key(token *jwt.Token) (any, error) {
	if kid, ok := token.Header["kid"].(string); ok {
		if key, ok := v.keys[kid]; ok {
			return key, nil
		}
	}
	set := jwt.VerificationKeySet{}
	for _, key := range v.config.Keys {
		set.Keys = append(set.Keys, key)
	}
	return set, nil
}

// checkObjects asks the lookups whether the ServiceAccount and the bound pod
// of a token still exist.
func (v *Verifier) checkObjects(claims *kubernetesClaims) error {
	if v.config.ServiceAccounts != nil {
		sa := claims.ServiceAccount
		if err := v.config.ServiceAccounts(claims.Namespace, sa.Name, sa.UID); err != nil {
			return fmt.Errorf("service account %s/%s (uid %s): %w", claims.Namespace, sa.Name, sa.UID, err)
		}
	}
	if v.config.Pods != nil && claims.Pod != nil {
		pod := claims.Pod
		if err := v.config.Pods(claims.Namespace, pod.Name, pod.UID); err != nil {
			return fmt.Errorf("bound pod %s/%s (uid %s): %w", claims.Namespace, pod.Name, pod.UID, err)
		}
	}
	return nil
}

// userOf checks that the verified claims describe one ServiceAccount
// consistently and returns its user.
func userOf(claims *tokenClaims) (*User, error) {
	private := claims.Kubernetes
	if private == nil {
		return nil, errors.New(`the "kubernetes.io" claim is missing`)
	}
	namespace, name, ok := SplitServiceAccountUsername(claims.Subject)
	if !ok {
		return nil, fmt.Errorf("subject %q is not a service account user name", claims.Subject)
	}
	if private.Namespace != namespace || private.ServiceAccount.Name != name {
		return nil, fmt.Errorf("subject %q does not match the kubernetes.io claim for %s/%s", claims.Subject, private.Namespace, private.ServiceAccount.Name)
	}
	if private.ServiceAccount.UID == "" {
		return nil, errors.New("the kubernetes.io claim has no service account uid")
	}
	extra := map[string][]string{}
	if claims.ID != "" {
		extra[CredentialIDKey] = []string{"JTI=" + claims.ID}
	}
	if private.Pod != nil {
		extra[extraPodName] = []string{private.Pod.Name}
		extra[extraPodUID] = []string{private.Pod.UID}
	}
	if private.Node != nil {
		extra[extraNodeName] = []string{private.Node.Name}
		if private.Node.UID != "" {
			extra[extraNodeUID] = []string{private.Node.UID}
		}
	}
	return &User{
		Name:   claims.Subject,
		UID:    private.ServiceAccount.UID,
		Groups: ServiceAccountGroups(namespace),
		Extra:  extra,
	}, nil
}
