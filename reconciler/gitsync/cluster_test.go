package gitsync

import (
	"context"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/agents/hollow"
	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/controllers"
	"github.com/berth-io/berth/reconciler/controllers/builtin"
	"github.com/berth-io/berth/reconciler/gitsync/gittest"
	"github.com/berth-io/berth/reconciler/leader"
	"github.com/berth-io/berth/reconciler/scheduler"
	"github.com/berth-io/berth/store/server"
)

// startControlPlane runs the controller manager, the scheduler and hollow
// nodes against e's API server, so that Deployments roll out for real.
func startControlPlane(t testing.TB, e *env, nodes int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	quiet := e.ctl.log
	fast := leader.Options{LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond}
	m, err := controllers.New(e.ConfigAs(server.ControllerManagerUser), controllers.Options{LeaderElect: false, Leader: fast, Workers: 8, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := builtin.Register(m, builtin.DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	go func() { _ = m.Run(ctx) }()
	opts := scheduler.ComponentOptions{LeaderElect: false}
	opts.Log = quiet
	go func() { _ = scheduler.Serve(ctx, e.ConfigAs(server.SchedulerUser), opts) }()
	if _, err := hollow.Start(ctx, e.Admin, hollow.Options{Nodes: nodes, CPU: resource.MustParse("64"), Memory: resource.MustParse("256Gi"), Pods: 1100,
		LeaseRenewInterval: time.Second, StatusReportInterval: 5 * time.Second, Log: quiet}); err != nil {
		t.Fatal(err)
	}
}

const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
  namespace: web
spec:
  selector:
    matchLabels: {app: hello}
  template:
    metadata:
      labels: {app: hello}
    spec:
      containers:
      - name: hello
        image: %s
---
apiVersion: v1
kind: Service
metadata:
  name: hello
  namespace: web
spec:
  selector: {app: hello}
  ports:
  - port: 80
`

// TestDeploymentHealthAndAScalersReplicas applies a Deployment without
// replicas, follows its rollout to Healthy, scales it as a person or an
// autoscaler would, and checks the next commit leaves the replicas alone.
func TestDeploymentHealthAndAScalersReplicas(t *testing.T) {
	e := startEnv(t)
	startControlPlane(t, e, 2)
	repo := gittest.Init(t)
	c1 := repo.Write(map[string]string{"namespace.yaml": nsYAML, "hello.yaml": strings.Replace(deploymentYAML, "%s", "hello:v1", 1)}).Commit("hello v1")
	e.createSource("apps", berthv1alpha1.GitSourceSpec{URL: repo.Dir, ServiceAccountName: "deployer"})
	gs := e.waitSource("apps", 30*time.Second, "hello v1 rolled out", appliedAndReady(c1))
	if gs.Status.Health != berthv1alpha1.HealthHealthy {
		t.Fatalf("status: %s", describe(gs))
	}
	for _, inv := range gs.Status.Inventory {
		if inv.Kind == "Service" && inv.Message != "1 ready endpoints" {
			t.Fatalf("the Service is healthy without its endpoint: %+v", inv)
		}
	}

	ctx := context.Background()
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "web"}, Spec: autoscalingv1.ScaleSpec{Replicas: 3}}
	if _, err := e.Admin.AppsV1().Deployments("web").UpdateScale(ctx, "hello", scale, metav1.UpdateOptions{FieldManager: "scaler"}); err != nil {
		t.Fatal(err)
	}
	job := `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: web
spec:
  template:
    metadata:
      annotations: {hollow.berth.io/run-for: 300ms}
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: migrate:v2
`
	c2 := repo.Write(map[string]string{"hello.yaml": strings.Replace(deploymentYAML, "%s", "hello:v2", 1), "job.yaml": job}).Commit("hello v2 and a migration")
	gs = e.waitSource("apps", 30*time.Second, "hello v2 rolled out and the migration complete", appliedAndReady(c2))
	for _, inv := range gs.Status.Inventory {
		if inv.Kind == "Job" && (inv.Health != berthv1alpha1.HealthHealthy || inv.Message != "complete") {
			t.Fatalf("the Job: %+v", inv)
		}
	}
	d, err := e.Admin.AppsV1().Deployments("web").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 3 || d.Spec.Template.Spec.Containers[0].Image != "hello:v2" || d.Status.AvailableReplicas != 3 {
		t.Fatalf("after the second commit: replicas %d, image %s, available %d; the scaler's replicas must stay",
			*d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image, d.Status.AvailableReplicas)
	}
}
