package validation

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// manifests is what a user keeps in a GitOps repository: no namespaces, no
// generated fields.
const manifests = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels: {app: shop}
spec:
  replicas: 2
  selector:
    matchLabels: {app: shop}
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
      - name: shop
        image: ghcr.io/example/shop:1.2.0
        ports:
        - {name: http, containerPort: 8080}
        env:
        - {name: DB_HOST, value: db}
        - name: DB_PASSWORD
          valueFrom:
            secretKeyRef: {name: db, key: password}
        readinessProbe:
          httpGet: {path: /ready, port: http}
        livenessProbe:
          httpGet: {path: /healthz, port: 8080}
          initialDelaySeconds: 10
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {memory: 128Mi}
        volumeMounts:
        - {name: config, mountPath: /etc/shop}
      volumes:
      - name: config
        configMap: {name: shop}
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector: {app: shop}
  ports:
  - {name: http, port: 80, targetPort: http}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop
data:
  shop.yaml: |
    currency: EUR
---
apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: hunter2
---
apiVersion: batch/v1
kind: Job
metadata:
  name: shop-migrate
spec:
  backoffLimit: 3
  template:
    spec:
      restartPolicy: OnFailure
      containers:
      - name: migrate
        image: ghcr.io/example/shop:1.2.0
        command: [/shop, migrate]
---
apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
  - name: shell
    image: busybox
    command: [sleep, infinity]
    startupProbe:
      exec: {command: ["true"]}
      failureThreshold: 30
  volumes:
  - name: scratch
    emptyDir: {}
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
`

func decode(t *testing.T, docs string) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	for _, doc := range strings.Split(docs, "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decoding %q: %v", doc, err)
		}
		objs = append(objs, obj)
	}
	return objs
}

func TestRepositoryManifestsAreValid(t *testing.T) {
	for _, obj := range decode(t, manifests) {
		defaulted(obj)
		if errs := (Validator{Manifest: true}).Validate(obj); len(errs) != 0 {
			t.Errorf("%T: %v", obj, errs)
		}
	}
}

func TestStoredObjectsAreValid(t *testing.T) {
	for _, obj := range []runtime.Object{validPod(), validDeployment(), validReplicaSet(), validJob(), validService(),
		validConfigMap(), validSecret(), validNamespace(), validNode(), validSlice(), validEventsV1()} {
		if errs := Validate(obj); len(errs) != 0 {
			t.Errorf("%T: %v", obj, errs)
		}
		if errs := ValidateUpdate(obj, obj.DeepCopyObject()); len(errs) != 0 {
			t.Errorf("%T unchanged update: %v", obj, errs)
		}
		if errs := ValidateStatusUpdate(obj, obj.DeepCopyObject()); len(errs) != 0 {
			t.Errorf("%T unchanged status update: %v", obj, errs)
		}
	}
}

func TestManifestNamespace(t *testing.T) {
	d := validDeployment()
	d.Namespace = ""
	expectError(t, Validate(d), "metadata.namespace", required, "")
	expectValid(t, Validator{Manifest: true}.Validate(d))
	d.Namespace = "Shop"
	expectError(t, Validator{Manifest: true}.Validate(d), "metadata.namespace", invalid, "")

	ns := validNamespace()
	ns.Namespace = "shop"
	expectError(t, Validator{Manifest: true}.Validate(ns), "metadata.namespace", forbidden, "")
}

func TestManifestUpdateNeedsNoResourceVersion(t *testing.T) {
	old := validDeployment()
	d := old.DeepCopy()
	d.ResourceVersion = ""
	expectError(t, ValidateUpdate(d, old), "metadata.resourceVersion", invalid, "must be specified for an update")
	expectValid(t, Validator{Manifest: true}.ValidateUpdate(d, old))
}

func TestScopeOverride(t *testing.T) {
	cm := validConfigMap()
	cm.Namespace = ""
	expectValid(t, Validator{Scope: ScopeCluster}.Validate(cm))
	ns := validNamespace()
	expectError(t, Validator{Scope: ScopeNamespaced}.Validate(ns), "metadata.namespace", required, "")
}

func TestUnknownKinds(t *testing.T) {
	for _, obj := range []runtime.Object{&corev1.PodList{}, &appsv1.StatefulSet{}, &metav1.Status{}, nil} {
		if errs := Validate(obj); errs != nil {
			t.Errorf("%T: want nil, got %v", obj, errs)
		}
		if errs := ValidateUpdate(obj, obj); errs != nil {
			t.Errorf("%T update: want nil, got %v", obj, errs)
		}
	}
}

func TestUpdateAgainstAnotherKind(t *testing.T) {
	expectError(t, ValidateUpdate(validPod(), validService()), "kind", invalid, "does not match the kind of the existing object")
	expectError(t, ValidateStatusUpdate(validDeployment(), validPod()), "kind", invalid, "")
}

func TestValidationDoesNotModifyItsInput(t *testing.T) {
	for _, obj := range []runtime.Object{validPod(), validDeployment(), validJob(), validService(), validSecret()} {
		before := obj.DeepCopyObject()
		Validate(obj)
		ValidateUpdate(obj, before)
		ValidateStatusUpdate(obj, before)
		Validator{Manifest: true}.Validate(obj)
		if !equalObjects(before, obj) {
			t.Errorf("%T was modified by validation", obj)
		}
	}
}
