package validate

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/reconciler/gitsync/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenExt is the golden file extension of each format.
var goldenExt = map[Format]string{FormatText: "txt", FormatJSON: "json", FormatJUnit: "junit.xml", FormatGitHub: "github"}

// TestGolden checks the repositories under testdata in every format
// against testdata/golden. Regenerate with `go test -run Golden -update`
// and review the diff.
//
// testdata/valid is a repository that must pass: multi-document YAML, a
// JSON List, a kustomize base and overlay, policies, a .berthignore'd
// broken draft. testdata/invalid has one problem per file: malformed YAML,
// unknown fields, duplicate keys, wrong types (and YAML 1.1 booleans), an
// object the API server rejects, edge cases (a namespace on a
// cluster-scoped kind, no name, generateName, a bad quantity, a GitSource
// typo), a bad policy file, a Service selecting nothing, missing
// ConfigMaps/Secrets/keys/ServiceAccount, duplicates, a missing namespace,
// a selector that misses its template, kinds berth does not serve, RBAC
// outside policies/, an overlay producing an invalid object and a
// kustomization that cannot build.
func TestGolden(t *testing.T) {
	for _, repo := range []string{"valid", "invalid"} {
		r := Check([]Source{{FS: os.DirFS(filepath.Join("testdata", repo)), Root: ".", Name: repo}}, Options{})
		if want := repo == "valid"; r.Valid(false) != want {
			t.Errorf("%s: Valid() = %v", repo, !want)
		}
		for format, ext := range goldenExt {
			var b bytes.Buffer
			if err := Write(&b, r, format, false); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", repo+"."+ext)
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run Golden -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s -o %s differs from %s:\n--- got\n%s\n--- want\n%s", repo, format, golden, b.String(), want)
			}
		}
	}
}

// TestStrictCountsWarnings: a repository with only warnings is valid, and
// invalid with --strict; the github format then writes ::error.
func TestStrictCountsWarnings(t *testing.T) {
	r := Check([]Source{{FS: os.DirFS("testdata/invalid"), Root: "service-selects-nothing.yaml", Name: "invalid"}}, Options{})
	if r.Errors() != 0 || r.Warnings() != 1 || !r.Valid(false) || r.Valid(true) {
		t.Fatalf("errors %d, warnings %d: %v", r.Errors(), r.Warnings(), r.Findings)
	}
	var b bytes.Buffer
	if err := Write(&b, r, FormatGitHub, true); err != nil {
		t.Fatal(err)
	}
	want := "::error file=invalid/service-selects-nothing.yaml,line=6,col=3,title=berth validate%3A Service orphan::spec.selector: selects no pod: no Deployment, ReplicaSet, Job or Pod in namespace \"default\" has pod labels app=nobody; check the selector against the workload's template labels\n" +
		"invalid: 0 errors, 1 warning: 1 object in 1 file\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestObjectsChecksRenderedObjects: Objects is Check for objects a caller
// rendered itself (the sync, berth diff), with the same findings.
func TestObjectsChecksRenderedObjects(t *testing.T) {
	fsys := os.DirFS("testdata/invalid")
	set, _ := manifest.Render(fsys, "missing-configmap.yaml", manifest.Options{})
	typed := make([]runtime.Object, len(set.Objects))
	got := Objects("invalid", set.Objects, typed, Options{})
	want := Check([]Source{{FS: fsys, Root: "missing-configmap.yaml", Name: "invalid"}}, Options{}).Findings
	if len(got) != 5 || !reflect.DeepEqual(got, want) {
		t.Errorf("Objects found\n%v\nCheck found\n%v", got, want)
	}
	if _, ok := typed[0].(*appsv1.Deployment); !ok {
		t.Errorf("typed[0] = %T, want the decoded Deployment", typed[0])
	}
	if got := Objects("", set.Objects, nil, Options{}); len(got) != 5 {
		t.Errorf("without typed: %v", got)
	}
}
