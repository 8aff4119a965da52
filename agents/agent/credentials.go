package agent

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-io/berth/store/server"
)

// UseCredentials sets Rest and the serving files from a node credentials
// directory (server.WriteNodeCredentials, `berth nodes credentials`): the
// kubeconfig of system:node:<name>, the HTTPS certificate and key, and
// the cluster CA.
func (cfg *Config) UseCredentials(dir string) error {
	kubeconfig := filepath.Join(dir, server.NodeKubeconfigFile)
	if _, err := os.Stat(kubeconfig); err != nil {
		return fmt.Errorf("agent: node credentials in %s: %w (write them with berth nodes credentials)", dir, err)
	}
	rest, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("agent: %s: %w", kubeconfig, err)
	}
	rest.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.Rest = rest
	cfg.ServingCertFile = filepath.Join(dir, server.NodeServingCertFile)
	cfg.ServingKeyFile = filepath.Join(dir, server.NodeServingKeyFile)
	cfg.ClientCAFile = filepath.Join(dir, server.NodeCAFile)
	return nil
}
