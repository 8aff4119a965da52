package manifest

import (
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"strings"
	"sync"
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

// TestGitTreeFSLookups reads paths through directories decoded once and
// kept: each answer must be the same whether the directory on the way was
// decoded already or not.
func TestGitTreeFSLookups(t *testing.T) {
	files := map[string]string{
		"a.yaml":           "top\n",
		"apps/one.yaml":    "one\n",
		"apps/two.yaml":    "two, longer\n",
		"apps/deep/x.yaml": "x\n",
		"apps/deep/y/z.md": "z\n",
	}
	tests := []struct {
		name, path string
		want       string // content, or the error's text
	}{
		{"top-level file", "a.yaml", "top\n"},
		{"file one level down", "apps/two.yaml", "two, longer\n"},
		{"file three levels down", "apps/deep/y/z.md", "z\n"},
		{"missing file in a known directory", "apps/three.yaml", "read apps/three.yaml: file does not exist"},
		{"missing directory", "nope/x.yaml", "read nope/x.yaml: file does not exist"},
		{"a file used as a directory", "apps/one.yaml/x", "read apps/one.yaml/x: file does not exist"},
		{"a directory read as a file", "apps/deep", "read apps/deep: is a directory"},
		{"invalid path", "apps/../a.yaml", "read apps/../a.yaml: invalid argument"},
	}
	fsys := GitTreeFS(commitTree(t, files))
	// Twice: first with nothing decoded, then with every directory kept.
	for round := range 2 {
		for _, tt := range tests {
			data, err := fs.ReadFile(fsys, tt.path)
			got := string(data)
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("round %d, %s: ReadFile(%q) = %q, want %q", round, tt.name, tt.path, got, tt.want)
			}
		}
	}
	for name, text := range files {
		info, err := fs.Stat(fsys, name)
		if err != nil || info.Size() != int64(len(text)) || !info.Mode().IsRegular() {
			t.Errorf("Stat(%q) = %v, %v; want a regular file of %d bytes", name, info, err, len(text))
		}
	}
	if entries, err := fs.ReadDir(fsys, "apps"); err != nil || len(entries) != 3 {
		t.Errorf("ReadDir(apps) = %v, %v; want deep, one.yaml, two.yaml", entries, err)
	}
}

// TestGitTreeFSConcurrent reads a tree from many goroutines at once, as
// Render does; run with -race it finds unguarded use of the caches.
func TestGitTreeFSConcurrent(t *testing.T) {
	files := map[string]string{}
	for d := range 4 {
		for i := range 20 {
			files[fmt.Sprintf("d%d/f%02d.yaml", d, i)] = fmt.Sprintf("file %d %d\n", d, i)
		}
	}
	fsys := GitTreeFS(commitTree(t, files))
	var wg sync.WaitGroup
	errs := make(chan error, len(files))
	for name, want := range files {
		wg.Go(func() {
			data, err := fs.ReadFile(fsys, name)
			if err == nil && string(data) != want {
				err = fmt.Errorf("%s: read %q, want %q", name, data, want)
			}
			if err == nil {
				_, err = fs.ReadDir(fsys, path.Dir(name))
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
