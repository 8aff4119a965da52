package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"

	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// TestNodeCredentialsWork writes a node's credentials from the server's
// data directory, as `berth nodes credentials` does on a stopped or
// running server, and uses them: the kubeconfig is node n1 (which may
// register itself and nothing else), and the serving certificate is
// trusted through ca.crt at the node's IP address.
func TestNodeCredentialsWork(t *testing.T) {
	s := servertest.Start(t)
	ctx := context.Background()
	p, err := server.LoadPKI(s.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	url, err := server.AdminServerURL(s.DataDir())
	if err != nil || url != s.URL {
		t.Fatalf("AdminServerURL = %q, %v; want %q", url, err, s.URL)
	}
	dir := filepath.Join(t.TempDir(), "n1")
	if err := server.WriteNodeCredentials(p, url, dir, "n1", []string{"127.0.0.1", "n1.example.internal"}); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, server.NodeServingKeyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("serving key: %v, %v; want mode 0600", info, err)
	}

	config, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, server.NodeKubeconfigFile))
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(config)
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("who am I with the node kubeconfig: %v", err)
	}
	if review.Status.UserInfo.Username != "system:node:n1" || !slices.Contains(review.Status.UserInfo.Groups, server.NodesGroup) {
		t.Fatalf("the node kubeconfig is %+v, want system:node:n1 in %s", review.Status.UserInfo, server.NodesGroup)
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("node n1 registers with its kubeconfig: %v", err)
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, metav1.CreateOptions{}); err == nil {
		t.Fatal("node n1's kubeconfig registered node n2")
	}

	serving, err := tls.LoadX509KeyPair(filepath.Join(dir, server.NodeServingCertFile), filepath.Join(dir, server.NodeServingKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	cas, err := certutil.NewPool(filepath.Join(dir, server.NodeCAFile))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(serving.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "n1", "n1.example.internal"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: cas, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("serving certificate for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: cas, DNSName: "10.9.9.9"}); err == nil {
		t.Error("serving certificate verifies for an address it was not issued for")
	}
	agent := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("agent")) }))
	agent.TLS = &tls.Config{Certificates: []tls.Certificate{serving}}
	agent.StartTLS()
	defer agent.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cas}}}
	resp, err := c.Get(agent.URL) // https://127.0.0.1:port
	if err != nil {
		t.Fatalf("HTTPS to the agent with the node's serving certificate: %v", err)
	}
	resp.Body.Close()
}

func TestLoadPKIRefusesADirectoryWithoutACA(t *testing.T) {
	dir := t.TempDir()
	_, err := server.LoadPKI(dir)
	if err == nil || !strings.Contains(err.Error(), "has no cluster CA") {
		t.Fatalf("LoadPKI(empty dir) = %v, want an error saying there is no CA", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tls", "ca.crt")); err == nil {
		t.Fatal("LoadPKI created a CA")
	}
}

func TestNodeCredentialsNeedAValidNodeName(t *testing.T) {
	s := servertest.Start(t)
	if err := s.WriteNodeCredentials(t.TempDir(), "Bad_Name", nil); err == nil || !strings.Contains(err.Error(), "Bad_Name") {
		t.Fatalf("credentials for node Bad_Name: %v, want an error naming it", err)
	}
}
