package kubelet

import (
	"context"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// apiSource reads what env and volumes refer to straight from the API
// server (a node reads few of them, and only when a container starts).
type apiSource struct {
	client kubernetes.Interface
	ctx    context.Context
}

func (s apiSource) with(ctx context.Context) apiSource { s.ctx = ctx; return s }

func (s apiSource) ConfigMap(namespace, name string) (*corev1.ConfigMap, error) {
	return s.client.CoreV1().ConfigMaps(namespace).Get(s.ctx, name, metav1.GetOptions{})
}

func (s apiSource) Secret(namespace, name string) (*corev1.Secret, error) {
	return s.client.CoreV1().Secrets(namespace).Get(s.ctx, name, metav1.GetOptions{})
}

func (s apiSource) Token(ctx context.Context, namespace, sa string, spec authenticationv1.TokenRequestSpec) (string, error) {
	tr, err := s.client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}
