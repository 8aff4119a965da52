package manifest

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// names lists the objects of a set as "file:line:col Kind ns/name".
func names(s *Set) []string {
	var out []string
	for _, o := range s.Objects {
		out = append(out, o.Pos.String()+" "+o.String())
	}
	return out
}

func errorStrings(errs []Error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func mapFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, text := range files {
		m[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return m
}

func TestRenderReadsDocumentsListsAndDirectoriesInOrder(t *testing.T) {
	fsys := mapFS(map[string]string{
		"b/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: demo\n",
		"a/multi.yaml": `# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: one, namespace: demo}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: two, namespace: demo}
`,
		"c/obj.json":     `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}`,
		"c/README.md":    "not a manifest",
		".hidden/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hidden\n",
	})
	set, errs := Render(fsys, ".", Options{})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errorStrings(errs))
	}
	want := []string{
		"a/multi.yaml:2:1 Namespace demo",
		"a/multi.yaml:11:3 ConfigMap demo/one",
		"a/multi.yaml:14:3 ConfigMap demo/two",
		"b/svc.yaml:1:1 Service demo/web",
		"c/obj.json:1:1 ConfigMap j",
	}
	if got := names(set); !reflect.DeepEqual(got, want) {
		t.Errorf("objects:\n got %q\nwant %q", got, want)
	}
	if want := []string{"a/multi.yaml", "b/svc.yaml", "c/obj.json"}; !reflect.DeepEqual(set.Files, want) {
		t.Errorf("files = %q, want %q", set.Files, want)
	}
}

func TestRenderReadsYAMLAsKubectlDoes(t *testing.T) {
	fsys := mapFS(map[string]string{"x.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: x
  labels: &labels
    a: "yes"
data:
  plain: yes
  octal: 0777
  big: 1e3
  merged:
    <<: {k: v, o: base}
    o: own
  alias: *labels
`})
	set, errs := Render(fsys, ".", Options{})
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errorStrings(errs))
	}
	data := set.Objects[0].Object.Object["data"].(map[string]interface{})
	want := map[string]interface{}{
		"plain":  true,
		"octal":  int64(511),
		"big":    float64(1000),
		"merged": map[string]interface{}{"k": "v", "o": "own"},
		"alias":  map[string]interface{}{"a": "yes"},
	}
	if !reflect.DeepEqual(data, want) {
		t.Errorf("data = %#v\nwant %#v", data, want)
	}
	if got := string(set.Objects[0].Raw); !strings.HasPrefix(got, `{"apiVersion":"v1","data":{"alias":{"a":"yes"}`) {
		t.Errorf("raw = %s", got)
	}
}

func TestRenderErrorsPointAtTheProblem(t *testing.T) {
	fsys := mapFS(map[string]string{
		"dup.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n",
		"bad.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: {}\n",
		"nokind.yaml": "apiVersion: v1\nmetadata:\n  name: x\n---\n- a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after\n",
		"inf.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  generation: .inf\n",
	})
	set, errs := Render(fsys, ".", Options{})
	want := []string{
		"bad.yaml:5: invalid YAML: did not find expected key",
		`dup.yaml:5:3: duplicate key "name" (first at line 4)`,
		`inf.yaml:5:15: ".inf" is not a number JSON can hold`,
		"nokind.yaml:1:1: not a Kubernetes object: apiVersion and kind are required (list this file in .berthignore if it is not a manifest)",
		"nokind.yaml:5:1: a document must be an object with apiVersion and kind, found a list",
	}
	if got := errorStrings(errs); !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	if got := names(set); !reflect.DeepEqual(got, []string{"nokind.yaml:7:1 ConfigMap after"}) {
		t.Errorf("objects = %q", got)
	}
}

func TestFieldPosition(t *testing.T) {
	fsys := mapFS(map[string]string{"d.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
spec:
  template:
    spec:
      containers:
      - name: a
        image: a
      - name: b
        image: b
        ports:
        - containerPort: 80
`})
	set, errs := Render(fsys, ".", Options{})
	if len(errs) > 0 {
		t.Fatal(errorStrings(errs))
	}
	o := set.Objects[0]
	for path, want := range map[string]string{
		"":                                       "d.yaml:1:1",
		"spec.template.spec.containers[1].image": "d.yaml:14:9",
		"spec.template.spec.containers[1]":       "d.yaml:13:9",
		"metadata.labels[app.kubernetes.io/name]":           "d.yaml:6:5",
		"spec.template.spec.containers.ports.containerPort": "d.yaml:16:11",
		"spec.selector":                         "d.yaml:7:1",
		"spec.template.spec.containers[5].name": "d.yaml:10:7",
	} {
		if got := o.FieldPosition(path).String(); got != want {
			t.Errorf("FieldPosition(%q) = %s, want %s", path, got, want)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	fsys := mapFS(map[string]string{"d.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replica: 3
  template:
    spec:
      containers:
      - name: a
        image: a
        imagePullPolicy: Always
        ports:
        - containerPort: 80
          protocl: TCP
`, "t.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  containers:
  - name: a
    image: a
  - name: b
    image: b
    ports:
    - containerPort: "80"
`})
	set, errs := Render(fsys, ".", Options{})
	if len(errs) > 0 {
		t.Fatal(errorStrings(errs))
	}
	var d appsv1.Deployment
	got := errorStrings(Decode(set.Objects[0], &d))
	want := []string{
		"d.yaml:6:3: Deployment web: spec.replica: unknown field (check its spelling and indentation against the Deployment schema)",
		"d.yaml:15:11: Deployment web: spec.template.spec.containers[0].ports[0].protocl: unknown field (check its spelling and indentation against the Deployment schema)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deployment:\n got %q\nwant %q", got, want)
	}
	if d.Spec.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Errorf("known fields were not decoded: %+v", d.Spec.Template.Spec.Containers[0])
	}
	var p corev1.Pod
	got = errorStrings(Decode(set.Objects[1], &p))
	want = []string{"t.yaml:12:7: Pod p: spec.containers[1].ports[0].containerPort: must be an integer, not a string"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pod:\n got %q\nwant %q", got, want)
	}
}

func TestRenderIgnoresAndSkips(t *testing.T) {
	fsys := mapFS(map[string]string{
		".berthignore":         "# comment\nimages/\n*.draft.yaml\n!keep.draft.yaml\n",
		"apps/keep.draft.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: keep\n",
		"apps/a.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
		"apps/a.draft.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: draft\n",
		"apps/.berthignore":    "local.yaml\n",
		"apps/local.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\n",
		"other/local.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other-local\n",
		"images/hello/k.yaml":  "not: a manifest\n",
		"policies/team.yaml":   "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: r\n",
	})
	set, errs := Render(fsys, ".", Options{Skip: []string{"policies"}})
	if len(errs) > 0 {
		t.Fatal(errorStrings(errs))
	}
	want := []string{"apps/a.yaml:1:1 ConfigMap a", "apps/keep.draft.yaml:1:1 ConfigMap keep", "other/local.yaml:1:1 ConfigMap other-local"}
	if got := names(set); !reflect.DeepEqual(got, want) {
		t.Errorf("objects:\n got %q\nwant %q", got, want)
	}
	// A single file is rendered on its own.
	set, errs = Render(fsys, "apps/local.yaml", Options{})
	if len(errs) > 0 || len(set.Objects) != 1 || set.Objects[0].Name() != "local" {
		t.Errorf("single file: %q %q", names(set), errorStrings(errs))
	}
	// A missing root is an error.
	if _, errs := Render(fsys, "nope", Options{}); len(errs) != 1 || !strings.Contains(errs[0].Error(), "nope: cannot read") {
		t.Errorf("missing root: %q", errorStrings(errs))
	}
}

func TestRenderBuildsKustomizations(t *testing.T) {
	fsys := mapFS(map[string]string{
		"base/kustomization.yaml": "resources:\n- deploy.yaml\n",
		"base/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello
spec:
  replicas: 1
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers: [{name: hello, image: hello}]
`,
		"base/unused.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unused\n",
		"overlays/prod/kustomization.yaml": `namespace: prod
resources:
- ../../base
patches:
- target: {kind: Deployment, name: hello}
  patch: |
    - op: replace
      path: /spec/replicas
      value: 3
`,
		"overlays/broken/kustomization.yaml": "resources:\n- missing.yaml\n",
	})
	set, errs := Render(fsys, ".", Options{})
	// Objects are positioned at the documents they were built from.
	want := []string{
		"base/deploy.yaml:1:1 Deployment hello",
		"base/deploy.yaml:1:1 Deployment prod/hello",
	}
	if got := names(set); !reflect.DeepEqual(got, want) {
		t.Errorf("objects:\n got %q\nwant %q", got, want)
	}
	if len(errs) != 1 || errs[0].Pos.File != "overlays/broken/kustomization.yaml" || !strings.Contains(errs[0].Message, "kustomize build failed") {
		t.Errorf("errors = %q", errorStrings(errs))
	}
	prod := set.Objects[1]
	if r, _, _ := unstructuredInt(prod.Object.Object, "spec", "replicas"); r != 3 {
		t.Errorf("overlay replicas = %d, want 3", r)
	}
	if prod.Kustomization != "overlays/prod/kustomization.yaml" {
		t.Errorf("Kustomization = %q", prod.Kustomization)
	}
	var d appsv1.Deployment
	if errs := Decode(prod, &d); len(errs) > 0 || *d.Spec.Replicas != 3 {
		t.Errorf("decode: %q, replicas %v", errorStrings(errs), d.Spec.Replicas)
	}
}

func unstructuredInt(m map[string]interface{}, fields ...string) (int64, bool, error) {
	for _, f := range fields[:len(fields)-1] {
		m, _ = m[f].(map[string]interface{})
	}
	v, ok := m[fields[len(fields)-1]].(int64)
	return v, ok, nil
}

func TestKustomizeOutputIsPositionedAtItsSources(t *testing.T) {
	fsys := mapFS(map[string]string{
		"base/kustomization.yaml": "resources: [cm.yaml]\n",
		"base/cm.yaml":            "# comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ab\n",
		"prod/kustomization.yaml": "namePrefix: p-\nresources:\n- ../base\n- own.yaml\nconfigMapGenerator:\n- name: gen\n  literals: [a=b]\n",
		"prod/own.yaml":           "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
		"kept/kustomization.yaml": "buildMetadata: [originAnnotations]\nresources: [own.yaml]\n",
		"kept/own.yaml":           "apiVersion: v1\nkind: Secret\nmetadata:\n  name: kept\n",
	})
	set, errs := Render(fsys, ".", Options{})
	if len(errs) > 0 {
		t.Fatal(errorStrings(errs))
	}
	want := []string{
		"base/cm.yaml:2:1 ConfigMap a",
		"base/cm.yaml:9:1 ConfigMap ab",
		"kept/own.yaml:1:1 Secret kept",
		"base/cm.yaml:2:1 ConfigMap p-a",
		"base/cm.yaml:9:1 ConfigMap p-ab", // the longest name p-ab contains
		"prod/own.yaml:1:1 Secret p-s",
		"prod/kustomization.yaml:5:1 ConfigMap p-gen-4h2mbtbbt6", // at its generator
	}
	if got := names(set); !reflect.DeepEqual(got, want) {
		t.Errorf("objects:\n got %q\nwant %q", got, want)
	}
	pa := set.Objects[3]
	if got := pa.FieldPosition("data.k").String(); got != "base/cm.yaml:7:3" {
		t.Errorf("FieldPosition(data.k) = %s, want base/cm.yaml:7:3", got)
	}
	if pa.Kustomization != "prod/kustomization.yaml" {
		t.Errorf("Kustomization = %q", pa.Kustomization)
	}
	// berth's origin annotations stay out of the objects; a user's stay in.
	for _, o := range set.Objects {
		_, has := o.Object.GetAnnotations()["config.kubernetes.io/origin"]
		if want := o.Name() == "kept"; has != want || strings.Contains(string(o.Raw), "config.kubernetes.io/origin") != want {
			t.Errorf("%s: origin annotation %v in %s", o, has, o.Raw)
		}
	}
	// The kustomization files are left as they were for the next build.
	set2, _ := Render(fsys, "prod", Options{})
	if got := names(set2); !reflect.DeepEqual(got, want[3:]) {
		t.Errorf("second build: %q", got)
	}
}

// openRecorder is an fs.FS that records the files opened.
type openRecorder struct {
	fs.FS
	opened map[string]bool
}

func (r *openRecorder) Open(name string) (fs.File, error) {
	r.opened[name] = true
	return r.FS.Open(name)
}

func TestKustomizeReadsOnlyWhatItNames(t *testing.T) {
	fsys := &openRecorder{FS: mapFS(map[string]string{
		"app/kustomization.yaml":  "resources: [../base]\nconfigMapGenerator:\n- name: settings\n  files: [app.properties]\n",
		"app/app.properties":      "level=debug\n",
		"base/kustomization.yaml": "resources: [cm.yaml]\n",
		"base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base\n",
		"unrelated/blob.bin":      strings.Repeat("x", 1<<20),
	}), opened: map[string]bool{}}
	set, errs := Render(fsys, "app", Options{})
	if len(errs) > 0 {
		t.Fatal(errorStrings(errs))
	}
	if got := names(set); len(got) != 2 || !strings.Contains(got[1], "ConfigMap settings-") {
		t.Fatalf("objects = %q", got)
	}
	if data := set.Objects[1].Object.Object["data"].(map[string]interface{}); data["app.properties"] != "level=debug\n" {
		t.Errorf("generated data = %v", data)
	}
	if fsys.opened["unrelated/blob.bin"] {
		t.Errorf("kustomize read a file no kustomization names; opened %v", fsys.opened)
	}
}
