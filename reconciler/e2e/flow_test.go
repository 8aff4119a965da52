// Package e2e runs the whole request flow in one test process: the API
// server, the controller manager, the scheduler and hollow nodes, each a
// separate client over HTTPS with its own identity, as in `berth server`.
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/berth-io/berth/agents/hollow"
	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/controllers/builtin"
	"github.com/berth-io/berth/reconciler/leader"
	"github.com/berth-io/berth/reconciler/scheduler"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

// cluster is a running control plane with hollow nodes.
type cluster struct {
	*servertest.Server
	fleet *hollow.Fleet
}

func startCluster(t *testing.T, nodes int) *cluster {
	t.Helper()
	s := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	fast := leader.Options{LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}

	m, err := controllers.New(s.ConfigAs(server.ControllerManagerUser), controllers.Options{LeaderElect: true, Leader: fast, Workers: 4, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	settings := builtin.DefaultSettings()
	settings.NodeGracePeriod = 3 * time.Second
	settings.JobBackoff, settings.JobMaxBackoff = 100*time.Millisecond, time.Second
	if err := builtin.Register(m, settings); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Run(ctx) }()

	opts := scheduler.ComponentOptions{LeaderElect: true, LeaderElection: fast}
	opts.Log = quiet
	go func() { _ = scheduler.Serve(ctx, s.ConfigAs(server.SchedulerUser), opts) }()

	fleet, err := hollow.Start(ctx, s.Admin, hollow.Options{Nodes: nodes, CPU: resource.MustParse("4"), Memory: resource.MustParse("8Gi"), Pods: 110,
		LeaseRenewInterval: 500 * time.Millisecond, StatusReportInterval: time.Second, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{Server: s, fleet: fleet}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, last)
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	l := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: l},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: l},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: "demo/hello:v1", Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}},
					Tolerations: []corev1.Toleration{
						{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](1)},
						{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](1)},
					},
				},
			},
		},
	}
}

func runningPods(ctx context.Context, c kubernetes.Interface, ns, app string) ([]corev1.Pod, error) {
	pods, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labels.Set{"app": app}.String()})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// TestRequestFlow: a Deployment becomes a ReplicaSet, pods, bindings to
// hollow nodes, Running pods and ready endpoints; a node that stops
// heart-beating is marked Unknown and its pods are replaced elsewhere.
func TestRequestFlow(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	admin := c.Admin
	waitFor(t, 20*time.Second, "the default ServiceAccount from the controller", func() (bool, error) {
		_, err := admin.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	if _, err := admin.AppsV1().Deployments("default").Create(ctx, deployment("web", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "3 available replicas", func() (bool, error) {
		d, err := admin.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 3 && d.Status.ObservedGeneration == d.Generation, err
	})
	waitFor(t, 20*time.Second, "3 ready endpoints", func() (bool, error) {
		slices, err := admin.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					ready++
				}
			}
		}
		return ready == 3, fmt.Errorf("%d ready endpoints", ready)
	})

	pods, err := runningPods(ctx, admin, "default", "web")
	if err != nil || len(pods) != 3 {
		t.Fatalf("running pods: %v %d", err, len(pods))
	}
	dead := pods[0].Spec.NodeName
	if err := c.fleet.Stop(dead); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the silent node to be marked unreachable", func() (bool, error) {
		n, err := admin.CoreV1().Nodes().Get(ctx, dead, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, taint := range n.Spec.Taints {
			if taint.Key == corev1.TaintNodeUnreachable {
				return true, nil
			}
		}
		return false, nil
	})
	waitFor(t, 60*time.Second, "3 running replicas again, none on the dead node", func() (bool, error) {
		pods, err := runningPods(ctx, admin, "default", "web")
		if err != nil {
			return false, err
		}
		for _, p := range pods {
			if p.Spec.NodeName == dead {
				return false, fmt.Errorf("pod %s still on %s", p.Name, dead)
			}
		}
		return len(pods) == 3, fmt.Errorf("%d running", len(pods))
	})
}

// TestJobsNamespacesAndGarbageCollection: a Job's pods run to completion on
// hollow nodes; deleting a Deployment removes its ReplicaSets and pods
// (background GC); deleting a namespace empties and removes it.
func TestJobsNamespacesAndGarbageCollection(t *testing.T) {
	c := startCluster(t, 2)
	ctx := context.Background()
	admin := c.Admin
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "work"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the default ServiceAccount in work", func() (bool, error) {
		_, err := admin.CoreV1().ServiceAccounts("work").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "batch"}, Spec: batchv1.JobSpec{
		Completions: ptr.To[int32](4), Parallelism: ptr.To[int32](2),
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"hollow.berth.io/run-for": "200ms"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "demo/batch:v1"}}}},
	}}
	if _, err := admin.BatchV1().Jobs("work").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the Job to complete", func() (bool, error) {
		j, err := admin.BatchV1().Jobs("work").Get(ctx, "batch", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return j.Status.Succeeded == 4, nil
			}
		}
		return false, fmt.Errorf("succeeded %d", j.Status.Succeeded)
	})

	if _, err := admin.AppsV1().Deployments("work").Create(ctx, deployment("gc", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "2 running gc pods", func() (bool, error) {
		pods, err := runningPods(ctx, admin, "work", "gc")
		return len(pods) == 2, err
	})
	if err := admin.AppsV1().Deployments("work").Delete(ctx, "gc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the garbage collector to remove the ReplicaSet and its pods", func() (bool, error) {
		rs, err := admin.AppsV1().ReplicaSets("work").List(ctx, metav1.ListOptions{LabelSelector: "app=gc"})
		if err != nil {
			return false, err
		}
		pods, err := admin.CoreV1().Pods("work").List(ctx, metav1.ListOptions{LabelSelector: "app=gc"})
		return err == nil && len(rs.Items) == 0 && len(pods.Items) == 0, err
	})

	if err := admin.CoreV1().Namespaces().Delete(ctx, "work", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the namespace to be emptied and removed", func() (bool, error) {
		_, err := admin.CoreV1().Namespaces().Get(ctx, "work", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}
