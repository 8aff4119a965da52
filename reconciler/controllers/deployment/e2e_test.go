package deployment_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/polymorphichelpers"
	"k8s.io/kubectl/pkg/util/podutils"

	"github.com/berth-io/berth/reconciler/controllers/deployment"
	"github.com/berth-io/berth/reconciler/controllers/fakekubelet"
	"github.com/berth-io/berth/reconciler/controllers/replicaset"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

const ns = "apps"

var deploymentKind = schema.GroupKind{Group: "apps", Kind: "Deployment"}

// cluster is a real API server with the Deployment and ReplicaSet
// controllers running as the controller manager and a fake kubelet.
type cluster struct {
	*servertest.Server
	t      *testing.T
	client kubernetes.Interface // admin
}

// start runs the cluster; hold, if given, keeps matching pods from ever
// running.
func start(t *testing.T, hold func(*corev1.Pod) bool) *cluster {
	t.Helper()
	s := servertest.Start(t)
	s.Namespace(ns)
	fakekubelet.Start(t, s.Admin, fakekubelet.Options{Hold: hold})
	client := s.ClientAs(server.ControllerManagerUser)
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	rsc, err := replicaset.New(client, factory, broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "replicaset-controller"}), replicaset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dc, err := deployment.New(client, factory, broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "deployment-controller"}), deployment.Options{})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	wg.Go(func() { rsc.Run(ctx, 2) })
	wg.Go(func() { dc.Run(ctx, 2) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		factory.Shutdown()
		broadcaster.Shutdown()
	})
	return &cluster{Server: s, t: t, client: s.Admin}
}

func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	lbls := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
		},
	}
}

func rolling(d *appsv1.Deployment, surge, unavailable intstr.IntOrString) *appsv1.Deployment {
	d.Spec.Strategy = appsv1.DeploymentStrategy{
		Type:          appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable},
	}
	return d
}

func (c *cluster) create(d *appsv1.Deployment) *appsv1.Deployment {
	c.t.Helper()
	out, err := c.client.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

func (c *cluster) get(name string) *appsv1.Deployment {
	c.t.Helper()
	d, err := c.client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

func (c *cluster) patch(name, patch string) {
	c.t.Helper()
	if _, err := c.client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		c.t.Fatalf("patching %s with %s: %v", name, patch, err)
	}
}

func (c *cluster) setImage(name, image string) {
	c.t.Helper()
	c.patch(name, fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":%q}]}}}}`, image))
}

// replicaSets lists the ReplicaSets name controls, by their image.
func (c *cluster) replicaSets(name string) map[string]*appsv1.ReplicaSet {
	c.t.Helper()
	d := c.get(name)
	list, err := c.client.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		rs := &list.Items[i]
		if metav1.IsControlledBy(rs, d) {
			out[rs.Spec.Template.Spec.Containers[0].Image] = rs
		}
	}
	return out
}

// rolloutStatus is what `kubectl rollout status` says about name.
func (c *cluster) rolloutStatus(name string) (string, bool, error) {
	c.t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c.get(name))
	if err != nil {
		c.t.Fatal(err)
	}
	viewer, err := polymorphichelpers.StatusViewerFor(deploymentKind)
	if err != nil {
		c.t.Fatal(err)
	}
	return viewer.Status(&unstructured.Unstructured{Object: u}, 0)
}

// waitRolledOut waits until kubectl would call name's rollout done, with
// want pods of image running.
func (c *cluster) waitRolledOut(name string, want int, image string) *appsv1.Deployment {
	c.t.Helper()
	eventually(c.t, name+" to roll out", func() (bool, string) {
		msg, done, err := c.rolloutStatus(name)
		if err != nil || !done {
			return false, fmt.Sprint(msg, err)
		}
		pods := c.pods(name)
		for _, p := range pods {
			if p.Spec.Containers[0].Image != image || !podutils.IsPodReady(&p) {
				return false, fmt.Sprintf("pod %s runs %s, ready %v", p.Name, p.Spec.Containers[0].Image, podutils.IsPodReady(&p))
			}
		}
		return len(pods) == want, fmt.Sprintf("%d pods", len(pods))
	})
	return c.get(name)
}

// pods are the live (not deleting) pods of Deployment name.
func (c *cluster) pods(name string) []corev1.Pod {
	c.t.Helper()
	list, err := c.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func (c *cluster) events(name string) []corev1.Event {
	c.t.Helper()
	list, err := c.client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
	if err != nil {
		c.t.Fatal(err)
	}
	return list.Items
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// eventually polls cond until it holds or 60 s pass.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
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

// podWatch follows the pods of a Deployment and keeps the extremes of how
// many are live and how many available (ready and not deleting).
type podWatch struct {
	mu                    sync.Mutex
	live, avail           map[string]bool
	maxLive, minAvailable int
	createdWhileOldLive   []string
	oldImage              string
}

func (c *cluster) watchPods(name, oldImage string) *podWatch {
	c.t.Helper()
	list, err := c.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		c.t.Fatal(err)
	}
	w, err := c.client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name, ResourceVersion: list.ResourceVersion})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(w.Stop)
	pw := &podWatch{live: map[string]bool{}, avail: map[string]bool{}, oldImage: oldImage}
	for i := range list.Items {
		pw.observe(watch.Added, &list.Items[i])
	}
	pw.minAvailable = len(pw.avail)
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok {
				pw.observe(ev.Type, p)
			}
		}
	}()
	return pw
}

func (pw *podWatch) observe(t watch.EventType, p *corev1.Pod) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	gone := t == watch.Deleted || p.DeletionTimestamp != nil
	if t == watch.Added && !gone && p.Spec.Containers[0].Image != pw.oldImage {
		for other := range pw.live {
			if strings.HasPrefix(other, "old:") {
				pw.createdWhileOldLive = append(pw.createdWhileOldLive, p.Name)
				break
			}
		}
	}
	key := "new:" + p.Name
	if p.Spec.Containers[0].Image == pw.oldImage {
		key = "old:" + p.Name
	}
	delete(pw.live, key)
	delete(pw.avail, key)
	if !gone {
		pw.live[key] = true
		if podutils.IsPodReady(p) {
			pw.avail[key] = true
		}
	}
	pw.maxLive = max(pw.maxLive, len(pw.live))
	pw.minAvailable = min(pw.minAvailable, len(pw.avail))
}

func (pw *podWatch) extremes() (maxLive, minAvailable int, createdWhileOldLive []string) {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.maxLive, pw.minAvailable, pw.createdWhileOldLive
}

func TestDeploymentCreatesReplicaSetAndPods(t *testing.T) {
	c := start(t, nil)
	c.create(rolling(newDeployment("web", 3, "nginx:1"), intstr.FromInt(1), intstr.FromInt(0)))
	d := c.waitRolledOut("web", 3, "nginx:1")

	sets := c.replicaSets("web")
	rs := sets["nginx:1"]
	if len(sets) != 1 || rs == nil {
		t.Fatalf("ReplicaSets: %v", sets)
	}
	hash := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if hash == "" || rs.Name != "web-"+hash || rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
		t.Fatalf("ReplicaSet %s: labels %v selector %v", rs.Name, rs.Labels, rs.Spec.Selector)
	}
	for _, p := range c.pods("web") {
		if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || !metav1.IsControlledBy(&p, rs) {
			t.Errorf("pod %s: labels %v owners %v", p.Name, p.Labels, p.OwnerReferences)
		}
	}
	if rs.Annotations[deployment.RevisionAnnotation] != "1" || d.Annotations[deployment.RevisionAnnotation] != "1" {
		t.Errorf("revisions: ReplicaSet %q, Deployment %q", rs.Annotations[deployment.RevisionAnnotation], d.Annotations[deployment.RevisionAnnotation])
	}
	st := d.Status
	if st.Replicas != 3 || st.UpdatedReplicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.UnavailableReplicas != 0 || st.ObservedGeneration != d.Generation {
		t.Errorf("status %+v", st)
	}
	if a := condition(d, appsv1.DeploymentAvailable); a == nil || a.Status != corev1.ConditionTrue || a.Reason != deployment.ReasonMinimumReplicasAvailable {
		t.Errorf("Available = %+v", a)
	}
	if p := condition(d, appsv1.DeploymentProgressing); p == nil || p.Status != corev1.ConditionTrue || p.Reason != deployment.ReasonNewReplicaSetAvailable {
		t.Errorf("Progressing = %+v", p)
	}
	eventually(t, "the ScalingReplicaSet event", func() (bool, string) {
		var msgs []string
		for _, e := range c.events("web") {
			msgs = append(msgs, e.Message)
			if e.Reason == "ScalingReplicaSet" && e.Message == fmt.Sprintf("Scaled up replica set %s from 0 to 3", rs.Name) {
				return true, ""
			}
		}
		return false, fmt.Sprint(msgs)
	})

	t.Run("scales through the scale subresource", func(t *testing.T) {
		for _, n := range []int32{5, 1} {
			scale, err := c.client.AppsV1().Deployments(ns).GetScale(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			scale.Spec.Replicas = n
			if _, err := c.client.AppsV1().Deployments(ns).UpdateScale(context.Background(), "web", scale, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			c.waitRolledOut("web", int(n), "nginx:1")
			if sets := c.replicaSets("web"); len(sets) != 1 || *sets["nginx:1"].Spec.Replicas != n {
				t.Fatalf("after scaling to %d: %v", n, sets)
			}
		}
	})
}

func TestRollingUpdateStaysWithinSurgeAndUnavailability(t *testing.T) {
	c := start(t, nil)
	const replicas, surge, unavailable = 6, 2, 1
	c.create(rolling(newDeployment("web", replicas, "nginx:1"), intstr.FromInt(surge), intstr.FromInt(unavailable)))
	c.waitRolledOut("web", replicas, "nginx:1")

	pw := c.watchPods("web", "nginx:1")
	c.setImage("web", "nginx:2")
	d := c.waitRolledOut("web", replicas, "nginx:2")

	maxLive, minAvailable, _ := pw.extremes()
	if maxLive > replicas+surge {
		t.Errorf("%d pods ran at once, more than replicas+maxSurge = %d", maxLive, replicas+surge)
	}
	if minAvailable < replicas-unavailable {
		t.Errorf("only %d pods were available at one point, fewer than replicas-maxUnavailable = %d", minAvailable, replicas-unavailable)
	}
	if maxLive <= replicas {
		t.Errorf("the rollout never surged (at most %d pods): the watch saw nothing", maxLive)
	}
	sets := c.replicaSets("web")
	oldRS, newRS := sets["nginx:1"], sets["nginx:2"]
	if *oldRS.Spec.Replicas != 0 || *newRS.Spec.Replicas != replicas {
		t.Fatalf("old ReplicaSet %d replicas, new %d", *oldRS.Spec.Replicas, *newRS.Spec.Replicas)
	}
	if oldRS.Annotations[deployment.RevisionAnnotation] != "1" || newRS.Annotations[deployment.RevisionAnnotation] != "2" || d.Annotations[deployment.RevisionAnnotation] != "2" {
		t.Fatalf("revisions: old %s new %s deployment %s", oldRS.Annotations[deployment.RevisionAnnotation], newRS.Annotations[deployment.RevisionAnnotation], d.Annotations[deployment.RevisionAnnotation])
	}
	var scaled []string
	for _, e := range c.events("web") {
		if e.Reason == "ScalingReplicaSet" {
			scaled = append(scaled, e.Message)
		}
	}
	joined := strings.Join(scaled, "\n")
	if !strings.Contains(joined, "Scaled up replica set "+newRS.Name+" from 0 to 2") || !strings.Contains(joined, "Scaled down replica set "+oldRS.Name) {
		t.Fatalf("ScalingReplicaSet events:\n%s", joined)
	}
}

func TestRecreateStopsOldPodsFirst(t *testing.T) {
	c := start(t, nil)
	d := newDeployment("web", 3, "nginx:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	c.create(d)
	c.waitRolledOut("web", 3, "nginx:1")

	pw := c.watchPods("web", "nginx:1")
	c.setImage("web", "nginx:2")
	c.waitRolledOut("web", 3, "nginx:2")
	if _, _, early := pw.extremes(); len(early) > 0 {
		t.Fatalf("new pods %v were created while old ones still ran", early)
	}
	if sets := c.replicaSets("web"); *sets["nginx:1"].Spec.Replicas != 0 || *sets["nginx:2"].Spec.Replicas != 3 {
		t.Fatalf("ReplicaSets: old %d, new %d", *sets["nginx:1"].Spec.Replicas, *sets["nginx:2"].Spec.Replicas)
	}
}

func TestRollbackToThePreviousRevision(t *testing.T) {
	c := start(t, nil)
	c.create(rolling(newDeployment("web", 2, "nginx:1"), intstr.FromString("25%"), intstr.FromString("25%")))
	c.waitRolledOut("web", 2, "nginx:1")
	c.setImage("web", "nginx:2")
	c.waitRolledOut("web", 2, "nginx:2")

	// What `kubectl rollout undo deployment/web` does.
	rollbacker, err := polymorphichelpers.RollbackerFor(deploymentKind, c.client)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := rollbacker.Rollback(c.get("web"), nil, 0, cmdutil.DryRunNone)
	if err != nil || msg != "rolled back" {
		t.Fatalf("rollback: %q, %v", msg, err)
	}
	d := c.waitRolledOut("web", 2, "nginx:1")
	sets := c.replicaSets("web")
	v1, v2 := sets["nginx:1"], sets["nginx:2"]
	if len(sets) != 2 {
		t.Fatalf("a rollback must reuse the old ReplicaSet, got %d ReplicaSets", len(sets))
	}
	if v1.Annotations[deployment.RevisionAnnotation] != "3" || v1.Annotations[deployment.RevisionHistoryAnnotation] != "1" || d.Annotations[deployment.RevisionAnnotation] != "3" {
		t.Fatalf("after the rollback: v1 revision %q history %q, deployment revision %q", v1.Annotations[deployment.RevisionAnnotation], v1.Annotations[deployment.RevisionHistoryAnnotation], d.Annotations[deployment.RevisionAnnotation])
	}
	if *v2.Spec.Replicas != 0 || *v1.Spec.Replicas != 2 {
		t.Fatalf("replicas: v1 %d, v2 %d", *v1.Spec.Replicas, *v2.Spec.Replicas)
	}

	// kubectl rollout history lists revisions 2 and 3.
	viewer, err := polymorphichelpers.HistoryViewerFor(deploymentKind, c.client)
	if err != nil {
		t.Fatal(err)
	}
	history, err := viewer.GetHistory(ns, "web")
	if err != nil || len(history) != 2 || history[2] == nil || history[3] == nil {
		t.Fatalf("rollout history: %v, %v", history, err)
	}
}

func TestPauseStopsTheRolloutAndResumeContinues(t *testing.T) {
	c := start(t, nil)
	c.create(rolling(newDeployment("web", 2, "nginx:1"), intstr.FromInt(1), intstr.FromInt(0)))
	c.waitRolledOut("web", 2, "nginx:1")

	c.patch("web", `{"spec":{"paused":true}}`) // kubectl rollout pause
	c.setImage("web", "nginx:2")
	eventually(t, "the paused Deployment to observe its new generation", func() (bool, string) {
		d := c.get("web")
		p := condition(d, appsv1.DeploymentProgressing)
		return d.Status.ObservedGeneration == d.Generation && p != nil && p.Reason == deployment.ReasonDeploymentPaused && p.Status == corev1.ConditionUnknown,
			fmt.Sprintf("generation %d observed %d, Progressing %+v", d.Generation, d.Status.ObservedGeneration, p)
	})
	// Scaling a paused Deployment still works.
	c.patch("web", `{"spec":{"replicas":3}}`)
	eventually(t, "the paused Deployment to scale", func() (bool, string) {
		pods := c.pods("web")
		return len(pods) == 3, fmt.Sprint(len(pods), " pods")
	})
	time.Sleep(time.Second)
	if sets := c.replicaSets("web"); len(sets) != 1 || sets["nginx:1"] == nil {
		t.Fatalf("a paused Deployment started a rollout: %v", sets)
	}
	if msg, done, _ := c.rolloutStatus("web"); done {
		t.Fatalf("rollout status says done while paused mid-change: %s", msg)
	}

	c.patch("web", `{"spec":{"paused":false}}`) // kubectl rollout resume
	d := c.waitRolledOut("web", 3, "nginx:2")
	if p := condition(d, appsv1.DeploymentProgressing); p.Reason != deployment.ReasonNewReplicaSetAvailable {
		t.Fatalf("Progressing after resume: %+v", p)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	c := start(t, func(p *corev1.Pod) bool { return p.Spec.Containers[0].Image == "broken:1" })
	d := rolling(newDeployment("web", 2, "nginx:1"), intstr.FromInt(1), intstr.FromInt(0))
	d.Spec.ProgressDeadlineSeconds = new(int32(2))
	c.create(d)
	c.waitRolledOut("web", 2, "nginx:1")

	c.setImage("web", "broken:1")
	eventually(t, "ProgressDeadlineExceeded", func() (bool, string) {
		p := condition(c.get("web"), appsv1.DeploymentProgressing)
		return p != nil && p.Status == corev1.ConditionFalse && p.Reason == deployment.ReasonProgressDeadlineExceeded, fmt.Sprintf("%+v", p)
	})
	if _, _, err := c.rolloutStatus("web"); err == nil || !strings.Contains(err.Error(), "exceeded its progress deadline") {
		t.Fatalf("kubectl rollout status: %v", err)
	}
	// The old pods keep serving: maxUnavailable is 0.
	if pods := c.pods("web"); len(pods) != 3 {
		t.Fatalf("%d pods, want 2 old and 1 surge", len(pods))
	}
}

func TestRevisionHistoryLimit(t *testing.T) {
	c := start(t, nil)
	d := rolling(newDeployment("web", 1, "nginx:1"), intstr.FromInt(1), intstr.FromInt(0))
	d.Spec.RevisionHistoryLimit = new(int32(1))
	c.create(d)
	c.waitRolledOut("web", 1, "nginx:1")
	for _, image := range []string{"nginx:2", "nginx:3", "nginx:4"} {
		c.setImage("web", image)
		c.waitRolledOut("web", 1, image)
	}
	eventually(t, "old ReplicaSets beyond the limit to go", func() (bool, string) {
		sets := c.replicaSets("web")
		return len(sets) == 2 && sets["nginx:3"] != nil && sets["nginx:4"] != nil, fmt.Sprint(len(sets), " ReplicaSets")
	})
}

func TestDeploymentAdoptsAndReleasesReplicaSets(t *testing.T) {
	c := start(t, nil)
	ctx := context.Background()
	// An orphan ReplicaSet that the Deployment's selector matches, with
	// another template: adopted as an old ReplicaSet and scaled down.
	orphan := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "stray", Namespace: ns, Labels: map[string]string{"app": "web", "pod-template-hash": "stray"}},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: new(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "pod-template-hash": "stray"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "pod-template-hash": "stray"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:0"}}},
			},
		},
	}
	if _, err := c.client.AppsV1().ReplicaSets(ns).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.create(rolling(newDeployment("web", 2, "nginx:1"), intstr.FromInt(1), intstr.FromInt(0)))
	c.waitRolledOut("web", 2, "nginx:1")
	stray := c.replicaSets("web")["nginx:0"]
	if stray == nil || *stray.Spec.Replicas != 0 {
		t.Fatalf("the orphan was not adopted and scaled down: %+v", stray)
	}

	if _, err := c.client.AppsV1().ReplicaSets(ns).Patch(ctx, "stray", types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"other"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the relabelled ReplicaSet to be released", func() (bool, string) {
		rs, err := c.client.AppsV1().ReplicaSets(ns).Get(ctx, "stray", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return metav1.GetControllerOf(rs) == nil, fmt.Sprint(rs.OwnerReferences)
	})
}
