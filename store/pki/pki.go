// Package pki creates and loads the API server's public key infrastructure:
// a cluster certificate authority, the serving certificate, the admin client
// certificate and the ServiceAccount token signing key. Everything lives as
// PEM files in one directory so that a restarted server keeps its identity and
// every credential it ever issued stays valid.
package pki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"time"
)

// Files inside the PKI directory.
const (
	caCertFile      = "ca.crt"
	caKeyFile       = "ca.key"
	servingCertFile = "server.crt"
	servingKeyFile  = "server.key"
	adminCertFile   = "admin.crt"
	adminKeyFile    = "admin.key"
	saKeyFile       = "sa.key"
	saPubFile       = "sa.pub"
)

// Identities carried by the certificates Ensure issues.
const (
	// AdminUser is the common name of the admin client certificate.
	AdminUser = "admin"
	// MastersGroup is the group RBAC lets do anything; the admin is in it.
	MastersGroup = "system:masters"
	// servingCommonName is the subject of the serving certificate.
	servingCommonName = "berth-apiserver"
	// caCommonName is the subject of the cluster certificate authority.
	caCommonName = "berth-ca"
)

// PKI is the loaded key material of one API server.
type PKI struct {
	// Dir is the directory the files were read from or written to.
	Dir string
	// CACert is the cluster certificate authority.
	CACert *x509.Certificate
	// CAPEM is CACert in PEM form, as it goes into kubeconfigs.
	CAPEM []byte
	// Serving is the API server's TLS certificate and key.
	Serving tls.Certificate
	// AdminCertPEM and AdminKeyPEM are the admin client credential
	// (CN "admin", O "system:masters").
	AdminCertPEM, AdminKeyPEM []byte
	// ServiceAccountKey signs ServiceAccount tokens.
	ServiceAccountKey crypto.Signer
	// ServiceAccountPublicKey verifies ServiceAccount tokens.
	ServiceAccountPublicKey crypto.PublicKey

	caKey crypto.Signer
}

// Ensure loads the PKI from dir (the server uses <data-dir>/tls), creating
// whatever is missing; dir is created with mode 0700. The serving
// certificate covers the local names and addresses (see ServingHosts) plus
// hosts; it is reissued when one of them is missing from it, when it no
// longer chains to the CA, or when it expires within a month. The admin
// certificate is renewed the same way. A file that exists but cannot be read
// or parsed is an error naming that file: Ensure never replaces the CA or the
// signing key it cannot read, because that would void every credential
// issued so far.
func Ensure(dir string, hosts []string) (*PKI, error) {
	return ensure(dir, ServingHosts(hosts), time.Now())
}

// CAPool returns a pool holding only the cluster CA, for verifying client
// certificates.
func (p *PKI) CAPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CACert)
	return pool
}

// ServerTLSConfig returns the TLS configuration of the API server's listener:
// it presents the serving certificate and asks for, but does not require,
// client certificates signed by the cluster CA.
func (p *PKI) ServerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{p.Serving},
		ClientCAs:    p.CAPool(),
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
}

// IssueClientCert signs a new client certificate for a component identity:
// commonName becomes the user name and groups the organizations, which the
// API server reads as groups (for example "system:node:n1" in
// "system:nodes"). It returns the certificate and its fresh private key in
// PEM form.
func (p *PKI) IssueClientCert(commonName string, groups []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if commonName == "" {
		return nil, nil, errors.New("issue client certificate: common name is empty")
	}
	if validity <= 0 {
		return nil, nil, fmt.Errorf("issue client certificate for %q: validity %v is not positive", commonName, validity)
	}
	subject := pkix.Name{CommonName: commonName, Organization: groups}
	return p.issue(clientTemplate(subject, time.Now(), validity))
}

// ensure is Ensure with the serving hosts resolved and the clock fixed.
func ensure(dir string, hosts []string, now time.Time) (*PKI, error) {
	if dir == "" {
		return nil, errors.New("pki: directory is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: create %s: %w", dir, err)
	}
	p := &PKI{Dir: dir}
	if err := p.ensureCA(now); err != nil {
		return nil, err
	}
	serving, err := p.ensureLeaf(leaf{
		certFile: servingCertFile,
		keyFile:  servingKeyFile,
		template: servingTemplate(hosts, now),
		hosts:    hosts,
	}, now)
	if err != nil {
		return nil, err
	}
	p.Serving = serving.pair
	admin, err := p.ensureLeaf(leaf{
		certFile: adminCertFile,
		keyFile:  adminKeyFile,
		template: clientTemplate(pkix.Name{CommonName: AdminUser, Organization: []string{MastersGroup}}, now, leafValidity),
	}, now)
	if err != nil {
		return nil, err
	}
	p.AdminCertPEM, p.AdminKeyPEM = admin.certPEM, admin.keyPEM
	if err := p.ensureServiceAccountKey(); err != nil {
		return nil, err
	}
	return p, nil
}
