package manifest

import (
	"reflect"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-billy/v5/util"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// commitTree commits files to a new in-memory repository and returns the
// commit's tree.
func commitTree(t *testing.T, files map[string]string) *object.Tree {
	t.Helper()
	wt := memfs.New()
	repo, err := git.Init(memory.NewStorage(), wt)
	if err != nil {
		t.Fatal(err)
	}
	w, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := util.WriteFile(wt, name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "t", Email: "t@example.com", When: time.Unix(0, 0)}
	h, err := w.Commit("test", &git.CommitOptions{Author: sig})
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(h)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestGitTreeFS(t *testing.T) {
	files := map[string]string{
		"apps/hello/deploy.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
		"apps/hello-world.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
		"base/kustomization.yaml":    "resources: [cm.yaml]\n",
		"base/cm.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
		"overlay/kustomization.yaml": "namespace: x\nresources: [../base]\n",
		".berthignore":               "base/\n",
		"README.md":                  "# repo\n",
	}
	fsys := GitTreeFS(commitTree(t, files))
	if err := fstest.TestFS(fsys, "apps/hello/deploy.yaml", "apps/hello-world.yaml", "README.md", "overlay/kustomization.yaml"); err != nil {
		t.Fatal(err)
	}
	set, errs := Render(fsys, ".", Options{})
	if len(errs) > 0 {
		t.Fatal(errorStrings(errs))
	}
	want := []string{
		"apps/hello/deploy.yaml:1:1 ConfigMap a", // a directory's entries sort by name
		"apps/hello-world.yaml:1:1 ConfigMap b",
		"overlay/kustomization.yaml:1:1 ConfigMap x/c",
	}
	if got := names(set); !reflect.DeepEqual(got, want) {
		t.Errorf("objects:\n got %q\nwant %q", got, want)
	}
}
