package replicaset_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/berth-io/berth/reconciler/controllers/fakekubelet"
	"github.com/berth-io/berth/reconciler/controllers/replicaset"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

const ns = "apps"

// startController runs a ReplicaSet controller as the controller manager
// until the returned stop is called (or the test ends).
func startController(t *testing.T, s *servertest.Server, opts ...replicaset.Options) (stop func()) {
	t.Helper()
	client := s.ClientAs(server.ControllerManagerUser)
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "replicaset-controller"})
	c, err := replicaset.New(client, factory, recorder, append(opts, replicaset.Options{})[0])
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			factory.Shutdown()
			broadcaster.Shutdown()
		})
	}
	t.Cleanup(stop)
	return stop
}

func newReplicaSet(name string, replicas int32) *appsv1.ReplicaSet {
	lbls := map[string]string{"app": name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
}

// activePods are the pods rs controls that are not being deleted.
func activePods(t *testing.T, c kubernetes.Interface, uid types.UID) []corev1.Pod {
	t.Helper()
	list, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == uid && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// eventually polls cond until it holds or 30 s pass.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last state: %s", what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady waits until rs has want ready, available pods and says so in
// its status for its current generation.
func waitReady(t *testing.T, c kubernetes.Interface, name string, want int) *appsv1.ReplicaSet {
	t.Helper()
	var rs *appsv1.ReplicaSet
	eventually(t, fmt.Sprintf("%s to have %d available pods", name, want), func() (bool, string) {
		var err error
		rs, err = c.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pods := activePods(t, c, rs.UID)
		ready := 0
		for i := range pods {
			if podutils.IsPodReady(&pods[i]) {
				ready++
			}
		}
		st := rs.Status
		return len(pods) == want && ready == want && st.Replicas == int32(want) && st.ReadyReplicas == int32(want) &&
				st.AvailableReplicas == int32(want) && st.FullyLabeledReplicas == int32(want) && st.ObservedGeneration == rs.Generation,
			fmt.Sprintf("%d pods (%d ready), status %+v, generation %d", len(pods), ready, st, rs.Generation)
	})
	return rs
}

func scale(t *testing.T, c kubernetes.Interface, name string, n int32) {
	t.Helper()
	s, err := c.AppsV1().ReplicaSets(ns).GetScale(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Replicas = n
	if _, err := c.AppsV1().ReplicaSets(ns).UpdateScale(context.Background(), name, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestReplicaSetKeepsReplicas(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace(ns)
	fakekubelet.Start(t, s.Admin, fakekubelet.Options{})
	startController(t, s)
	ctx := context.Background()

	rs, err := s.Admin.AppsV1().ReplicaSets(ns).Create(ctx, newReplicaSet("web", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Admin, "web", 3)
	pods := activePods(t, s.Admin, rs.UID)
	for _, p := range pods {
		if p.GenerateName != "web-" || p.Labels["app"] != "web" {
			t.Errorf("pod %s: generateName %q labels %v", p.Name, p.GenerateName, p.Labels)
		}
	}

	t.Run("replaces a deleted pod", func(t *testing.T) {
		if err := s.Admin.CoreV1().Pods(ns).Delete(ctx, pods[0].Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitReady(t, s.Admin, "web", 3)
		for _, p := range activePods(t, s.Admin, rs.UID) {
			if p.Name == pods[0].Name {
				t.Fatalf("deleted pod %s still counted", p.Name)
			}
		}
	})
	t.Run("scales up and down through the scale subresource", func(t *testing.T) {
		scale(t, s.Admin, "web", 7)
		waitReady(t, s.Admin, "web", 7)
		scale(t, s.Admin, "web", 2)
		waitReady(t, s.Admin, "web", 2)
	})
	t.Run("records events", func(t *testing.T) {
		eventually(t, "SuccessfulCreate and SuccessfulDelete events", func() (bool, string) {
			evs, err := s.Admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "web").String()})
			if err != nil {
				return false, err.Error()
			}
			reasons := map[string]bool{}
			for _, e := range evs.Items {
				reasons[e.Reason] = true
			}
			return reasons["SuccessfulCreate"] && reasons["SuccessfulDelete"], fmt.Sprint(reasons)
		})
	})
}

func TestReplicaSetAdoptsOrphansAndDeletesTheLeastUsefulFirst(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace(ns)
	held := func(p *corev1.Pod) bool { return p.Labels["hold"] == "yes" }
	fakekubelet.Start(t, s.Admin, fakekubelet.Options{Hold: held})
	startController(t, s)
	ctx := context.Background()

	rs, err := s.Admin.AppsV1().ReplicaSets(ns).Create(ctx, newReplicaSet("web", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Admin, "web", 3)

	// An orphan that matches the selector but never becomes ready: the
	// ReplicaSet adopts it, finds itself one over, and deletes that pod
	// rather than a running one.
	orphan := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns, Labels: map[string]string{"app": "web", "hold": "yes"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}
	before := activePods(t, s.Admin, rs.UID)
	w, err := s.Admin.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=orphan"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := s.Admin.CoreV1().Pods(ns).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	adopted, deleted := false, false
	timeout := time.After(30 * time.Second)
	for !deleted {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if ref := metav1.GetControllerOf(p); ref != nil && ref.UID == rs.UID {
				adopted = true
			}
			deleted = ev.Type == watch.Deleted
		case <-timeout:
			t.Fatalf("the orphan was not adopted and deleted (adopted: %v)", adopted)
		}
	}
	if !adopted {
		t.Fatal("the orphan was deleted without being adopted first")
	}
	after := waitReady(t, s.Admin, "web", 3)
	if got := activePods(t, s.Admin, after.UID); !samePods(got, before) {
		t.Fatalf("a running pod was deleted: before %v, after %v", podNames(before), podNames(got))
	}
}

func TestReplicaSetReleasesPodsThatStopMatching(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace(ns)
	fakekubelet.Start(t, s.Admin, fakekubelet.Options{})
	startController(t, s)
	ctx := context.Background()

	rs, err := s.Admin.AppsV1().ReplicaSets(ns).Create(ctx, newReplicaSet("web", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, s.Admin, "web", 2)
	victim := activePods(t, s.Admin, rs.UID)[0].Name
	patch := []byte(`{"metadata":{"labels":{"app":"debug"}}}`)
	if _, err := s.Admin.CoreV1().Pods(ns).Patch(ctx, victim, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the relabelled pod to be released", func() (bool, string) {
		p, err := s.Admin.CoreV1().Pods(ns).Get(ctx, victim, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return metav1.GetControllerOf(p) == nil, fmt.Sprint(p.OwnerReferences)
	})
	waitReady(t, s.Admin, "web", 2)
}

// TestNoDuplicatePodsAcrossRestart stops the controller in the middle of
// creating pods and starts a new one: the pod count never exceeds the
// replicas and ends exactly there.
func TestNoDuplicatePodsAcrossRestart(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace(ns)
	fakekubelet.Start(t, s.Admin, fakekubelet.Options{})
	ctx := context.Background()
	const want = 40

	counter := watchCount(t, s.Admin)
	// A small burst makes the first controller need several syncs, each
	// waiting on the expectations of the one before.
	stop := startController(t, s, replicaset.Options{BurstReplicas: 4})
	rs, err := s.Admin.AppsV1().ReplicaSets(ns).Create(ctx, newReplicaSet("web", want), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first controller to create some pods", func() (bool, string) {
		n := len(activePods(t, s.Admin, rs.UID))
		return n >= 6, fmt.Sprint(n, " pods")
	})
	stop()
	t.Logf("stopped the first controller at %d pods", len(activePods(t, s.Admin, rs.UID)))
	startController(t, s)
	waitReady(t, s.Admin, "web", want)
	time.Sleep(time.Second) // room for a duplicate to show up
	if n := len(activePods(t, s.Admin, rs.UID)); n != want {
		t.Fatalf("%d pods after the restart, want %d", n, want)
	}
	if peak := counter(); peak > want {
		t.Fatalf("a watch saw %d pods at once, want at most %d", peak, want)
	}
}

// watchCount watches pods in ns and returns a function giving the largest
// number of live (not deleting) pods seen at once.
func watchCount(t *testing.T, c kubernetes.Interface) func() int {
	t.Helper()
	w, err := c.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	var mu sync.Mutex
	live := map[string]bool{}
	peak := 0
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			mu.Lock()
			if ev.Type == watch.Deleted || p.DeletionTimestamp != nil {
				delete(live, p.Name)
			} else {
				live[p.Name] = true
			}
			peak = max(peak, len(live))
			mu.Unlock()
		}
	}()
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

func podNames(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func samePods(a, b []corev1.Pod) bool {
	seen := map[string]bool{}
	for _, p := range a {
		seen[p.Name] = true
	}
	for _, p := range b {
		if !seen[p.Name] {
			return false
		}
	}
	return len(a) == len(b)
}

// TestMinReadySeconds checks that ready pods count as available only once
// they have been ready for minReadySeconds, with nothing else happening in
// between to wake the controller.
func TestMinReadySeconds(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace(ns)
	fakekubelet.Start(t, s.Admin, fakekubelet.Options{})
	startController(t, s)
	ctx := context.Background()

	rs := newReplicaSet("web", 2)
	rs.Spec.MinReadySeconds = 2
	if _, err := s.Admin.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "two ready pods not yet available", func() (bool, string) {
		cur, err := s.Admin.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		if cur.Status.AvailableReplicas > 0 {
			t.Fatalf("pods available before minReadySeconds: %+v", cur.Status)
		}
		return cur.Status.ReadyReplicas == 2, fmt.Sprintf("%+v", cur.Status)
	})
	readyAt := time.Now()
	waitReady(t, s.Admin, "web", 2)
	if waited := time.Since(readyAt); waited > 5*time.Second {
		t.Fatalf("pods became available %v after they were ready, want about 2s", waited)
	}
}
