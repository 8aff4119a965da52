package namespace

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/record"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// start runs the API server and the controller as the controller manager.
func start(t *testing.T) *servertest.Server {
	t.Helper()
	s := servertest.Start(t)
	cfg := s.ConfigAs(server.ControllerManagerUser)
	client := s.ClientAs(server.ControllerManagerUser)
	factory := informers.NewSharedInformerFactory(client, 0)
	events := record.NewBroadcaster()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "namespace-controller"})
	c, err := New(client, metadata.NewForConfigOrDie(cfg), factory, recorder, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(events.Shutdown)
	t.Cleanup(factory.Shutdown)
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)
	return s
}

// fill puts configmaps, a service and pods in namespace.
func fill(t *testing.T, s *servertest.Server, namespace string) {
	t.Helper()
	ctx := context.Background()
	s.Namespace(namespace)
	for i := range 3 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm%d", i)}}
		if _, err := s.Admin.CoreV1().ConfigMaps(namespace).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod%d", i)}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := s.Admin.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := s.Admin.CoreV1().Services(namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// berth's own kinds are stored as JSON and have no protobuf form, which
	// the metadata client asks for first.
	gs := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "berth.io/v1alpha1", "kind": "GitSource",
		"metadata": map[string]any{"name": "site"}, "spec": map[string]any{"url": "/srv/site"}}}
	if _, err := gitSources(s).Namespace(namespace).Create(ctx, gs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func gitSources(s *servertest.Server) dynamic.NamespaceableResourceInterface {
	return dynamic.NewForConfigOrDie(s.AdminConfig).Resource(berthv1alpha1.GitSourcesResource)
}

// waitGone waits until namespace no longer exists, or the one with UID uid
// was replaced.
func waitGone(t *testing.T, s *servertest.Server, namespace string, uid types.UID) {
	t.Helper()
	var last *corev1.Namespace
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		ns, err := s.Admin.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		last = ns
		return err == nil && ns.UID != uid, err
	})
	if err != nil {
		t.Fatalf("namespace %s never went away: %v; last seen %+v", namespace, err, last)
	}
}

func TestNamespaceDeletionRemovesItsContent(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	fill(t, s, "doomed")
	fill(t, s, "kept")
	ns, err := s.Admin.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Admin.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s, "doomed", ns.UID)

	// A namespace of the same name starts empty: nothing was left behind.
	s.Namespace("doomed")
	for what, count := range map[string]func(string) int{
		"configmaps": func(ns string) int {
			l, err := s.Admin.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return len(l.Items)
		},
		"pods": func(ns string) int {
			l, err := s.Admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return len(l.Items)
		},
		"services": func(ns string) int {
			l, err := s.Admin.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return len(l.Items)
		},
		"gitsources": func(ns string) int {
			l, err := gitSources(s).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return len(l.Items)
		},
	} {
		if n := count("doomed"); n != 0 {
			t.Errorf("%d %s survived the deletion of their namespace", n, what)
		}
		if n := count("kept"); n == 0 {
			t.Errorf("the %s of another namespace were deleted", what)
		}
	}
}

func TestNamespaceWaitsForFinalizersOfItsContent(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	s.Namespace("held")
	cms := s.Admin.CoreV1().ConfigMaps("held")
	held := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}
	if _, err := cms.Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := s.Admin.CoreV1().Namespaces().Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Admin.CoreV1().Namespaces().Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var last *corev1.Namespace
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		ns, err := s.Admin.CoreV1().Namespaces().Get(ctx, "held", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = ns
		return condition(ns, corev1.NamespaceContentRemaining) == "Some resources are remaining: configmaps has 1 resource instances" &&
			condition(ns, corev1.NamespaceFinalizersRemaining) == "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances", nil
	})
	if err != nil {
		t.Fatalf("the namespace must stay Terminating and say what holds it: %v; last seen %+v", err, last)
	}
	if last.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("phase %q, want Terminating", last.Status.Phase)
	}
	cm, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Finalizers = nil
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, s, "held", ns.UID)
}

// condition is the message of ns's condition of type ct when it is True.
func condition(ns *corev1.Namespace, ct corev1.NamespaceConditionType) string {
	for _, c := range ns.Status.Conditions {
		if c.Type == ct && c.Status == corev1.ConditionTrue {
			return c.Message
		}
	}
	return ""
}
