package diff

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/*/want.*")

// FixtureRepo makes a git repository on branch main from fixture
// directory dir: a commit of dir/base, then a commit of dir/head (HEAD),
// with fixed authors and times so that the hashes are always the same.
// The work tree holds the head's files.
func FixtureRepo(t testing.TB, dir string) string {
	t.Helper()
	repoDir := t.TempDir()
	repo, err := git.PlainInitWithOptions(repoDir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, side := range []string{"base", "head"} {
		entries, err := os.ReadDir(repoDir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != ".git" {
				if err := os.RemoveAll(filepath.Join(repoDir, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := os.CopyFS(repoDir, os.DirFS(filepath.Join(dir, side))); err != nil {
			t.Fatal(err)
		}
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			t.Fatal(err)
		}
		sig := &object.Signature{Name: "Test", Email: "test@example.com", When: when.Add(time.Duration(i) * time.Hour)}
		if _, err := wt.Commit(side, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true}); err != nil {
			t.Fatal(err)
		}
	}
	return repoDir
}

// TestGolden compares every fixture of testdata (base → head) in every
// format with its golden files; -update rewrites them.
func TestGolden(t *testing.T) {
	fixtures, err := filepath.Glob("testdata/*/base")
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, base := range fixtures {
		dir := filepath.Dir(base)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			repoDir := FixtureRepo(t, dir)
			res, err := Repo{Dir: repoDir, Base: "HEAD~1", Head: "HEAD"}.Compare(Options{})
			if err != nil {
				t.Fatal(err)
			}
			for format, file := range map[Format]string{FormatText: "want.txt", FormatMarkdown: "want.md", FormatJSON: "want.json"} {
				var out bytes.Buffer
				if err := Write(&out, res, format, false); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join(dir, file), out.Bytes())
			}
			var colored bytes.Buffer
			if err := Write(&colored, res, FormatText, true); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(colored.String(), "\x1b[31m") {
				t.Errorf("the coloured text has no red")
			}
		})
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil && !errorsIsNotExist(err) {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -run TestGolden -update rewrites it):\n%s", file, got)
	}
}

func errorsIsNotExist(err error) bool {
	return err != nil && os.IsNotExist(err) || err == fs.ErrNotExist
}
