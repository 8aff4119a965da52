// Package difftest builds the git repositories of berth diff's tests from
// fixture directories.
package difftest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

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
