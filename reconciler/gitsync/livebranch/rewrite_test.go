package livebranch

import (
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/berth-io/berth/reconciler/gitsync/drift"
)

var web = drift.Object{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "apps", Name: "web"}

const multiDoc = `# the web tier
apiVersion: v1
kind: Service
metadata:
  name: web   # same name, another kind
  namespace: apps
spec:
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: "front"}
spec:
  replicas: 3 # three is enough
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: sidecar
        image: 'envoy:1'
      - name: web
        image: nginx:1.25
        args: [--port, "80"]
---
# trailing comment document
`

func field(name string) fieldpath.PathElement { return fieldpath.PathElement{FieldName: &name} }

func keyed(name string) fieldpath.PathElement {
	return fieldpath.PathElement{Key: &value.FieldList{{Name: "name", Value: value.NewValueInterface(name)}}}
}

func entry(live any, removed bool, p ...fieldpath.PathElement) drift.Entry {
	return drift.Entry{Object: web, Path: p, Field: drift.FieldString(p), Live: live, Removed: removed}
}

var (
	replicas  = []fieldpath.PathElement{field("spec"), field("replicas")}
	image     = []fieldpath.PathElement{field("spec"), field("template"), field("spec"), field("containers"), keyed("web"), field("image")}
	sidecar   = []fieldpath.PathElement{field("spec"), field("template"), field("spec"), field("containers"), keyed("sidecar"), field("image")}
	args      = []fieldpath.PathElement{field("spec"), field("template"), field("spec"), field("containers"), keyed("web"), field("args")}
	tier      = []fieldpath.PathElement{field("metadata"), field("labels"), field("tier")}
	appLabel  = []fieldpath.PathElement{field("metadata"), field("labels"), field("app")}
	notInFile = []fieldpath.PathElement{field("metadata"), field("labels"), field("berth.io/source")}
)

func TestRewrite(t *testing.T) {
	tests := []struct {
		name    string
		entries []drift.Entry
		want    func(string) string // edits of multiDoc
	}{
		{
			name:    "a scalar is replaced in place, comments kept",
			entries: []drift.Entry{entry(int64(5), false, replicas...)},
			want:    func(s string) string { return strings.Replace(s, "replicas: 3 #", "replicas: 5 #", 1) },
		},
		{
			name:    "a list item by its key",
			entries: []drift.Entry{entry("nginx:1.26", false, image...)},
			want:    func(s string) string { return strings.Replace(s, "image: nginx:1.25", "image: nginx:1.26", 1) },
		},
		{
			name:    "quoting is kept",
			entries: []drift.Entry{entry("envoy:2", false, sidecar...), entry("back", false, tier...)},
			want: func(s string) string {
				return strings.NewReplacer("'envoy:1'", "'envoy:2'", `tier: "front"`, `tier: "back"`).Replace(s)
			},
		},
		{
			name:    "two fields on one line",
			entries: []drift.Entry{entry("api", false, appLabel...), entry("backend", false, tier...)},
			want: func(s string) string {
				return strings.Replace(s, `labels: {app: web, tier: "front"}`, `labels: {app: api, tier: "backend"}`, 1)
			},
		},
		{
			name:    "a string that looks like a number is quoted",
			entries: []drift.Entry{entry("1.30", false, image...)},
			want:    func(s string) string { return strings.Replace(s, "image: nginx:1.25", `image: "1.30"`, 1) },
		},
		{
			name:    "fields not in the file are left to DRIFT.md",
			entries: []drift.Entry{entry("x", false, notInFile...)},
			want:    func(s string) string { return s },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Rewrite("web.yaml", []byte(multiDoc), web, tt.entries)
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.want(multiDoc); string(got) != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestRewriteStructural: a removed field or a list value re-encodes the
// object's document only.
func TestRewriteStructural(t *testing.T) {
	got, err := Rewrite("web.yaml", []byte(multiDoc), web, []drift.Entry{
		entry(nil, true, tier...),
		entry([]any{"--port", "8080"}, false, args...),
		entry(int64(5), false, replicas...),
	})
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(got), "---\n")
	want := strings.Split(multiDoc, "---\n")
	if len(docs) != 3 || docs[0] != want[0] || docs[2] != want[2] {
		t.Fatalf("other documents changed:\n%s", got)
	}
	for _, s := range []string{"replicas: 5", "- --port\n", `"8080"`, "app: web"} {
		if !strings.Contains(docs[1], s) {
			t.Errorf("document lacks %q:\n%s", s, docs[1])
		}
	}
	if strings.Contains(docs[1], "tier") {
		t.Errorf("removed label still there:\n%s", docs[1])
	}
}

func TestRewriteJSON(t *testing.T) {
	in := `{
  "apiVersion": "apps/v1",
  "kind": "Deployment",
  "metadata": {"name": "web", "namespace": "apps"},
  "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}}
}
`
	got, err := Rewrite("web.json", []byte(in), web, []drift.Entry{entry(int64(4), false, replicas...), entry("nginx:2", false, image...)})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer(`"replicas": 3`, `"replicas": 4`, `"image": "nginx:1.25"`, `"image": "nginx:2"`).Replace(in)
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestRewriteObjectNotInFile(t *testing.T) {
	other := web
	other.Name = "api"
	_, err := Rewrite("web.yaml", []byte(multiDoc), other, []drift.Entry{entry(int64(5), false, replicas...)})
	if !errors.Is(err, errNotInFile) || !strings.Contains(err.Error(), "web.yaml: Deployment apps/api") {
		t.Errorf("error %v", err)
	}
}
