package authn

import (
	"crypto/tls"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-io/berth/store/pki"
	"github.com/prometheus/client_golang/prometheus"
)

// outcome is what the test server reports about a request.
type outcome struct {
	Name          string
	Groups        []string
	Authenticated bool
	Error         string
	// Authorization is the header as the handler sees it afterwards.
	Authorization string
}

// authServer starts a TLS server that authenticates every request with
// chain and answers with the outcome as JSON.
func authServer(t *testing.T, p *pki.PKI, clientAuth tls.ClientAuthType, chain *Chain) *httptest.Server {
	t.Helper()
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok, err := chain.Authenticate(r)
		out := outcome{Authenticated: ok, Authorization: r.Header.Get("Authorization")}
		if err != nil {
			out.Error = err.Error()
		}
		if ok {
			out.Name, out.Groups = user.Name, user.Groups
		}
		json.NewEncoder(w).Encode(out)
	}))
	server.TLS = p.ServerTLSConfig()
	server.TLS.ClientAuth = clientAuth
	server.StartTLS()
	t.Cleanup(server.Close)
	return server
}

// clientCert issues a client certificate from p.
func clientCert(t *testing.T, p *pki.PKI, cn string, groups ...string) tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := p.IssueClientCert(cn, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func TestChainOverTLS(t *testing.T) {
	p, err := pki.Ensure(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := pki.Ensure(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := ParseTokenFile(strings.NewReader("secret-token,alice,a1,\"dev,ops\"\n"), "tokens.csv")
	if err != nil {
		t.Fatal(err)
	}
	node := clientCert(t, p, "system:node:n1", "system:nodes")
	stranger := clientCert(t, foreign, "mallory", "system:masters")
	serving := p.Serving // a certificate of the right CA, but not for clients

	tests := []struct {
		name       string
		clientAuth tls.ClientAuthType
		cert       *tls.Certificate
		header     string
		want       outcome
		wantError  string
	}{
		{
			name:       "client certificate",
			clientAuth: tls.VerifyClientCertIfGiven,
			cert:       &node,
			want:       outcome{Name: "system:node:n1", Groups: []string{"system:nodes", AuthenticatedGroup}, Authenticated: true},
		},
		{
			name:       "no credentials",
			clientAuth: tls.VerifyClientCertIfGiven,
			want:       outcome{},
		},
		{
			name:       "static token",
			clientAuth: tls.VerifyClientCertIfGiven,
			header:     "Bearer secret-token",
			want:       outcome{Name: "alice", Groups: []string{"dev", "ops", AuthenticatedGroup}, Authenticated: true},
		},
		{
			name:       "unknown token is refused, not anonymous",
			clientAuth: tls.VerifyClientCertIfGiven,
			header:     "Bearer nope",
			want:       outcome{Authorization: "Bearer nope"},
			wantError:  "invalid bearer token",
		},
		{
			name:       "other schemes are no credentials",
			clientAuth: tls.VerifyClientCertIfGiven,
			header:     "Basic YWxpY2U6cHc=",
			want:       outcome{Authorization: "Basic YWxpY2U6cHc="},
		},
		{
			name:       "certificate of another CA is refused even if the listener accepts it",
			clientAuth: tls.RequireAnyClientCert,
			cert:       &stranger,
			want:       outcome{},
			wantError:  `client certificate "mallory"`,
		},
		{
			name:       "serving certificate is not a client certificate",
			clientAuth: tls.RequireAnyClientCert,
			cert:       &serving,
			want:       outcome{},
			wantError:  "incompatible key usage",
		},
		{
			name:       "valid token after a refused certificate",
			clientAuth: tls.RequireAnyClientCert,
			cert:       &stranger,
			header:     "Bearer secret-token",
			want:       outcome{Name: "alice", Groups: []string{"dev", "ops", AuthenticatedGroup}, Authenticated: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := authServer(t, p, tt.clientAuth, &Chain{
				Request: []Authenticator{NewCertAuthenticator(p.CAPool())},
				Tokens:  []TokenAuthenticator{tokens},
			})
			config := &tls.Config{RootCAs: p.CAPool()}
			if tt.cert != nil {
				config.Certificates = []tls.Certificate{*tt.cert}
			}
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: config}}
			req, _ := http.NewRequest(http.MethodGet, server.URL, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got outcome
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got.Error, tt.wantError) || (tt.wantError == "") != (got.Error == "") {
				t.Errorf("error = %q, want %q", got.Error, tt.wantError)
			}
			got.Error = ""
			if got.Name != tt.want.Name || !slices.Equal(got.Groups, tt.want.Groups) || got.Authenticated != tt.want.Authenticated || got.Authorization != tt.want.Authorization {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestChainAuthenticateToken(t *testing.T) {
	issuer, verifier := newTokenPair(t, VerifierConfig{})
	token, _, err := issuer.Issue("ns", "builder", "u-1", nil, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := ParseTokenFile(strings.NewReader("static,bob,,\n"), "tokens.csv")
	if err != nil {
		t.Fatal(err)
	}
	chain := &Chain{Tokens: []TokenAuthenticator{tokens, verifier}}

	user, ok, err := chain.AuthenticateToken(t.Context(), token)
	if err != nil || !ok {
		t.Fatalf("AuthenticateToken = %v, %v", ok, err)
	}
	want := []string{ServiceAccountsGroup, ServiceAccountsGroup + ":ns", AuthenticatedGroup}
	if user.Name != "system:serviceaccount:ns:builder" || !slices.Equal(user.Groups, want) {
		t.Errorf("user = %+v", user)
	}

	if _, ok, err := chain.AuthenticateToken(t.Context(), "unknown"); ok || err == nil {
		t.Errorf("unknown token: ok=%v err=%v, want refusal", ok, err)
	}
}

func TestChainDoesNotShareUsers(t *testing.T) {
	tokens, err := ParseTokenFile(strings.NewReader("t,bob,,g\n"), "tokens.csv")
	if err != nil {
		t.Fatal(err)
	}
	chain := &Chain{Tokens: []TokenAuthenticator{tokens}}
	first, _, _ := chain.AuthenticateToken(t.Context(), "t")
	first.Groups[0] = "changed"
	second, _, _ := chain.AuthenticateToken(t.Context(), "t")
	if !slices.Equal(second.Groups, []string{"g", AuthenticatedGroup}) {
		t.Errorf("groups = %v: a caller's change leaked into the token file", second.Groups)
	}
}

func TestChainMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := ParseTokenFile(strings.NewReader("good,bob,,\n"), "tokens.csv")
	if err != nil {
		t.Fatal(err)
	}
	chain := &Chain{Tokens: []TokenAuthenticator{tokens}, Metrics: metrics}
	for _, header := range []string{"Bearer good", "Bearer good", "Bearer bad", ""} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		chain.Authenticate(r)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, family := range families {
		for _, m := range family.GetMetric() {
			got[family.GetName()+"/"+m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"berth_authentication_attempts_total/success":   2,
		"berth_authentication_attempts_total/failure":   1,
		"berth_authentication_attempts_total/anonymous": 1,
	}
	if !maps.Equal(got, want) {
		t.Errorf("counters = %v, want %v", got, want)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering the counter twice succeeded")
	}
}

func TestAnonymous(t *testing.T) {
	a := Anonymous()
	if a.Name != AnonymousUser || !slices.Equal(a.Groups, []string{UnauthenticatedGroup}) {
		t.Errorf("Anonymous() = %+v", a)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"  Bearer   abc  ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", tt.header)
		got, ok := bearerToken(r)
		if got != tt.want || ok != tt.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}
