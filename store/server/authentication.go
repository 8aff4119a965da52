package server

import (
	"context"
	"crypto"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/store/admission"
	"github.com/berth-io/berth/store/authn"
)

// defaultTokenExpiration is a TokenRequest's lifetime when it names none.
const defaultTokenExpiration = time.Hour

// tokenService issues ServiceAccount tokens and answers TokenReviews.
type tokenService struct {
	issuer *authn.Issuer
	chain  *authn.Chain
}

// authentication builds the authenticator chain: client certificates,
// then static tokens, then ServiceAccount tokens.
func (s *Server) authentication(get admission.Lookup, metrics prometheus.Registerer) (*authn.Chain, *tokenService, error) {
	issuer, err := authn.NewIssuer("", s.PKI.ServiceAccountKey)
	if err != nil {
		return nil, nil, err
	}
	verifier, err := authn.NewVerifier(authn.VerifierConfig{
		Keys:            []crypto.PublicKey{s.PKI.ServiceAccountPublicKey},
		ServiceAccounts: stillExists(get, corev1.SchemeGroupVersion.WithResource("serviceaccounts")),
		Pods:            stillExists(get, corev1.SchemeGroupVersion.WithResource("pods")),
	})
	if err != nil {
		return nil, nil, err
	}
	am, err := authn.NewMetrics(metrics)
	if err != nil {
		return nil, nil, err
	}
	chain := &authn.Chain{Request: []authn.Authenticator{authn.NewCertAuthenticator(s.PKI.CAPool())}, Metrics: am}
	if s.opts.TokenAuthFile != "" {
		file, err := authn.LoadTokenFile(s.opts.TokenAuthFile)
		if err != nil {
			return nil, nil, err
		}
		chain.Tokens = append(chain.Tokens, file)
	}
	chain.Tokens = append(chain.Tokens, verifier)
	return chain, &tokenService{issuer: issuer, chain: chain}, nil
}

// stillExists checks that the object a token names exists with its uid.
func stillExists(get admission.Lookup, gvr schema.GroupVersionResource) authn.LookupFunc {
	return func(namespace, name, uid string) error {
		obj, err := get(context.Background(), gvr, namespace, name)
		if err != nil {
			return err
		}
		a, err := meta.Accessor(obj)
		if err != nil {
			return err
		}
		if uid != "" && string(a.GetUID()) != uid {
			return fmt.Errorf("%s %s/%s was re-created (uid %s, token for %s)", gvr.Resource, namespace, name, a.GetUID(), uid)
		}
		return nil
	}
}

// issue answers a TokenRequest for sa.
func (t *tokenService) issue(_ context.Context, sa *corev1.ServiceAccount, req *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	expiration := defaultTokenExpiration
	if req.Spec.ExpirationSeconds != nil {
		expiration = time.Duration(*req.Spec.ExpirationSeconds) * time.Second
	}
	var bound *authn.BoundObject
	if ref := req.Spec.BoundObjectRef; ref != nil {
		bound = &authn.BoundObject{Kind: ref.Kind, Name: ref.Name, UID: string(ref.UID)}
	}
	token, expires, err := t.issuer.Issue(sa.Namespace, sa.Name, string(sa.UID), req.Spec.Audiences, expiration, bound)
	if err != nil {
		return nil, err
	}
	req.Name, req.Namespace, req.CreationTimestamp = sa.Name, sa.Namespace, metav1.Now()
	req.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(expires)}
	return req, nil
}

// review answers a TokenReview.
func (t *tokenService) review(ctx context.Context, _ *authn.User, obj k8sruntime.Object) (k8sruntime.Object, error) {
	review := obj.(*authenticationv1.TokenReview)
	user, ok, err := t.chain.AuthenticateToken(ctx, review.Spec.Token)
	review.Spec.Token = ""
	review.Status = authenticationv1.TokenReviewStatus{Authenticated: ok && err == nil, Audiences: review.Spec.Audiences}
	if err != nil {
		review.Status.Error = err.Error()
	}
	if review.Status.Authenticated {
		review.Status.User = userInfo(user)
	}
	return review, nil
}
