package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"k8s.io/apimachinery/pkg/util/validation"
)

// DefaultIssuer is the iss claim of ServiceAccount tokens unless configured
// otherwise, and then also the audience the API server accepts.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// serviceAccountPrefix starts the user name of every ServiceAccount.
const serviceAccountPrefix = "system:serviceaccount:"

// Extra keys of a ServiceAccount token's user that describe its binding.
const (
	extraPodName  = "authentication.kubernetes.io/pod-name"
	extraPodUID   = "authentication.kubernetes.io/pod-uid"
	extraNodeName = "authentication.kubernetes.io/node-name"
	extraNodeUID  = "authentication.kubernetes.io/node-uid"
)

// ServiceAccountUsername returns the user name of a ServiceAccount:
// system:serviceaccount:<namespace>:<name>.
func ServiceAccountUsername(namespace, name string) string {
	return serviceAccountPrefix + namespace + ":" + name
}

// SplitServiceAccountUsername returns the namespace and name of a
// ServiceAccount user name, and false when user is not one.
func SplitServiceAccountUsername(user string) (namespace, name string, ok bool) {
	rest, found := strings.CutPrefix(user, serviceAccountPrefix)
	if !found {
		return "", "", false
	}
	namespace, name, found = strings.Cut(rest, ":")
	if !found || len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", "", false
	}
	return namespace, name, true
}

// ServiceAccountGroups returns the groups of every ServiceAccount in
// namespace: system:serviceaccounts and system:serviceaccounts:<namespace>.
func ServiceAccountGroups(namespace string) []string {
	return []string{ServiceAccountsGroup, ServiceAccountsGroup + ":" + namespace}
}

// tokenClaims are the claims of a ServiceAccount token.
type tokenClaims struct {
	jwt.RegisteredClaims
	Kubernetes *kubernetesClaims `json:"kubernetes.io,omitempty"`
}

// kubernetesClaims is the private "kubernetes.io" claim: what the token was
// issued for.
type kubernetesClaims struct {
	Namespace      string     `json:"namespace"`
	ServiceAccount objectRef  `json:"serviceaccount"`
	Pod            *objectRef `json:"pod,omitempty"`
	Secret         *objectRef `json:"secret,omitempty"`
	Node           *objectRef `json:"node,omitempty"`
}

// objectRef names one object in the private claim.
type objectRef struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// signingMethod returns the JWT algorithm for a public key: ES256, ES384 or
// ES512 by curve for ECDSA, RS256 for RSA.
func signingMethod(key crypto.PublicKey) (jwt.SigningMethod, error) {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return jwt.SigningMethodES256, nil
		case elliptic.P384():
			return jwt.SigningMethodES384, nil
		case elliptic.P521():
			return jwt.SigningMethodES512, nil
		}
		return nil, fmt.Errorf("ECDSA curve %s is not supported for tokens", k.Curve.Params().Name)
	case *rsa.PublicKey:
		return jwt.SigningMethodRS256, nil
	}
	return nil, fmt.Errorf("key of type %T is not supported for tokens: use RSA or ECDSA", key)
}

// keyID names a public key in the kid header: the unpadded base64url SHA-256
// of its PKIX form, so that verifiers can pick the key without trying all.
func keyID(key crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
