package manifest

import (
	"fmt"
	"reflect"
	"strings"
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
	repo, err := git.Init(memory.NewStorage(), memfs.New())
	if err != nil {
		t.Fatal(err)
	}
	return commitFiles(t, repo, files)
}

// commitFiles writes files to repo's worktree and commits them.
func commitFiles(t *testing.T, repo *git.Repository, files map[string]string) *object.Tree {
	t.Helper()
	w, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := util.WriteFile(w.Filesystem, name, []byte(text), 0o644); err != nil {
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
		"base/cm.yaml:1:1 ConfigMap x/c", // where the overlay's object comes from
	}
	if got := names(set); !reflect.DeepEqual(got, want) {
		t.Errorf("objects:\n got %q\nwant %q", got, want)
	}
}

func TestRevisionFS(t *testing.T) {
	repo, err := git.Init(memory.NewStorage(), memfs.New())
	if err != nil {
		t.Fatal(err)
	}
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n"
	commitFiles(t, repo, map[string]string{"a.yaml": fmt.Sprintf(cm, "first")})
	commitFiles(t, repo, map[string]string{"a.yaml": fmt.Sprintf(cm, "second")})
	for rev, want := range map[string]string{"HEAD": "second", "HEAD~1": "first", "master": "second"} {
		fsys, h, err := RevisionFS(repo, rev)
		if err != nil {
			t.Fatalf("%s: %v", rev, err)
		}
		set, errs := Render(fsys, ".", Options{})
		if len(errs) > 0 || len(set.Objects) != 1 || set.Objects[0].Name() != want || h.IsZero() {
			t.Errorf("%s (%s): %q %q, want ConfigMap %s", rev, h, names(set), errorStrings(errs), want)
		}
	}
	if _, _, err := RevisionFS(repo, "no-such-branch"); err == nil || !strings.Contains(err.Error(), `revision "no-such-branch"`) {
		t.Errorf("a missing revision: %v", err)
	}
}
