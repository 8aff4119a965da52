package manifest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// BenchmarkGitTreeFS walks and reads a commit of 2,000 manifest files in
// four directories of 500 (two at the top, two one level down) straight
// from an on-disk repository's object store: a fresh GitTreeFS per
// iteration, one listing per directory and one read per file, each looked
// up by path as Render does. cpu-ns/op is the process's CPU time (user
// and system), steadier than ns/op on a shared machine.
func BenchmarkGitTreeFS(b *testing.B) {
	const perDir = 500
	dirs := []string{"apps", "infra", "teams/a", "teams/b"}
	work := b.TempDir()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			b.Fatal(err)
		}
		for i := range perDir {
			text := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%d\ndata:\n  LEVEL: info\n", filepath.Base(d), i)
			if err := os.WriteFile(filepath.Join(work, d, fmt.Sprintf("app-%04d.yaml", i)), []byte(text), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	tree := commitDir(b, work)
	b.ResetTimer()
	cpu := cpuTime(b)
	for b.Loop() {
		fsys := GitTreeFS(tree)
		files := 0
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if len(data) > 0 {
				files++
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if files != len(dirs)*perDir {
			b.Fatalf("read %d files, want %d", files, len(dirs)*perDir)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(len(dirs)*perDir), "files/op")
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// commitDir makes dir a git repository with one commit of all its files
// and returns the commit's tree.
func commitDir(t testing.TB, dir string) *object.Tree {
	t.Helper()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	w, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
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
