package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// CertAuthenticator authenticates requests by their TLS client certificate:
// the subject's common name is the user name and its organizations are the
// groups, as kube-apiserver reads them.
type CertAuthenticator struct {
	roots *x509.CertPool
	// verified remembers certificates that passed verification, by their
	// SHA-256, so a connection's requests pay for the signature checks once.
	verified sync.Map // [32]byte → *User
	size     atomic.Int32
}

// maxVerified bounds the verified-certificate cache; it is emptied when full.
const maxVerified = 1024

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
	sum := sha256.Sum256(cert.Raw)
	if u, ok := a.verified.Load(sum); ok && time.Now().Before(cert.NotAfter) {
		return u.(*User).clone(), true, nil
	}
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
	user := &User{
		Name:   cert.Subject.CommonName,
		Groups: slices.Clone(cert.Subject.Organization),
		Extra:  map[string][]string{CredentialIDKey: {"X509SHA256=" + hex.EncodeToString(sum[:])}},
	}
	if a.size.Add(1) > maxVerified {
		a.verified.Clear()
		a.size.Store(1)
	}
	a.verified.Store(sum, user)
	return user.clone(), true, nil
}
