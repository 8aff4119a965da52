package serviceaccount

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// start runs the API server and the controller as the controller manager.
func start(t *testing.T) (*servertest.Server, []byte) {
	t.Helper()
	s := servertest.Start(t)
	cfg := s.ConfigAs(server.ControllerManagerUser)
	client := kubernetes.NewForConfigOrDie(cfg)
	ca, err := RootCAFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	events := record.NewBroadcaster()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "serviceaccount-controller"})
	c, err := New(client, factory, recorder, Options{RootCA: ca, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(events.Shutdown)
	t.Cleanup(factory.Shutdown)
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)
	return s, ca
}

func TestDefaultServiceAccountInEveryNamespace(t *testing.T) {
	s, _ := start(t)
	ctx := context.Background()
	if _, err := s.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := waitForServiceAccount(t, s.Admin, "team", "")
	// A pod may now be created: admission finds the default ServiceAccount.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := s.Admin.CoreV1().Pods("team").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("pod in a namespace whose default ServiceAccount the controller made: %v", err)
	}
	if err := s.Admin.CoreV1().ServiceAccounts("team").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForServiceAccount(t, s.Admin, "team", first.UID)
}

func TestRootCAPublishedAndRestored(t *testing.T) {
	s, ca := start(t)
	ctx := context.Background()
	if _, err := s.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cms := s.Admin.CoreV1().ConfigMaps("team")
	cm := waitForCA(t, cms, string(ca), "")
	cm.Data[RootCAKey] = "tampered"
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm = waitForCA(t, cms, string(ca), "")
	if err := cms.Delete(ctx, RootCAConfigMap, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForCA(t, cms, string(ca), cm.UID)
	// Namespaces that existed before the controller (kube-system) get it too.
	waitForCA(t, s.Admin.CoreV1().ConfigMaps("kube-system"), string(ca), "")
}

// waitForServiceAccount waits for namespace's default ServiceAccount with
// a UID other than not.
func waitForServiceAccount(t *testing.T, client kubernetes.Interface, namespace string, not types.UID) *corev1.ServiceAccount {
	t.Helper()
	var sa *corev1.ServiceAccount
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := client.CoreV1().ServiceAccounts(namespace).Get(ctx, DefaultName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		sa = got
		return err == nil && got.UID != not, err
	})
	if err != nil {
		t.Fatalf("no new default ServiceAccount in %s: %v", namespace, err)
	}
	return sa
}

// waitForCA waits for the root CA ConfigMap to hold exactly ca, with a UID
// other than not.
func waitForCA(t *testing.T, cms typedcorev1.ConfigMapInterface, ca string, not types.UID) *corev1.ConfigMap {
	t.Helper()
	var cm *corev1.ConfigMap
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := cms.Get(ctx, RootCAConfigMap, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		cm = got
		return err == nil && got.UID != not && len(got.Data) == 1 && got.Data[RootCAKey] == ca, err
	})
	if err != nil {
		t.Fatalf("%s never held the cluster CA (last seen %v): %v", RootCAConfigMap, cm, err)
	}
	return cm
}
