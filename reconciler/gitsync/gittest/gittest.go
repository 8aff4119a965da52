// Package gittest makes real git repositories for gitsync's tests: a work
// tree in a temporary directory, with files written, removed and
// committed through go-git exactly as a user's git would leave them.
package gittest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a repository with a work tree on branch main.
type Repo struct {
	// Dir is the work tree; Dir/.git the repository.
	Dir  string
	Repo *git.Repository
	t    testing.TB
}

// Init creates an empty repository on branch main in a temporary directory.
func Init(t testing.TB) *Repo {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatalf("git init: %v", err)
	}
	return &Repo{Dir: dir, Repo: repo, t: t}
}

// Write writes files (path → content, slash-separated paths) into the work
// tree and stages them.
func (r *Repo) Write(files map[string]string) *Repo {
	r.t.Helper()
	wt := r.worktree()
	for p, content := range files {
		full := filepath.Join(r.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
		if _, err := wt.Add(p); err != nil {
			r.t.Fatalf("git add %s: %v", p, err)
		}
	}
	return r
}

// Remove deletes files from the work tree and the index.
func (r *Repo) Remove(paths ...string) *Repo {
	r.t.Helper()
	wt := r.worktree()
	for _, p := range paths {
		if _, err := wt.Remove(p); err != nil {
			r.t.Fatalf("git rm %s: %v", p, err)
		}
	}
	return r
}

// Commit commits what is staged and returns the commit's hash.
func (r *Repo) Commit(msg string) string {
	r.t.Helper()
	h, err := r.worktree().Commit(msg, &git.CommitOptions{
		AllowEmptyCommits: true,
		Author:            &object.Signature{Name: "Test", Email: "test@example.com", When: time.Now()},
	})
	if err != nil {
		r.t.Fatalf("git commit: %v", err)
	}
	return h.String()
}

// SetBranch points branch at commit, as a force-push does.
func (r *Repo) SetBranch(branch, commit string) {
	r.t.Helper()
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), plumbing.NewHash(commit))
	if err := r.Repo.Storer.SetReference(ref); err != nil {
		r.t.Fatalf("moving %s: %v", branch, err)
	}
}

// Head is the hash main points at.
func (r *Repo) Head() string {
	r.t.Helper()
	ref, err := r.Repo.Reference(plumbing.NewBranchReferenceName("main"), true)
	if err != nil {
		r.t.Fatal(err)
	}
	return ref.Hash().String()
}

func (r *Repo) worktree() *git.Worktree {
	r.t.Helper()
	wt, err := r.Repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	return wt
}
