package pki

import (
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// IssueServingCert signs a new TLS serving certificate for hosts (IP
// addresses and DNS names) with subject commonName in groups: what a node
// agent presents on its HTTPS endpoint (CN "system:node:<node>", O
// "system:nodes", as kubelet serving certificates carry). It returns the
// certificate and its fresh private key in PEM form.
func (p *PKI) IssueServingCert(commonName string, groups, hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	switch {
	case commonName == "":
		return nil, nil, errors.New("issue serving certificate: common name is empty")
	case len(hosts) == 0:
		return nil, nil, fmt.Errorf("issue serving certificate for %q: no host names or addresses to cover", commonName)
	case validity <= 0:
		return nil, nil, fmt.Errorf("issue serving certificate for %q: validity %v is not positive", commonName, validity)
	}
	now := time.Now()
	template := servingTemplate(dedupe(append([]string(nil), hosts...)), now)
	template.Subject = pkix.Name{CommonName: commonName, Organization: groups}
	template.NotAfter = now.Add(validity)
	return p.issue(template)
}

// WriteCertAndKey writes a certificate (mode 0644) and its private key
// (mode 0600) atomically, creating their directories (mode 0700).
func WriteCertAndKey(certPath, keyPath string, certPEM, keyPEM []byte) error {
	for _, path := range []string{certPath, keyPath} {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := writeFile(keyPath, keyPEM, keyMode); err != nil {
		return err
	}
	return writeFile(certPath, certPEM, certMode)
}

// WriteCACert writes the cluster CA certificate to path (mode 0644), for
// clients that verify servers the CA signed.
func (p *PKI) WriteCACert(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeFile(path, p.CAPEM, certMode)
}
