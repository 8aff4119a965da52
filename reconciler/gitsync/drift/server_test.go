package drift

import (
	"context"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/berth-io/berth/store/servertest"
)

// TestDetectOnTheAPIServer applies git's Deployment as berth-gitsync, then
// changes it the way kubectl scale and kubectl edit do, and checks that
// the managedFields berth's API server writes tell the drift and who.
func TestDetectOnTheAPIServer(t *testing.T) {
	ts := servertest.Start(t)
	ts.Namespace("apps")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deployments := dynamic.NewForConfigOrDie(ts.AdminConfig).Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("apps")
	desired := decode(t, gitDeployment)
	body, _ := desired.MarshalJSON()
	if _, err := deployments.Patch(ctx, "web", types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: FieldManager, Force: ptr.To(true)}); err != nil {
		t.Fatal(err)
	}
	d := NewDetector()
	check := func(want ...string) {
		t.Helper()
		l, err := deployments.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Detect(desired, l)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, e := range got {
			// kube-apiserver records the scale subresource in managedFields;
			// berth's server records the update on the Deployment itself.
			lines = append(lines, strings.Replace(e.String(), "(Update scale)", "(Update)", 1))
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Errorf("drift:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	}
	check()

	// kubectl scale deploy/web --replicas=5
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"}, Spec: autoscalingv1.ScaleSpec{Replicas: 5}}
	if _, err := ts.Admin.AppsV1().Deployments("apps").UpdateScale(ctx, "web", scale, metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Fatal(err)
	}
	check("Deployment apps/web: spec.replicas: 3 → 5 by kubectl-scale (Update)")

	// kubectl edit: a new image
	l, err := deployments.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(l.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = "nginx:1.26"
	_ = unstructured.SetNestedSlice(l.Object, containers, "spec", "template", "spec", "containers")
	if _, err := deployments.Update(ctx, l, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	check("Deployment apps/web: spec.replicas: 3 → 5 by kubectl-scale (Update)",
		`Deployment apps/web: spec.template.spec.containers[name="web"].image: nginx:1.25 → nginx:1.26 by kubectl-edit (Update)`)

	// selfHeal: berth applies git again, with force, and the drift is gone.
	if _, err := deployments.Patch(ctx, "web", types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: FieldManager, Force: ptr.To(true)}); err != nil {
		t.Fatal(err)
	}
	check()
}

// TestNoFalseDriftOnTheAPIServer: what generated manifests often hold
// (null timestamps, empty maps, empty status, quantities the server
// rewrites, defaults) is not drift once another manager touched the object.
func TestNoFalseDriftOnTheAPIServer(t *testing.T) {
	ts := servertest.Start(t)
	ts.Namespace("apps")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tt := range []struct{ resource, manifest string }{
		{"deployments", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: gen
  namespace: apps
  creationTimestamp: null
spec:
  replicas: 1
  selector: {matchLabels: {app: gen}}
  strategy: {}
  template:
    metadata:
      creationTimestamp: null
      labels: {app: gen}
    spec:
      containers:
      - name: gen
        image: nginx
        ports: [{containerPort: 80}]
        resources:
          limits: {cpu: "1", memory: 1Gi}
          requests: {cpu: "0.25", memory: "268435456"}
status: {}
`},
		{"services", `apiVersion: v1
kind: Service
metadata: {name: gen, namespace: apps}
spec:
  selector: {app: gen}
  ports:
  - port: 80
    targetPort: 8080
`},
		{"configmaps", `apiVersion: v1
kind: ConfigMap
metadata: {name: gen, namespace: apps, labels: {}}
data: {a: "1", b: "true"}
`},
	} {
		t.Run(tt.resource, func(t *testing.T) {
			gvr := schema.GroupVersionResource{Version: "v1", Resource: tt.resource}
			if tt.resource == "deployments" {
				gvr.Group = "apps"
			}
			r := dynamic.NewForConfigOrDie(ts.AdminConfig).Resource(gvr).Namespace("apps")
			desired := decode(t, tt.manifest)
			body, _ := desired.MarshalJSON()
			if _, err := r.Patch(ctx, "gen", types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: FieldManager, Force: ptr.To(true)}); err != nil {
				t.Fatal(err)
			}
			// Another manager touches the object, so Detect compares fully.
			if _, err := r.Patch(ctx, "gen", types.MergePatchType, []byte(`{"metadata":{"annotations":{"note":"x"}}}`), metav1.PatchOptions{FieldManager: "kubectl-annotate"}); err != nil {
				t.Fatal(err)
			}
			l, err := r.Get(ctx, "gen", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := NewDetector().Detect(desired, l)
			if err != nil || len(got) > 0 {
				t.Errorf("false drift: %v, %v", got, err)
			}
		})
	}
}
