package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// testServer is a real berth API server with its own embedded etcd on free
// ports, stopped when the test ends.
type testServer struct {
	*Server
	dir    string
	config *rest.Config
	client kubernetes.Interface
}

func startTestServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Start(ctx, opts)
	if err != nil {
		cancel()
		t.Fatalf("starting the server: %v", err)
	}
	t.Cleanup(func() { cancel(); s.Stop() })
	config, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	config.QPS, config.Burst = -1, 0
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{Server: s, dir: opts.DataDir, config: config, client: client}
}

// freeOptions are options with every port chosen by the kernel.
func freeOptions() Options {
	return Options{Etcd: EtcdOptions{ClientPort: 0, PeerPort: 0}, SecurePort: 0, CompactInterval: time.Hour}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// makeNamespace creates a namespace with its default ServiceAccount.
func (ts *testServer) makeNamespace(t *testing.T, name string) {
	t.Helper()
	ctx := ctxT(t)
	if _, err := ts.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	if _, err := ts.client.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create default ServiceAccount in %s: %v", name, err)
	}
}
