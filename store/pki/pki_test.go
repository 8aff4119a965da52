package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"
)

func ensureT(t *testing.T, dir string, hosts ...string) *PKI {
	t.Helper()
	p, err := Ensure(dir, hosts)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return p
}

func TestEnsureCreatesEverything(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	p := ensureT(t, dir, "api.example.com", "192.0.2.7")

	modes := map[string]os.FileMode{
		caCertFile: certMode, caKeyFile: keyMode,
		servingCertFile: certMode, servingKeyFile: keyMode,
		adminCertFile: certMode, adminKeyFile: keyMode,
		saKeyFile: keyMode, saPubFile: certMode,
	}
	for name, want := range modes {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", name, got, want)
		}
	}

	if !p.CACert.IsCA || p.CACert.NotAfter.Sub(p.CACert.NotBefore) < 9*365*24*time.Hour {
		t.Errorf("CA: IsCA=%v validity %v", p.CACert.IsCA, p.CACert.NotAfter.Sub(p.CACert.NotBefore))
	}

	serving := p.Serving.Leaf
	if _, err := serving.Verify(x509.VerifyOptions{Roots: p.CAPool()}); err != nil {
		t.Errorf("serving certificate does not chain to the CA: %v", err)
	}
	hostname, _ := os.Hostname()
	for _, host := range slices.Concat(clusterHosts, []string{strings.ToLower(hostname), "api.example.com", "192.0.2.7"}) {
		if err := serving.VerifyHostname(host); err != nil {
			t.Errorf("serving certificate: %v", err)
		}
	}

	admin := parseCert(t, p.AdminCertPEM)
	if admin.Subject.CommonName != AdminUser || !slices.Equal(admin.Subject.Organization, []string{MastersGroup}) {
		t.Errorf("admin subject = %v", admin.Subject)
	}
	if _, err := admin.Verify(x509.VerifyOptions{Roots: p.CAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin certificate is not a client certificate of the CA: %v", err)
	}

	if !publicKeysEqual(p.ServiceAccountKey.Public(), p.ServiceAccountPublicKey) {
		t.Error("service account public key does not match the private key")
	}
}

func TestEnsureReusesExistingFiles(t *testing.T) {
	dir := t.TempDir()
	first := ensureT(t, dir, "a.example")
	second := ensureT(t, dir, "a.example")

	if !first.CACert.Equal(second.CACert) {
		t.Error("CA was recreated")
	}
	if !first.Serving.Leaf.Equal(second.Serving.Leaf) {
		t.Error("serving certificate was reissued although nothing changed")
	}
	if string(first.AdminCertPEM) != string(second.AdminCertPEM) {
		t.Error("admin certificate was reissued although nothing changed")
	}
	if !publicKeysEqual(first.ServiceAccountPublicKey, second.ServiceAccountPublicKey) {
		t.Error("service account key was regenerated")
	}
}

func TestEnsureReissuesServingCertForNewHost(t *testing.T) {
	dir := t.TempDir()
	first := ensureT(t, dir, "a.example")
	second := ensureT(t, dir, "a.example", "b.example")

	if !first.CACert.Equal(second.CACert) {
		t.Error("CA was recreated")
	}
	if first.Serving.Leaf.Equal(second.Serving.Leaf) {
		t.Fatal("serving certificate was not reissued for a new host")
	}
	if err := second.Serving.Leaf.VerifyHostname("b.example"); err != nil {
		t.Error(err)
	}
	// A new certificate replaces the files, so the next start keeps it.
	third := ensureT(t, dir, "b.example")
	if !third.Serving.Leaf.Equal(second.Serving.Leaf) {
		t.Error("reissued serving certificate was not written")
	}
}

func TestEnsureRejectsBadFiles(t *testing.T) {
	garbage := []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")
	for _, name := range []string{caCertFile, caKeyFile, servingCertFile, servingKeyFile, adminCertFile, adminKeyFile, saKeyFile, saPubFile} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ensureT(t, dir)
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, garbage, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Ensure(dir, nil)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("Ensure error = %v, want one naming %s", err, path)
			}
		})
	}
}

func TestEnsureRejectsInconsistentFiles(t *testing.T) {
	tests := []struct {
		name   string
		damage func(dir string) error
		want   string
	}{
		{
			name:   "CA key missing",
			damage: func(dir string) error { return os.Remove(filepath.Join(dir, caKeyFile)) },
			want:   caKeyFile + " is missing",
		},
		{
			name:   "CA certificate missing",
			damage: func(dir string) error { return os.Remove(filepath.Join(dir, caCertFile)) },
			want:   caCertFile + " is missing",
		},
		{
			name:   "serving key belongs to another certificate",
			damage: func(dir string) error { return copyFile(dir, adminKeyFile, dir, servingKeyFile) },
			want:   servingKeyFile + " does not hold the key of the certificate in",
		},
		{
			name: "sa.pub belongs to another key",
			damage: func(dir string) error {
				other, err := Ensure(t.TempDir(), nil)
				if err != nil {
					return err
				}
				return copyFile(other.Dir, saPubFile, dir, saPubFile)
			},
			want: saPubFile + " does not hold the public key of",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ensureT(t, dir)
			if err := tt.damage(dir); err != nil {
				t.Fatal(err)
			}
			_, err := Ensure(dir, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Ensure error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEnsureRegeneratesMissingLeaves(t *testing.T) {
	dir := t.TempDir()
	first := ensureT(t, dir)
	for _, name := range []string{servingKeyFile, saPubFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	second := ensureT(t, dir)
	if first.Serving.Leaf.Equal(second.Serving.Leaf) {
		t.Error("serving certificate without key was kept")
	}
	if _, err := os.Stat(filepath.Join(dir, saPubFile)); err != nil {
		t.Errorf("sa.pub was not written again: %v", err)
	}
}

func TestReissueReason(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := ensure(t.TempDir(), []string{"a.example"}, now)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ensure(t.TempDir(), nil, now)
	if err != nil {
		t.Fatal(err)
	}
	cert := p.Serving.Leaf
	want := servingTemplate([]string{"a.example"}, now)
	renamed := servingTemplate(nil, now)
	renamed.Subject = pkix.Name{CommonName: "other"}

	tests := []struct {
		name  string
		ca    *x509.Certificate
		want  *x509.Certificate
		hosts []string
		now   time.Time
		wants string
	}{
		{name: "still good", ca: p.CACert, want: want, hosts: []string{"a.example", "A.EXAMPLE"}, now: now},
		{name: "nearly expired", ca: p.CACert, want: want, now: now.Add(leafValidity - renewBefore + time.Hour), wants: "expires on"},
		{name: "other CA", ca: other.CACert, want: want, now: now, wants: "not signed by the current CA"},
		{name: "host missing", ca: p.CACert, want: want, hosts: []string{"a.example", "b.example"}, now: now, wants: "does not cover b.example"},
		{name: "subject changed", ca: p.CACert, want: renamed, now: now, wants: "subject changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := reissueReason(cert, tt.ca, tt.want, tt.hosts, tt.now)
			if tt.wants == "" && got != "" || !strings.Contains(got, tt.wants) {
				t.Errorf("reissueReason = %q, want %q", got, tt.wants)
			}
		})
	}
}

func TestIssueClientCert(t *testing.T) {
	p := ensureT(t, t.TempDir())
	certPEM, keyPEM, err := p.IssueClientCert("system:node:n1", []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCert(t, certPEM)
	if cert.Subject.CommonName != "system:node:n1" || !slices.Equal(cert.Subject.Organization, []string{"system:nodes"}) {
		t.Errorf("subject = %v", cert.Subject)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: p.CAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("not a client certificate of the CA: %v", err)
	}
	if got := cert.NotAfter.Sub(time.Now()); got > time.Hour || got < 50*time.Minute {
		t.Errorf("certificate expires in %v, want about an hour", got)
	}
	if _, err := p.parsePair("c", "k", certPEM, keyPEM); err != nil {
		t.Errorf("key does not match certificate: %v", err)
	}

	for _, bad := range []struct {
		cn       string
		validity time.Duration
	}{{"", time.Hour}, {"x", 0}, {"x", -time.Hour}} {
		if _, _, err := p.IssueClientCert(bad.cn, nil, bad.validity); err == nil {
			t.Errorf("IssueClientCert(%q, %v) succeeded", bad.cn, bad.validity)
		}
	}
}

// TestKubeconfigReachesServer connects a client built from a written
// kubeconfig to a server using ServerTLSConfig, which sees the client's
// identity.
func TestKubeconfigReachesServer(t *testing.T) {
	p := ensureT(t, t.TempDir())
	server := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	server.TLS = p.ServerTLSConfig()
	server.StartTLS()
	defer server.Close()

	path := filepath.Join(t.TempDir(), "sub", "admin.kubeconfig")
	if err := WriteKubeconfig(path, server.URL, p.CAPEM, p.AdminCertPEM, p.AdminKeyPEM, AdminUser); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != keyMode {
		t.Errorf("kubeconfig mode = %v, want %v", info.Mode().Perm(), keyMode)
	}
	loaded, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.CurrentContext != KubeconfigContext || loaded.Contexts[KubeconfigContext].AuthInfo != AdminUser {
		t.Errorf("kubeconfig context = %q, %+v", loaded.CurrentContext, loaded.Contexts)
	}

	config, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != AdminUser {
		t.Errorf("server saw client %q (status %d), want %q", body, resp.StatusCode, AdminUser)
	}
}

func TestWriteKubeconfigRejectsInvalidConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := WriteKubeconfig(path, "", nil, nil, nil, "u"); err == nil {
		t.Fatal("kubeconfig without server was written")
	}
	if err := WriteKubeconfig(path, "https://127.0.0.1:6443", nil, nil, nil, ""); err == nil {
		t.Fatal("kubeconfig without user name was written")
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("invalid kubeconfig file exists")
	}
}

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	certs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func copyFile(fromDir, fromName, toDir, toName string) error {
	data, err := os.ReadFile(filepath.Join(fromDir, fromName))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(toDir, toName), data, 0o600)
}
