package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// Kinds of object a ServiceAccount token can be bound to.
const (
	BoundPod    = "Pod"
	BoundSecret = "Secret"
	BoundNode   = "Node"
)

// BoundObject is the object a token is bound to: the token stops working
// when the object is gone (for a pod, through Verifier's pod lookup).
type BoundObject struct {
	// Kind is BoundPod, BoundSecret or BoundNode.
	Kind string
	// Name and UID identify the object.
	Name, UID string
	// NodeName and NodeUID name the node a bound pod is scheduled to, if any;
	// they are ignored for other kinds.
	NodeName, NodeUID string
}

// Issuer signs ServiceAccount tokens, as the TokenRequest subresource
// hands them out.
type Issuer struct {
	issuer string
	key    crypto.Signer
	method jwt.SigningMethod
	keyID  string
	now    func() time.Time
}

// NewIssuer returns an issuer that signs with key (RSA or ECDSA, such as the
// PKI's ServiceAccountKey) and puts issuer in the iss claim; an empty issuer
// means DefaultIssuer.
func NewIssuer(issuer string, key crypto.Signer) (*Issuer, error) {
	switch key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey:
	default:
		return nil, fmt.Errorf("service account token issuer: key of type %T cannot sign tokens: use RSA or ECDSA", key)
	}
	method, err := signingMethod(key.Public())
	if err != nil {
		return nil, fmt.Errorf("service account token issuer: %w", err)
	}
	kid, err := keyID(key.Public())
	if err != nil {
		return nil, fmt.Errorf("service account token issuer: %w", err)
	}
	if issuer == "" {
		issuer = DefaultIssuer
	}
	return &Issuer{issuer: issuer, key: key, method: method, keyID: kid, now: time.Now}, nil
}

// Issue signs a token for the ServiceAccount namespace/name with the given
// uid, valid for audiences (the issuer itself when empty) during
// expiration, optionally bound to an object. It returns the token and the
// moment it expires.
func (i *Issuer) Issue(namespace, name, uid string, audiences []string, expiration time.Duration, bound *BoundObject) (string, time.Time, error) {
	if namespace == "" || name == "" || uid == "" {
		return "", time.Time{}, fmt.Errorf("issue token: namespace %q, name %q and uid %q must all be set", namespace, name, uid)
	}
	if expiration <= 0 {
		return "", time.Time{}, fmt.Errorf("issue token for %s/%s: expiration %v is not positive", namespace, name, expiration)
	}
	if len(audiences) == 0 {
		audiences = []string{i.issuer}
	}
	now := i.now().Truncate(time.Second)
	expires := now.Add(expiration)
	private := &kubernetesClaims{Namespace: namespace, ServiceAccount: objectRef{Name: name, UID: uid}}
	if err := bind(private, bound); err != nil {
		return "", time.Time{}, fmt.Errorf("issue token for %s/%s: %w", namespace, name, err)
	}
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   ServiceAccountUsername(namespace, name),
			Audience:  audiences,
			ExpiresAt: jwt.NewNumericDate(expires),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        string(uuid.NewUUID()),
		},
		Kubernetes: private,
	}
	token := jwt.NewWithClaims(i.method, claims)
	token.Header["kid"] = i.keyID
	signed, err := token.SignedString(i.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token for %s/%s: %w", namespace, name, err)
	}
	return signed, expires, nil
}

// bind records the object a token is bound to in its private claim.
func bind(claims *kubernetesClaims, bound *BoundObject) error {
	if bound == nil {
		return nil
	}
	if bound.Name == "" || bound.UID == "" {
		return errors.New("bound object needs a name and a uid")
	}
	ref := &objectRef{Name: bound.Name, UID: bound.UID}
	switch bound.Kind {
	case BoundPod:
		claims.Pod = ref
		if bound.NodeName != "" {
			claims.Node = &objectRef{Name: bound.NodeName, UID: bound.NodeUID}
		}
	case BoundSecret:
		claims.Secret = ref
	case BoundNode:
		claims.Node = ref
	default:
		return fmt.Errorf("cannot bind a token to kind %q: want %s, %s or %s", bound.Kind, BoundPod, BoundSecret, BoundNode)
	}
	return nil
}
