package validate

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rhysd/actionlint"
)

// examplesRepo is the demo repository a user copies.
const examplesRepo = "../../../examples-repo"

func TestExamplesRepoIsValidEvenStrictly(t *testing.T) {
	r := Repo(os.DirFS(examplesRepo), ".", Options{})
	if !r.Valid(true) {
		var b bytes.Buffer
		_ = Write(&b, r, FormatText, true)
		t.Fatalf("examples-repo is not valid:\n%s", b.String())
	}
	var objects []string
	for _, o := range r.Objects {
		objects = append(objects, o.String())
	}
	for _, want := range []string{
		"Namespace demo", "ConfigMap demo/hello-config", "Deployment demo/hello", "Service demo/hello", "Job demo/worker-1",
		"Namespace production", "Deployment production/hello",
	} {
		if !slices.Contains(objects, want) {
			t.Errorf("examples-repo has no %s; it has %q", want, objects)
		}
	}
	if r.Policy == nil || len(r.Policy.RoleBindings) == 0 {
		t.Errorf("examples-repo's policies did not load: %+v", r.Policy)
	}
	for _, o := range r.Objects {
		if o.Pos.File == "images" || filepath.Dir(o.Pos.File) == "images" {
			t.Errorf("%s was read from images/, which .berthignore leaves out", o)
		}
	}
}

func TestExamplesRepoWorkflowsPassActionlint(t *testing.T) {
	dir := filepath.Join(examplesRepo, ".github", "workflows")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, filepath.Join(dir, e.Name()))
	}
	if len(files) < 2 {
		t.Fatalf("want the validate and diff workflows in %s, found %q", dir, files)
	}
	var out bytes.Buffer
	l, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{Oneline: true})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.LintFiles(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Errorf("actionlint found %d problems:\n%s", len(errs), out.String())
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case bytes.Contains(data, []byte("berth validate -o github")):
		case bytes.Contains(data, []byte("berth diff --base")) && bytes.Contains(data, []byte("-o markdown")) && bytes.Contains(data, []byte("gh pr comment")):
		default:
			t.Errorf("%s neither validates with -o github nor posts berth diff as a comment", f)
		}
	}
}
