package authn

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// t0 is the fixed time tokens are issued at in these tests.
var t0 = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

// newTokenPair returns an issuer with a fresh ECDSA key and a verifier for
// it configured by config (Keys is filled in); both run at t0.
func newTokenPair(t *testing.T, config VerifierConfig) (*Issuer, *Verifier) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return newTokenPairWithKey(t, key, config)
}

func newTokenPairWithKey(t *testing.T, key crypto.Signer, config VerifierConfig) (*Issuer, *Verifier) {
	t.Helper()
	issuer, err := NewIssuer(config.Issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	issuer.now = func() time.Time { return t0 }
	config.Keys = append(config.Keys, key.Public())
	verifier, err := NewVerifier(config)
	if err != nil {
		t.Fatal(err)
	}
	verifier.now = func() time.Time { return t0.Add(time.Minute) }
	return issuer, verifier
}

func TestServiceAccountTokenRoundTrip(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alg string
		key crypto.Signer
	}{{"ES256", ecKey}, {"RS256", rsaKey}} {
		t.Run(tc.alg, func(t *testing.T) {
			issuer, verifier := newTokenPairWithKey(t, tc.key, VerifierConfig{})
			bound := &BoundObject{Kind: BoundPod, Name: "web-1", UID: "pod-uid", NodeName: "n1", NodeUID: "node-uid"}
			token, expires, err := issuer.Issue("shop", "web", "sa-uid", nil, time.Hour, bound)
			if err != nil {
				t.Fatal(err)
			}
			if !expires.Equal(t0.Add(time.Hour)) {
				t.Errorf("expires = %v, want %v", expires, t0.Add(time.Hour))
			}

			header, payload := decodeJWT(t, token)
			if header["alg"] != tc.alg || header["kid"] == "" {
				t.Errorf("header = %v", header)
			}
			if payload["iss"] != DefaultIssuer || payload["sub"] != "system:serviceaccount:shop:web" {
				t.Errorf("iss/sub = %v / %v", payload["iss"], payload["sub"])
			}
			if aud, _ := payload["aud"].([]any); len(aud) != 1 || aud[0] != DefaultIssuer {
				t.Errorf("aud = %v, want [%s]", payload["aud"], DefaultIssuer)
			}
			if payload["exp"].(float64)-payload["iat"].(float64) != 3600 || payload["nbf"] != payload["iat"] || payload["jti"] == "" {
				t.Errorf("exp/iat/nbf/jti = %v %v %v %v", payload["exp"], payload["iat"], payload["nbf"], payload["jti"])
			}
			private, _ := json.Marshal(payload["kubernetes.io"])
			wantPrivate := `{"namespace":"shop","node":{"name":"n1","uid":"node-uid"},"pod":{"name":"web-1","uid":"pod-uid"},"serviceaccount":{"name":"web","uid":"sa-uid"}}`
			if string(private) != wantPrivate {
				t.Errorf("kubernetes.io claim = %s\nwant %s", private, wantPrivate)
			}

			user, ok, err := verifier.AuthenticateToken(t.Context(), token)
			if err != nil || !ok {
				t.Fatalf("AuthenticateToken = %v, %v", ok, err)
			}
			if user.Name != "system:serviceaccount:shop:web" || user.UID != "sa-uid" ||
				!slices.Equal(user.Groups, []string{"system:serviceaccounts", "system:serviceaccounts:shop"}) {
				t.Errorf("user = %+v", user)
			}
			wantExtra := map[string]string{
				CredentialIDKey: "JTI=" + payload["jti"].(string),
				extraPodName:    "web-1", extraPodUID: "pod-uid",
				extraNodeName: "n1", extraNodeUID: "node-uid",
			}
			for key, want := range wantExtra {
				if got := user.Extra[key]; len(got) != 1 || got[0] != want {
					t.Errorf("extra %s = %v, want [%s]", key, got, want)
				}
			}
		})
	}
}

func TestServiceAccountTokenRejected(t *testing.T) {
	deleted := errors.New(`serviceaccounts "web" not found`)
	tests := []struct {
		name    string
		config  VerifierConfig
		mutate  func(t *testing.T, issuer *Issuer, token string) string
		verify  time.Time
		wantErr string // "" means: not recognized, left to other authenticators
	}{
		{
			name:    "expired",
			verify:  t0.Add(time.Hour + clockSkew + time.Second),
			wantErr: "token is expired",
		},
		{
			name:    "issued in the future",
			verify:  t0.Add(-clockSkew - time.Second),
			wantErr: "token used before issued",
		},
		{
			name:    "audience not served",
			config:  VerifierConfig{Audiences: []string{"https://api.example"}},
			wantErr: "token has invalid audience",
		},
		{
			name: "tampered payload",
			mutate: func(t *testing.T, _ *Issuer, token string) string {
				parts := strings.Split(token, ".")
				payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
				payload = []byte(strings.Replace(string(payload), `"web"`, `"admin"`, -1))
				parts[1] = base64.RawURLEncoding.EncodeToString(payload)
				return strings.Join(parts, ".")
			},
			wantErr: "signature is invalid",
		},
		{
			name: "signed by another key",
			mutate: func(t *testing.T, _ *Issuer, _ string) string {
				other, _ := newTokenPair(t, VerifierConfig{})
				token, _, err := other.Issue("shop", "web", "sa-uid", nil, time.Hour, nil)
				if err != nil {
					t.Fatal(err)
				}
				return token
			},
			wantErr: "signature is invalid",
		},
		{
			name: "alg none",
			mutate: func(t *testing.T, _ *Issuer, token string) string {
				_, payload := decodeJWT(t, token)
				unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(payload)).SignedString(jwt.UnsafeAllowNoneSignatureType)
				if err != nil {
					t.Fatal(err)
				}
				return unsigned
			},
			wantErr: "signing method none is invalid",
		},
		{
			name:    "service account deleted",
			config:  VerifierConfig{ServiceAccounts: func(ns, name, uid string) error { return deleted }},
			wantErr: `service account shop/web (uid sa-uid): serviceaccounts "web" not found`,
		},
		{
			name: "service account re-created with a new uid",
			config: VerifierConfig{ServiceAccounts: func(ns, name, uid string) error {
				if uid != "new-uid" {
					return errors.New("uid does not match")
				}
				return nil
			}},
			wantErr: "uid does not match",
		},
		{
			name: "other issuer",
			mutate: func(t *testing.T, _ *Issuer, _ string) string {
				other, _ := newTokenPair(t, VerifierConfig{Issuer: "https://elsewhere"})
				token, _, err := other.Issue("shop", "web", "sa-uid", nil, time.Hour, nil)
				if err != nil {
					t.Fatal(err)
				}
				return token
			},
		},
		{
			name:   "not a JWT",
			mutate: func(*testing.T, *Issuer, string) string { return "static-token" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			issuer, verifier := newTokenPair(t, tt.config)
			if !tt.verify.IsZero() {
				verifier.now = func() time.Time { return tt.verify }
			}
			token, _, err := issuer.Issue("shop", "web", "sa-uid", nil, time.Hour, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.mutate != nil {
				token = tt.mutate(t, issuer, token)
			}
			user, ok, err := verifier.AuthenticateToken(t.Context(), token)
			if ok {
				t.Fatalf("token accepted as %+v", user)
			}
			if tt.wantErr == "" && err != nil || err != nil && !strings.Contains(err.Error(), tt.wantErr) || tt.wantErr != "" && err == nil {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestServiceAccountTokenAudiences(t *testing.T) {
	issuer, verifier := newTokenPair(t, VerifierConfig{Audiences: []string{"api", "vault"}})
	for _, tc := range []struct {
		audiences []string
		ok        bool
	}{
		{[]string{"vault"}, true},
		{[]string{"other", "api"}, true},
		{[]string{"other"}, false},
		{nil, false}, // defaults to the issuer, which this verifier does not serve
	} {
		token, _, err := issuer.Issue("ns", "sa", "uid", tc.audiences, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := verifier.AuthenticateToken(t.Context(), token); ok != tc.ok {
			t.Errorf("audiences %v: accepted = %v, want %v", tc.audiences, ok, tc.ok)
		}
	}
}

func TestServiceAccountTokenBoundPodDeleted(t *testing.T) {
	issuer, verifier := newTokenPair(t, VerifierConfig{
		Pods: func(ns, name, uid string) error { return errors.New("pod is gone") },
	})
	unbound, _, err := issuer.Issue("ns", "sa", "uid", nil, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := verifier.AuthenticateToken(t.Context(), unbound); !ok {
		t.Errorf("token bound to nothing refused: %v", err)
	}
	bound, _, err := issuer.Issue("ns", "sa", "uid", nil, time.Hour, &BoundObject{Kind: BoundPod, Name: "p", UID: "p-uid"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := verifier.AuthenticateToken(t.Context(), bound); ok || err == nil || !strings.Contains(err.Error(), "bound pod ns/p (uid p-uid): pod is gone") {
		t.Errorf("token of a deleted pod: ok=%v err=%v", ok, err)
	}
}

func TestIssueRejectsBadInput(t *testing.T) {
	issuer, _ := newTokenPair(t, VerifierConfig{})
	tests := []struct {
		name               string
		namespace, sa, uid string
		expiration         time.Duration
		bound              *BoundObject
	}{
		{name: "no namespace", sa: "sa", uid: "u", expiration: time.Hour},
		{name: "no uid", namespace: "ns", sa: "sa", expiration: time.Hour},
		{name: "no expiration", namespace: "ns", sa: "sa", uid: "u"},
		{name: "unknown bound kind", namespace: "ns", sa: "sa", uid: "u", expiration: time.Hour, bound: &BoundObject{Kind: "ConfigMap", Name: "c", UID: "c"}},
		{name: "bound object without uid", namespace: "ns", sa: "sa", uid: "u", expiration: time.Hour, bound: &BoundObject{Kind: BoundPod, Name: "p"}},
	}
	for _, tt := range tests {
		if _, _, err := issuer.Issue(tt.namespace, tt.sa, tt.uid, nil, tt.expiration, tt.bound); err == nil {
			t.Errorf("%s: token issued", tt.name)
		}
	}
}

func TestNewIssuerAndVerifierRejectBadKeys(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewIssuer("", edKey); err == nil {
		t.Error("issuer accepted an Ed25519 key")
	}
	if _, err := NewVerifier(VerifierConfig{Keys: []crypto.PublicKey{edKey.Public()}}); err == nil {
		t.Error("verifier accepted an Ed25519 key")
	}
	if _, err := NewVerifier(VerifierConfig{}); err == nil {
		t.Error("verifier without keys was created")
	}
}

func TestSplitServiceAccountUsername(t *testing.T) {
	tests := []struct {
		user, namespace, name string
		ok                    bool
	}{
		{"system:serviceaccount:ns:sa", "ns", "sa", true},
		{"system:serviceaccount:ns:sa.with.dots", "ns", "sa.with.dots", true},
		{"system:serviceaccount:ns", "", "", false},
		{"system:serviceaccount:ns:sa:extra", "", "", false},
		{"system:serviceaccount::sa", "", "", false},
		{"system:serviceaccount:NS:sa", "", "", false},
		{"alice", "", "", false},
	}
	for _, tt := range tests {
		namespace, name, ok := SplitServiceAccountUsername(tt.user)
		if namespace != tt.namespace || name != tt.name || ok != tt.ok {
			t.Errorf("SplitServiceAccountUsername(%q) = %q, %q, %v", tt.user, namespace, name, ok)
		}
	}
}

// decodeJWT returns the header and payload of a token without verifying it.
func decodeJWT(t *testing.T, token string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, out := range []*map[string]any{&header, &payload} {
		data, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}
