package endpointslice

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

const ns = "web"

// start runs the API server and the controller as the controller manager,
// with a node "n1" and a Service "web" selecting app=web on the named
// container port "http".
func start(t *testing.T) *servertest.Server {
	t.Helper()
	s := servertest.Start(t)
	client := s.ClientAs(server.ControllerManagerUser)
	factory := informers.NewSharedInformerFactory(client, 0)
	events := record.NewBroadcaster()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "endpointslice-controller"})
	c, err := New(client, factory, recorder, Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(events.Shutdown)
	t.Cleanup(factory.Shutdown)
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)

	s.Namespace(ns)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}}}
	if _, err := s.Admin.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := s.Admin.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return s
}

// mustRunPod is runPod that ends the test on failure.
func mustRunPod(t *testing.T, client kubernetes.Interface, name, ip string, ready bool) {
	t.Helper()
	if err := runPod(client, name, ip, ready); err != nil {
		t.Fatal(err)
	}
}

// runPod creates pod name on n1 and plays its kubelet: Running with an IP,
// Ready as asked.
func runPod(client kubernetes.Interface, name, ip string, ready bool) error {
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName: "n1",
			Containers: []corev1.Container{{
				Name: "web", Image: "nginx",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			}},
		},
	}
	created, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating pod %s: %w", name, err)
	}
	created.Status.Phase = corev1.PodRunning
	created.Status.PodIP = ip
	created.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, withReady(created, ready), metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("setting the status of pod %s: %w", name, err)
	}
	return nil
}

func withReady(pod *corev1.Pod, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	return pod
}

// endpoints are the Service's published endpoints by pod name.
func endpoints(t *testing.T, client kubernetes.Interface) ([]discoveryv1.EndpointSlice, map[string]discoveryv1.Endpoint) {
	t.Helper()
	list, err := client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil {
		t.Fatal(err)
	}
	byPod := map[string]discoveryv1.Endpoint{}
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			if e.TargetRef != nil {
				byPod[e.TargetRef.Name] = e
			}
		}
	}
	return list.Items, byPod
}

// waitFor polls until ok holds for the published endpoints.
func waitFor(t *testing.T, client kubernetes.Interface, what string, ok func([]discoveryv1.EndpointSlice, map[string]discoveryv1.Endpoint) bool) ([]discoveryv1.EndpointSlice, map[string]discoveryv1.Endpoint) {
	t.Helper()
	var slices []discoveryv1.EndpointSlice
	var byPod map[string]discoveryv1.Endpoint
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		slices, byPod = endpoints(t, client)
		return ok(slices, byPod), nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v; last seen %d slices, endpoints %v", what, err, len(slices), byPod)
	}
	return slices, byPod
}

func TestEndpointsFollowPodReadiness(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	mustRunPod(t, s.Admin, "a", "10.244.0.10", true)
	slices, byPod := waitFor(t, s.Admin, "pod a ready in a slice", func(_ []discoveryv1.EndpointSlice, e map[string]discoveryv1.Endpoint) bool {
		return ptr.Deref(e["a"].Conditions.Ready, false)
	})
	if len(slices) != 1 {
		t.Fatalf("one pod makes %d slices, want 1", len(slices))
	}
	slice := slices[0]
	if slice.Labels[discoveryv1.LabelManagedBy] != ControllerName || slice.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("slice labels %v, address type %s", slice.Labels, slice.AddressType)
	}
	if len(slice.Ports) != 1 || ptr.Deref(slice.Ports[0].Port, 0) != 8080 || ptr.Deref(slice.Ports[0].Name, "") != "http" {
		t.Errorf("the named target port must resolve to the container port 8080, got %+v", slice.Ports)
	}
	if ref := metav1.GetControllerOf(&slice); ref == nil || ref.Kind != "Service" || ref.Name != "web" {
		t.Errorf("the slice must be controlled by its Service, got %v", slice.OwnerReferences)
	}
	a := byPod["a"]
	if a.Addresses[0] != "10.244.0.10" || ptr.Deref(a.NodeName, "") != "n1" || ptr.Deref(a.Zone, "") != "zone-a" ||
		!ptr.Deref(a.Conditions.Serving, false) || ptr.Deref(a.Conditions.Terminating, true) {
		t.Errorf("endpoint of a: %+v", a)
	}

	pod, err := s.Admin.CoreV1().Pods(ns).Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CoreV1().Pods(ns).UpdateStatus(ctx, withReady(pod, false), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s.Admin, "pod a not ready", func(_ []discoveryv1.EndpointSlice, e map[string]discoveryv1.Endpoint) bool {
		c := e["a"].Conditions
		return c.Ready != nil && !*c.Ready && c.Serving != nil && !*c.Serving
	})

	// Graceful deletion: the pod is terminating and still listed.
	if err := s.Admin.CoreV1().Pods(ns).Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s.Admin, "pod a terminating", func(_ []discoveryv1.EndpointSlice, e map[string]discoveryv1.Endpoint) bool {
		return ptr.Deref(e["a"].Conditions.Terminating, false)
	})
	if err := s.Admin.CoreV1().Pods(ns).Delete(ctx, "a", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s.Admin, "pod a gone", func(_ []discoveryv1.EndpointSlice, e map[string]discoveryv1.Endpoint) bool {
		_, ok := e["a"]
		return !ok
	})
}

func TestManyPodsSpreadOverSlicesAndOnlyChangedSlicesAreWritten(t *testing.T) {
	s := start(t)
	ctx := context.Background()
	const pods = 250
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if err := runPod(s.Admin, fmt.Sprintf("p%03d", i), fmt.Sprintf("10.244.%d.%d", i/200, i%200+1), true); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for i := range pods {
		work <- i
	}
	close(work)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	slices, _ := waitFor(t, s.Admin, "250 ready endpoints", func(_ []discoveryv1.EndpointSlice, e map[string]discoveryv1.Endpoint) bool {
		ready := 0
		for _, ep := range e {
			if ptr.Deref(ep.Conditions.Ready, false) {
				ready++
			}
		}
		return ready == pods
	})
	var sizes []int
	for _, sl := range slices {
		sizes = append(sizes, len(sl.Endpoints))
	}
	sort.Ints(sizes)
	if len(sizes) != 3 || sizes[2] > DefaultMaxEndpointsPerSlice {
		t.Fatalf("250 endpoints must fill 3 slices of at most 100, got sizes %v", sizes)
	}

	// One pod turns unready: only the slice that lists it is rewritten.
	before := map[string]string{}
	var holder string
	for _, sl := range slices {
		before[sl.Name] = sl.ResourceVersion
		for _, e := range sl.Endpoints {
			if e.TargetRef.Name == "p123" {
				holder = sl.Name
			}
		}
	}
	pod, err := s.Admin.CoreV1().Pods(ns).Get(ctx, "p123", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Admin.CoreV1().Pods(ns).UpdateStatus(ctx, withReady(pod, false), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	slices, _ = waitFor(t, s.Admin, "p123 not ready", func(_ []discoveryv1.EndpointSlice, e map[string]discoveryv1.Endpoint) bool {
		r := e["p123"].Conditions.Ready
		return r != nil && !*r
	})
	for _, sl := range slices {
		changed := before[sl.Name] != sl.ResourceVersion
		if changed != (sl.Name == holder) {
			t.Errorf("slice %s rewritten: %v; only %s (which lists p123) should be", sl.Name, changed, holder)
		}
	}
}
