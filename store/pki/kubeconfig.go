package pki

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// KubeconfigContext is the name of the cluster and context in the
// kubeconfigs WriteKubeconfig writes.
const KubeconfigContext = "berth"

// WriteKubeconfig writes a kubeconfig at path (mode 0600, parent directory
// created) that reaches serverURL, trusts caPEM and authenticates with the
// client certificate certPEM/keyPEM as userName. Everything is embedded, so
// the file works wherever it is copied. Its only context, "berth", is the
// current one.
func WriteKubeconfig(path, serverURL string, caPEM, certPEM, keyPEM []byte, userName string) error {
	if userName == "" {
		return fmt.Errorf("kubeconfig %s: user name is empty", path)
	}
	config := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{
			KubeconfigContext: {Server: serverURL, CertificateAuthorityData: caPEM},
		},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{
			userName: {ClientCertificateData: certPEM, ClientKeyData: keyPEM},
		},
		Contexts: map[string]*clientcmdapi.Context{
			KubeconfigContext: {Cluster: KubeconfigContext, AuthInfo: userName},
		},
		CurrentContext: KubeconfigContext,
	}
	if err := clientcmd.Validate(config); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	data, err := clientcmd.Write(config)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return writeFile(path, data, keyMode)
}
