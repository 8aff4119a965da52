package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
)

// CertAuthenticator authenticates requests by their TLS client certificate:
// the subject's common name is the user name and its organizations are the
// groups, as kube-apiserver reads them.
type CertAuthenticator struct {
	roots *x509.CertPool
}

// NewCertAuthenticator returns an authenticator that accepts client
// certificates issued by a CA in roots.
func NewCertAuthenticator(roots *x509.CertPool) *CertAuthenticator {
	return &CertAuthenticator{roots: roots}
}

// Authenticate verifies the peer certificate of r's TLS connection for
// client authentication. The listener may have verified it already; it is
// verified again here so that a listener that accepts any certificate never
// lets one through.
func (a *CertAuthenticator) Authenticate(r *http.Request) (*User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	cert := r.TLS.PeerCertificates[0]
	intermediates := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:         a.roots,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, false, fmt.Errorf("client certificate %q (serial %s): %w", cert.Subject.CommonName, cert.SerialNumber, err)
	}
	if cert.Subject.CommonName == "" {
		return nil, false, fmt.Errorf("client certificate (serial %s) has no common name to use as user name", cert.SerialNumber)
	}
	sum := sha256.Sum256(cert.Raw)
	return &User{
		Name:   cert.Subject.CommonName,
		Groups: slices.Clone(cert.Subject.Organization),
		Extra:  map[string][]string{CredentialIDKey: {"X509SHA256=" + hex.EncodeToString(sum[:])}},
	}, true, nil
}
