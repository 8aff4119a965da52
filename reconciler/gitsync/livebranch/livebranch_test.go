package livebranch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/berth-io/berth/reconciler/gitsync/drift"
)

const webYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.25
`

var when = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// userRepo is a repository with a working tree on branch main, holding
// apps/web.yaml and README.md, as a user has it.
func userRepo(t testing.TB) (*git.Repository, string, plumbing.Hash) {
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}})
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, "apps/web.yaml", webYAML)
	write(t, dir, "README.md", "# apps\n")
	return repo, dir, commitAll(t, repo, "first")
}

func write(t testing.TB, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func commitAll(t testing.TB, repo *git.Repository, msg string) plumbing.Hash {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: "Dev", Email: "dev@example.com", When: when}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func scaled(n int64) Change {
	return Change{File: "apps/web.yaml", Object: web, Entries: []drift.Entry{{
		Object: web, Path: replicas, Field: "spec.replicas", Git: int64(3), Live: n,
		By: drift.Changer{Manager: "kubectl-scale", Operation: "Update", Time: when},
	}}}
}

func imaged(image string) Change {
	return Change{File: "apps/web.yaml", Object: web, Entries: []drift.Entry{{
		Object: web, Path: imagePath, Field: drift.FieldString(imagePath), Git: "nginx:1.25", Live: image,
		By: drift.Changer{Manager: "kubectl-edit", Operation: "Update", Time: when},
	}}}
}

var imagePath = image

// diff lists the files that differ between commits a and b, with b's
// content of each.
func diff(t *testing.T, repo *git.Repository, a, b plumbing.Hash) map[string]string {
	t.Helper()
	ca, err := repo.CommitObject(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := repo.CommitObject(b)
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := ca.Tree()
	tb, _ := cb.Tree()
	changes, err := ta.Diff(tb)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range changes {
		_, to, err := c.Files()
		if err != nil {
			t.Fatal(err)
		}
		content := "(deleted)"
		if to != nil {
			content, _ = to.Contents()
		}
		name := c.To.Name
		if name == "" {
			name = c.From.Name
		}
		out[name] = content
	}
	return out
}

func TestCommitLocal(t *testing.T) {
	repo, dir, main := userRepo(t)
	write(t, dir, "notes.txt", "uncommitted work\n") // the user's working tree must stay as it is
	ctx := context.Background()
	cfg := Config{Now: func() time.Time { return when }}

	res, err := Commit(ctx, repo, Request{Source: main, Ref: "main", Root: "apps", Changes: []Change{scaled(5)}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || len(res.Unwritten) > 0 {
		t.Fatalf("result %+v", res)
	}
	live, err := repo.Reference(plumbing.NewBranchReferenceName(DefaultBranch), true)
	if err != nil || live.Hash() != res.Commit {
		t.Fatalf("berth/live = %v, %v; want %s", live, err, res.Commit)
	}
	c, _ := repo.CommitObject(res.Commit)
	if c.Author.Name != "berth" || c.Author.Email != "berth@localhost" || len(c.ParentHashes) != 1 || c.ParentHashes[0] != main {
		t.Errorf("commit by %s <%s> with parents %v; want berth <berth@localhost> on %s", c.Author.Name, c.Author.Email, c.ParentHashes, main)
	}
	if !strings.HasPrefix(c.Message, "drift: Deployment apps/web spec.replicas 3 → 5 by kubectl-scale\n") || !strings.Contains(c.Message, main.String()) {
		t.Errorf("message:\n%s", c.Message)
	}
	// git diff main berth/live: the drift, and DRIFT.md.
	d := diff(t, repo, main, res.Commit)
	if len(d) != 2 || d["apps/web.yaml"] != strings.Replace(webYAML, "replicas: 3", "replicas: 5", 1) {
		t.Errorf("diff main berth/live: %v", d)
	}
	if !strings.Contains(d["apps/DRIFT.md"], "| Deployment apps/web | `spec.replicas` | `3` | `5` | kubectl-scale (Update) | 2026-11-26T09:00:00Z |") {
		t.Errorf("DRIFT.md:\n%s", d["apps/DRIFT.md"])
	}

	// The user's side is untouched: HEAD on main, same commit, the
	// uncommitted file still there and still untracked.
	head, _ := repo.Head()
	if head.Name() != plumbing.NewBranchReferenceName("main") || head.Hash() != main {
		t.Errorf("HEAD is %s at %s", head.Name(), head.Hash())
	}
	wt, _ := repo.Worktree()
	st, err := wt.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st.File("notes.txt").Worktree != git.Untracked {
		t.Errorf("worktree status changed:\n%s", st)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "apps/web.yaml")); string(b) != webYAML {
		t.Errorf("the working tree's file changed:\n%s", b)
	}

	// The same state again: no new commit.
	again, err := Commit(ctx, repo, Request{Source: main, Ref: "main", Root: "apps", Changes: []Change{scaled(5)}}, cfg)
	if err != nil || again.Created || again.Commit != res.Commit {
		t.Errorf("same state: %+v, %v; want no new commit", again, err)
	}

	// The user commits; a new drift goes on the live branch's history,
	// based on the new commit's files.
	write(t, dir, "README.md", "# apps, v2\n")
	main2 := commitAll(t, repo, "second")
	next, err := Commit(ctx, repo, Request{Source: main2, Ref: "main", Root: "apps", Changes: []Change{scaled(5), imaged("nginx:1.26")}}, cfg)
	if err != nil || !next.Created {
		t.Fatalf("next: %+v, %v", next, err)
	}
	c2, _ := repo.CommitObject(next.Commit)
	if c2.ParentHashes[0] != res.Commit {
		t.Errorf("parent %s, want the previous live commit %s", c2.ParentHashes[0], res.Commit)
	}
	d = diff(t, repo, main2, next.Commit)
	want := strings.NewReplacer("replicas: 3", "replicas: 5", "nginx:1.25", "nginx:1.26").Replace(webYAML)
	if len(d) != 2 || d["apps/web.yaml"] != want {
		t.Errorf("diff main berth/live after the second drift: %v", d)
	}
}

// TestCommitWhileTheUserCommits: recordings while the user commits to
// main all land, in one history, and main stays the user's.
func TestCommitWhileTheUserCommits(t *testing.T) {
	repo, dir, main := userRepo(t)
	ctx := context.Background()
	// The user's git: another handle on the same repository.
	user, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	const recordings = 12
	done := make(chan error, 1)
	go func() {
		for i := range recordings {
			if _, err := Commit(ctx, repo, Request{Source: main, Ref: "main", Changes: []Change{scaled(int64(i + 4))}}, Config{}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	var last plumbing.Hash
	for i := range 6 {
		write(t, dir, "README.md", fmt.Sprintf("# apps %d\n", i))
		last = commitAll(t, user, fmt.Sprint("user ", i))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	head, _ := repo.Head()
	if head.Hash() != last {
		t.Errorf("main is %s, want the user's %s", head.Hash(), last)
	}
	live, _ := repo.Reference(plumbing.NewBranchReferenceName(DefaultBranch), true)
	n := 0
	for h := live.Hash(); h != main; n++ {
		c, err := repo.CommitObject(h)
		if err != nil {
			t.Fatal(err)
		}
		h = c.ParentHashes[0]
	}
	if n != recordings {
		t.Errorf("%d live commits, want %d", n, recordings)
	}
}

// TestCommitRemote: the engine's clone commits and pushes to the remote;
// a fresh clone continues the remote's live history.
func TestCommitRemote(t *testing.T) {
	user, _, main := userRepo(t)
	remoteDir := t.TempDir()
	if _, err := git.PlainInit(remoteDir, true); err != nil {
		t.Fatal(err)
	}
	if _, err := user.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{remoteDir}}); err != nil {
		t.Fatal(err)
	}
	if err := user.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{"refs/heads/main:refs/heads/main"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clone := func() *git.Repository {
		r, err := git.PlainCloneContext(ctx, t.TempDir(), true, &git.CloneOptions{URL: remoteDir, ReferenceName: "refs/heads/main"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	cfg := Config{Remote: "origin", Branch: "berth/live-prod"}
	first, err := Commit(ctx, clone(), Request{Source: main, Ref: "main", Changes: []Change{scaled(5)}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := git.PlainOpen(remoteDir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := remote.Reference("refs/heads/berth/live-prod", true)
	if err != nil || ref.Hash() != first.Commit {
		t.Fatalf("remote berth/live-prod = %v, %v; want %s", ref, err, first.Commit)
	}
	if d := diff(t, remote, main, first.Commit); d["apps/web.yaml"] != strings.Replace(webYAML, "replicas: 3", "replicas: 5", 1) {
		t.Errorf("remote diff: %v", d)
	}
	second, err := Commit(ctx, clone(), Request{Source: main, Ref: "main", Changes: []Change{scaled(7)}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := remote.CommitObject(second.Commit)
	if c == nil || c.ParentHashes[0] != first.Commit {
		t.Errorf("the second live commit does not continue the first: %v", c)
	}
}

// BenchmarkCommit is the cost of recording one drifted object on the live
// branch of a local repository (a new commit each time).
func BenchmarkCommit(b *testing.B) {
	repo, _, main := userRepo(b)
	ctx := context.Background()
	n := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		n++
		if _, err := Commit(ctx, repo, Request{Source: main, Ref: "main", Root: "apps", Changes: []Change{scaled(n)}}, Config{}); err != nil {
			b.Fatal(err)
		}
	}
}
