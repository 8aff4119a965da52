package drift

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const gitDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
  labels: {app: web, tier: front}
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        resources:
          requests: {cpu: "0.5"}
`

// berthFields is what berth-gitsync owns after applying gitDeployment.
const berthFields = `{"f:metadata":{"f:labels":{"f:app":{},"f:tier":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{},"f:resources":{"f:requests":{"f:cpu":{}}}}}}}}}`

// berthFieldsWithout is berthFields after another manager took over the
// fields named.
func berthFieldsWithout(fields ...string) string {
	s := berthFields
	for _, f := range fields {
		s = strings.Replace(s, f, "", 1)
	}
	return s
}

var (
	applied = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	later   = applied.Add(time.Minute)
	earlier = applied.Add(-time.Minute)
)

func managed(manager string, op metav1.ManagedFieldsOperationType, at time.Time, fields string) metav1.ManagedFieldsEntry {
	t := metav1.NewTime(at)
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "apps/v1", Time: &t, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

func decode(t testing.TB, s string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(s), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// live is gitDeployment as the server stores it (defaults, status, server
// metadata, the cpu request canonicalised), changed by edit.
func live(t testing.TB, edit func(u *unstructured.Unstructured), managedFields ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
	u := decode(t, gitDeployment)
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	c["resources"] = map[string]any{"requests": map[string]any{"cpu": "500m"}}
	c["imagePullPolicy"] = "IfNotPresent"
	_ = unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers")
	_ = unstructured.SetNestedField(u.Object, "RollingUpdate", "spec", "strategy", "type")
	_ = unstructured.SetNestedField(u.Object, int64(3), "status", "replicas")
	u.SetResourceVersion("42")
	u.SetUID("0b1c")
	u.SetGeneration(2)
	u.SetCreationTimestamp(metav1.NewTime(earlier))
	if edit != nil {
		edit(u)
	}
	u.SetManagedFields(managedFields)
	return u
}

func TestDetect(t *testing.T) {
	berth := managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, berthFields)
	status := metav1.ManagedFieldsEntry{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:replicas":{}}}`)}}
	setReplicas := func(n int64) func(*unstructured.Unstructured) {
		return func(u *unstructured.Unstructured) { _ = unstructured.SetNestedField(u.Object, n, "spec", "replicas") }
	}
	setImage := func(image string) func(*unstructured.Unstructured) {
		return func(u *unstructured.Unstructured) {
			containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			containers[0].(map[string]any)["image"] = image
			_ = unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers")
		}
	}
	dropTier := func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"app": "web"}) }

	tests := []struct {
		name string
		live *unstructured.Unstructured
		want []string // Entry.String()
	}{
		{
			name: "as applied, with defaults and status",
			live: live(t, nil, berth, status),
		},
		{
			name: "kubectl scale takes replicas",
			live: live(t, setReplicas(5), managed("kubectl-scale", metav1.ManagedFieldsOperationUpdate, later, `{"f:spec":{"f:replicas":{}}}`),
				managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, berthFieldsWithout(`"f:replicas":{},`)), status),
			want: []string{"Deployment apps/web: spec.replicas: 3 → 5 by kubectl-scale (Update)"},
		},
		{
			name: "kubectl edit changes the image",
			live: live(t, setImage("nginx:1.26"),
				managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, berthFieldsWithout(`"f:image":{},`)),
				managed("kubectl-edit", metav1.ManagedFieldsOperationUpdate, later, `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:image":{}}}}}}}`)),
			want: []string{`Deployment apps/web: spec.template.spec.containers[name="web"].image: nginx:1.25 → nginx:1.26 by kubectl-edit (Update)`},
		},
		{
			name: "a field berth still owns is not applied yet, not drift",
			live: live(t, setReplicas(2), berth),
		},
		{
			name: "a label removed by kubectl edit after the apply",
			live: live(t, dropTier,
				managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, berthFieldsWithout(`,"f:tier":{}`)),
				managed("kubectl-edit", metav1.ManagedFieldsOperationUpdate, later, `{"f:metadata":{"f:annotations":{}}}`)),
			want: []string{"Deployment apps/web: metadata.labels.tier: front → (removed) by kubectl-edit (Update)"},
		},
		{
			name: "a label git added is missing but berth applied last: not applied yet",
			live: live(t, dropTier,
				managed("kubectl-edit", metav1.ManagedFieldsOperationUpdate, earlier, `{"f:metadata":{"f:annotations":{}}}`),
				managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, berthFieldsWithout(`,"f:tier":{}`))),
		},
		{
			name: "fields git does not set are not drift",
			live: live(t, func(u *unstructured.Unstructured) {
				_ = unstructured.SetNestedField(u.Object, "Recreate", "spec", "strategy", "type")
				_ = unstructured.SetNestedField(u.Object, int64(9), "status", "replicas")
				u.SetAnnotations(map[string]string{"note": "x"})
			}, berth, managed("kubectl-annotate", metav1.ManagedFieldsOperationUpdate, later, `{"f:metadata":{"f:annotations":{"f:note":{}}},"f:spec":{"f:strategy":{"f:type":{}}}}`)),
		},
		{
			name: "another manager took fields over with git's values (a quantity written canonically)",
			live: live(t, nil,
				managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, berthFieldsWithout(`"f:replicas":{},`, `,"f:resources":{"f:requests":{"f:cpu":{}}}`)),
				managed("kubectl-edit", metav1.ManagedFieldsOperationUpdate, later, `{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:resources":{"f:requests":{"f:cpu":{}}}}}}}}}`)),
		},
		{
			name: "several fields, in path order",
			live: live(t, func(u *unstructured.Unstructured) { setReplicas(1)(u); setImage("evil:latest")(u) },
				managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, berthFieldsWithout(`"f:replicas":{},`, `"f:image":{},`)),
				managed("kubectl-patch", metav1.ManagedFieldsOperationUpdate, later, `{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:image":{}}}}}}}`)),
			want: []string{
				"Deployment apps/web: spec.replicas: 3 → 1 by kubectl-patch (Update)",
				`Deployment apps/web: spec.template.spec.containers[name="web"].image: nginx:1.25 → evil:latest by kubectl-patch (Update)`,
			},
		},
		{
			name: "another applier forced the field",
			live: live(t, setReplicas(7),
				managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, berthFieldsWithout(`"f:replicas":{},`)),
				managed("hpa-applier", metav1.ManagedFieldsOperationApply, later, `{"f:spec":{"f:replicas":{}}}`)),
			want: []string{"Deployment apps/web: spec.replicas: 3 → 7 by hpa-applier (Apply)"},
		},
	}
	d := NewDetector()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Detect(decode(t, gitDeployment), tt.live)
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, e := range got {
				lines = append(lines, e.String())
			}
			if strings.Join(lines, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("drift:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tt.want, "\n"))
			}
			for _, e := range got {
				if e.By.Time.IsZero() {
					t.Errorf("%s: no time", e)
				}
			}
		})
	}
}

func TestDetectUnknownKind(t *testing.T) {
	desired := decode(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: apps}\nspec: {size: 3, tags: [a, b]}\n")
	l := decode(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: apps}\nspec: {size: 3, tags: [a, c]}\n")
	l.SetManagedFields([]metav1.ManagedFieldsEntry{
		managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, `{"f:spec":{"f:size":{}}}`),
		managed("kubectl-edit", metav1.ManagedFieldsOperationUpdate, later, `{"f:spec":{"f:tags":{}}}`),
	})
	got, err := NewDetector().Detect(desired, l)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].String() != `Widget apps/w: spec.tags: ["a","b"] → ["a","c"] by kubectl-edit (Update)` {
		t.Errorf("drift %v", got)
	}
}

func TestReports(t *testing.T) {
	entries := []Entry{
		{Object: Object{"apps/v1", "Deployment", "apps", "web"}, Field: "spec.replicas", Git: int64(3), Live: int64(5), By: Changer{Manager: "kubectl-scale", Operation: "Update", Time: later}},
		{Object: Object{"v1", "ConfigMap", "apps", "conf"}, Field: "data.mode", Git: "a|b", Removed: true, By: Changer{Manager: "kubectl-edit", Operation: "Update", Time: later}},
	}
	md := string(Markdown("main", "berth/live", entries))
	for _, want := range []string{
		"| Object | Field | Git | Live | Changed by | When |",
		"| Deployment apps/web | `spec.replicas` | `3` | `5` | kubectl-scale (Update) | 2026-11-26T08:01:00Z |",
		"| ConfigMap apps/conf | `data.mode` | `a\\|b` | `(removed)` | kubectl-edit (Update) | 2026-11-26T08:01:00Z |",
		"git diff main berth/live",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("DRIFT.md lacks %q:\n%s", want, md)
		}
	}
	if s := Summary(entries); s != "2 fields drifted from git in 2 objects: Deployment apps/web: spec.replicas: 3 → 5 by kubectl-scale (Update); ConfigMap apps/conf: data.mode: a|b → (removed) by kubectl-edit (Update)" {
		t.Errorf("summary %q", s)
	}
	msg := CommitMessage(entries)
	if !strings.HasPrefix(msg, "drift: Deployment apps/web spec.replicas 3 → 5 by kubectl-scale (and 1 more)\n\n- Deployment apps/web") || !strings.Contains(msg, "at 2026-11-26T08:01:00Z") {
		t.Errorf("commit message:\n%s", msg)
	}
	if Summary(nil) != "the live state matches git" || !strings.Contains(string(Markdown("main", "berth/live", nil)), "matches `main`") {
		t.Error("no drift is not reported as such")
	}
}

// BenchmarkDetect is the cost of checking one applied Deployment that has
// drifted in one field (the engine checks every applied object on each
// health pass).
func BenchmarkDetect(b *testing.B) {
	desired := decode(b, gitDeployment)
	l := live(b, func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, int64(5), "spec", "replicas")
	},
		managed("kubectl-scale", metav1.ManagedFieldsOperationUpdate, later, `{"f:spec":{"f:replicas":{}}}`),
		managed(FieldManager, metav1.ManagedFieldsOperationApply, applied, berthFieldsWithout(`"f:replicas":{},`)))
	d := NewDetector()
	b.ReportAllocs()
	for b.Loop() {
		if got, err := d.Detect(desired, l); err != nil || len(got) != 1 {
			b.Fatal(got, err)
		}
	}
}
