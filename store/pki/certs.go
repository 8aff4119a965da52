package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

const (
	// caValidity is how long the cluster CA is valid.
	caValidity = 10 * 365 * 24 * time.Hour
	// leafValidity is how long the serving and admin certificates are valid.
	leafValidity = 365 * 24 * time.Hour
	// renewBefore is how long before expiry a leaf certificate is reissued.
	renewBefore = 30 * 24 * time.Hour
	// backdate moves NotBefore into the past to tolerate clock skew
	// between machines.
	backdate = 5 * time.Minute
)

// leaf describes one certificate signed by the CA that Ensure maintains.
type leaf struct {
	certFile, keyFile string
	// template is the certificate to issue when the file is missing or stale.
	template *x509.Certificate
	// hosts are the names and addresses the certificate must cover.
	hosts []string
}

// keyPair is a certificate and key both parsed and in PEM form.
type keyPair struct {
	pair            tls.Certificate
	certPEM, keyPEM []byte
}

// ensureCA loads the CA from its files or, when neither exists, creates it.
func (p *PKI) ensureCA(now time.Time) error {
	certPEM, haveCert, err := readOptional(p.path(caCertFile))
	if err != nil {
		return err
	}
	keyPEM, haveKey, err := readOptional(p.path(caKeyFile))
	if err != nil {
		return err
	}
	switch {
	case !haveCert && !haveKey:
		return p.createCA(now)
	case !haveKey:
		return fmt.Errorf("%s exists but %s is missing: restore the key, or remove both files to create a new CA (every issued credential stops working)", p.path(caCertFile), p.path(caKeyFile))
	case !haveCert:
		return fmt.Errorf("%s exists but %s is missing: restore the certificate, or remove both files to create a new CA (every issued credential stops working)", p.path(caKeyFile), p.path(caCertFile))
	}
	pair, err := p.parsePair(caCertFile, caKeyFile, certPEM, keyPEM)
	if err != nil {
		return err
	}
	ca := pair.pair.Leaf
	if !ca.IsCA {
		return fmt.Errorf("%s: certificate %q is not a certificate authority", p.path(caCertFile), ca.Subject.CommonName)
	}
	if now.After(ca.NotAfter) {
		return fmt.Errorf("%s: certificate authority expired on %s; remove %s and %s to create a new one", p.path(caCertFile), ca.NotAfter.Format(time.RFC3339), caCertFile, caKeyFile)
	}
	p.setCA(pair)
	return nil
}

// createCA generates a new self-signed CA and writes it.
//
// The CA template is built here rather than with client-go's
// cert.NewSelfSignedCACert so that the CA and the leaves go through the same
// signing code with the same clock.
func (p *PKI) createCA(now time.Time) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	template := &x509.Certificate{
		Subject:               pkix.Name{CommonName: caCommonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	certPEM, err := sign(template, template, key, key)
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return fmt.Errorf("create CA: %w", err)
	}
	if err := p.writePair(caCertFile, caKeyFile, certPEM, keyPEM); err != nil {
		return err
	}
	pair, err := p.parsePair(caCertFile, caKeyFile, certPEM, keyPEM)
	if err != nil {
		return err
	}
	p.setCA(pair)
	return nil
}

// setCA records a loaded CA.
func (p *PKI) setCA(ca keyPair) {
	p.CACert = ca.pair.Leaf
	p.CAPEM = ca.certPEM
	p.caKey = ca.pair.PrivateKey.(crypto.Signer)
}

// ensureLeaf loads the certificate l describes, and issues and writes a new
// one when it is missing or reissueReason finds it stale.
func (p *PKI) ensureLeaf(l leaf, now time.Time) (keyPair, error) {
	certPEM, haveCert, err := readOptional(p.path(l.certFile))
	if err != nil {
		return keyPair{}, err
	}
	keyPEM, haveKey, err := readOptional(p.path(l.keyFile))
	if err != nil {
		return keyPair{}, err
	}
	if haveCert && haveKey {
		pair, err := p.parsePair(l.certFile, l.keyFile, certPEM, keyPEM)
		if err != nil {
			return keyPair{}, err
		}
		if reissueReason(pair.pair.Leaf, p.CACert, l.template, l.hosts, now) == "" {
			return pair, nil
		}
	}
	certPEM, keyPEM, err = p.issue(l.template)
	if err != nil {
		return keyPair{}, fmt.Errorf("issue %s: %w", p.path(l.certFile), err)
	}
	if err := p.writePair(l.certFile, l.keyFile, certPEM, keyPEM); err != nil {
		return keyPair{}, err
	}
	return p.parsePair(l.certFile, l.keyFile, certPEM, keyPEM)
}

// reissueReason says why cert can no longer be used in place of one issued
// from want, or returns "" when it still can.
func reissueReason(cert, ca, want *x509.Certificate, hosts []string, now time.Time) string {
	if err := cert.CheckSignatureFrom(ca); err != nil {
		return "not signed by the current CA"
	}
	if now.Add(renewBefore).After(cert.NotAfter) {
		return "expires on " + cert.NotAfter.Format(time.RFC3339)
	}
	if cert.Subject.CommonName != want.Subject.CommonName || !slices.Equal(cert.Subject.Organization, want.Subject.Organization) {
		return "subject changed"
	}
	for _, host := range hosts {
		if cert.VerifyHostname(host) != nil {
			return "does not cover " + host
		}
	}
	return ""
}

// issue signs template with the CA for a new key and returns both in PEM.
func (p *PKI) issue(template *x509.Certificate) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = sign(template, p.CACert, p.caKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// servingTemplate is the API server's certificate for hosts.
func servingTemplate(hosts []string, now time.Time) *x509.Certificate {
	template := &x509.Certificate{
		Subject:     pkix.Name{CommonName: servingCommonName},
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(leafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, host := range hosts {
		if ip := net.ParseIP(host); ip != nil {
			template.IPAddresses = append(template.IPAddresses, ip)
		} else {
			template.DNSNames = append(template.DNSNames, host)
		}
	}
	return template
}

// clientTemplate is a client certificate for subject.
func clientTemplate(subject pkix.Name, now time.Time, validity time.Duration) *x509.Certificate {
	return &x509.Certificate{
		Subject:     subject,
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// sign signs template for the public half of key with parent and returns
// the certificate in PEM. The template is copied, not modified.
func sign(template, parent *x509.Certificate, parentKey crypto.Signer, key crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	t := *template
	t.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, &t, parent, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return certutil.EncodeCertificates(cert)
}

// newKey generates an ECDSA P-256 private key.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}

// parsePair parses a certificate and its key, naming the file at fault when
// either is malformed or when they do not belong together.
func (p *PKI) parsePair(certFile, keyFile string, certPEM, keyPEM []byte) (keyPair, error) {
	certs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		return keyPair{}, fmt.Errorf("%s: %w", p.path(certFile), err)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return keyPair{}, fmt.Errorf("%s: %w", p.path(keyFile), err)
	}
	if !publicKeysEqual(certs[0].PublicKey, key.Public()) {
		return keyPair{}, fmt.Errorf("%s does not hold the key of the certificate in %s", p.path(keyFile), p.path(certFile))
	}
	pair := tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		pair.Certificate = append(pair.Certificate, c.Raw)
	}
	return keyPair{pair: pair, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// parsePrivateKey parses an RSA or ECDSA private key in any of the PEM forms
// Kubernetes tools write.
func parsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	parsed, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", parsed)
	}
	return key, nil
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
