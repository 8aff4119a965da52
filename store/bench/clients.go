package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ClientConfig is a copy of config set up as the benchmark's clients are:
// protobuf as typed client-go clients send it, and no client-side rate
// limit, so the server is the only bottleneck.
func ClientConfig(config *rest.Config) *rest.Config {
	c := rest.CopyConfig(config)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	c.QPS, c.Burst = -1, 0
	c.RateLimiter = nil
	return c
}

// Clients are clientsets that each have their own connection, as
// separate programs would. Close them when done.
type Clients struct {
	Sets  []kubernetes.Interface
	https []*http.Client
}

// NewClients returns n clientsets for config, each with its own transport
// and therefore its own TCP connection. (client-go shares one transport
// between identical configs; a Proxy function makes a config uncacheable,
// and this one never proxies.)
func NewClients(config *rest.Config, n int) (*Clients, error) {
	cs := &Clients{}
	for i := range n {
		c := rest.CopyConfig(config)
		c.Proxy = noProxy
		httpClient, err := rest.HTTPClientFor(c)
		if err != nil {
			cs.Close()
			return nil, fmt.Errorf("building client %d: %w", i, err)
		}
		set, err := kubernetes.NewForConfigAndClient(c, httpClient)
		if err != nil {
			cs.Close()
			return nil, fmt.Errorf("building client %d: %w", i, err)
		}
		cs.Sets = append(cs.Sets, set)
		cs.https = append(cs.https, httpClient)
	}
	return cs, nil
}

// Close closes the clients' idle connections.
func (c *Clients) Close() {
	for _, h := range c.https {
		h.CloseIdleConnections()
	}
}

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

// EnsureNamespace creates namespace name and its default ServiceAccount
// (which ServiceAccount admission requires before pods), accepting either
// that already exists.
func EnsureNamespace(ctx context.Context, client kubernetes.Interface, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if _, err := client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ServiceAccount %s/default: %w", name, err)
	}
	return nil
}
