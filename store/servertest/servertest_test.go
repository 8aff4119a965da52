package servertest

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/store/server"
)

func TestComponentIdentitiesAreBoundByRBAC(t *testing.T) {
	s := Start(t)
	s.Namespace("default")
	ctx := context.Background()
	scheduler := s.ClientAs(server.SchedulerUser)
	if _, err := scheduler.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("the scheduler may list pods: %v", err)
	}
	if _, err := scheduler.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("the scheduler may not write secrets: got %v", err)
	}
}
