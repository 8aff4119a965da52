package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-io/berth/store/pki"
)

// Files WriteNodeCredentials writes into a node's credentials directory.
const (
	// NodeKubeconfigFile reaches the API server as system:node:<node>.
	NodeKubeconfigFile = "kubeconfig"
	// NodeServingCertFile and NodeServingKeyFile are the agent's HTTPS
	// certificate (signed by the cluster CA) and key.
	NodeServingCertFile = "serving.crt"
	NodeServingKeyFile  = "serving.key"
	// NodeCAFile is the cluster CA, which signed the API server's certificate.
	NodeCAFile = "ca.crt"
)

// nodeCredentialValidity is how long node certificates are valid.
const nodeCredentialValidity = 365 * 24 * time.Hour

// WriteNodeCredentials writes into dir everything the agent of node needs
// to join the cluster whose API server is at serverURL and whose PKI is p:
// a kubeconfig for the identity system:node:<node> in system:nodes, a
// serving certificate and key for the agent's HTTPS endpoint (its SANs are
// node's name and hosts: the node's IP addresses and host names), and the
// CA certificate. Existing files are replaced.
func WriteNodeCredentials(p *pki.PKI, serverURL, dir, node string, hosts []string) error {
	if errs := validation.IsDNS1123Subdomain(node); len(errs) > 0 {
		return fmt.Errorf("node name %q: %s", node, strings.Join(errs, "; "))
	}
	user, groups := NodeUser(node), []string{NodesGroup}
	certPEM, keyPEM, err := p.IssueClientCert(user, groups, nodeCredentialValidity)
	if err != nil {
		return fmt.Errorf("credentials of node %s: %w", node, err)
	}
	if err := pki.WriteKubeconfig(filepath.Join(dir, NodeKubeconfigFile), serverURL, p.CAPEM, certPEM, keyPEM, user); err != nil {
		return fmt.Errorf("credentials of node %s: %w", node, err)
	}
	certPEM, keyPEM, err = p.IssueServingCert(user, groups, append([]string{node}, hosts...), nodeCredentialValidity)
	if err != nil {
		return fmt.Errorf("credentials of node %s: %w", node, err)
	}
	if err := pki.WriteCertAndKey(filepath.Join(dir, NodeServingCertFile), filepath.Join(dir, NodeServingKeyFile), certPEM, keyPEM); err != nil {
		return fmt.Errorf("credentials of node %s: %w", node, err)
	}
	if err := p.WriteCACert(filepath.Join(dir, NodeCAFile)); err != nil {
		return fmt.Errorf("credentials of node %s: %w", node, err)
	}
	return nil
}

// WriteNodeCredentials writes the credentials of node (see the function
// WriteNodeCredentials) for this server: how `berth server` equips its own
// local agent.
func (s *Server) WriteNodeCredentials(dir, node string, hosts []string) error {
	return WriteNodeCredentials(s.PKI, s.URL, dir, node, hosts)
}

// LoadPKI loads the PKI of the server whose data directory is dataDir,
// whether or not it runs, to issue credentials with it. Unlike a starting
// server it never creates a CA: a data directory without one is an error.
func LoadPKI(dataDir string) (*pki.PKI, error) {
	dir := filepath.Join(dataDir, "tls")
	for _, name := range []string{"ca.crt", "ca.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%s has no cluster CA (%s is missing): is it the --data-dir of a berth server that has started once?", dataDir, filepath.Join(dir, name))
			}
			return nil, err
		}
	}
	return pki.Ensure(dir, nil)
}

// AdminServerURL is the API server URL in the admin kubeconfig of the
// server whose data directory is dataDir.
func AdminServerURL(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "admin.kubeconfig")
	config, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the server URL: %w", err)
	}
	cluster, ok := config.Clusters[pki.KubeconfigContext]
	if !ok || cluster.Server == "" {
		return "", fmt.Errorf("%s names no server in cluster %q", path, pki.KubeconfigContext)
	}
	return cluster.Server, nil
}
