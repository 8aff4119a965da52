package fetch

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/berth-io/berth/reconciler/gitsync/gittest"
)

func TestFetchResolvesBranchesTagsAndCommits(t *testing.T) {
	r := gittest.Init(t)
	first := r.Write(map[string]string{"a.yaml": "a: 1\n"}).Commit("first")
	if _, err := r.Repo.CreateTag("v1", plumbing.NewHash(first), nil); err != nil {
		t.Fatal(err)
	}
	second := r.Write(map[string]string{"a.yaml": "a: 2\n"}).Commit("second")
	f := New(t.TempDir())
	ctx := context.Background()
	for _, url := range []string{r.Dir, "file://" + r.Dir} {
		for ref, want := range map[string]string{"": second, "main": second, "refs/heads/main": second, "v1": first, "refs/tags/v1": first, first: first} {
			res, err := f.Fetch(ctx, Request{URL: url, Ref: ref})
			if err != nil {
				t.Fatalf("%s ref %q: %v", url, ref, err)
			}
			if got := res.Commit.Hash.String(); got != want {
				t.Errorf("%s ref %q: got %s, want %s", url, ref, got, want)
			}
		}
		if _, err := f.Fetch(ctx, Request{URL: url, Ref: "nope"}); !errors.Is(err, ErrRefNotFound) {
			t.Errorf("%s: a missing ref gives %v, want ErrRefNotFound", url, err)
		}
	}
	// A commit to the remote is seen by the next fetch of the cache.
	third := r.Write(map[string]string{"a.yaml": "a: 3\n"}).Commit("third")
	res, err := f.Fetch(ctx, Request{URL: "file://" + r.Dir, Ref: "main"})
	if err != nil || res.Commit.Hash.String() != third {
		t.Fatalf("after a new commit: %v %v", res, err)
	}
}

func TestFetchUnreachableRemote(t *testing.T) {
	f := New(t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := f.Fetch(ctx, Request{URL: "file://" + filepath.Join(t.TempDir(), "gone"), Ref: "main"})
	if err == nil {
		t.Fatal("fetching a missing repository succeeded")
	}
	_, err = f.Fetch(ctx, Request{URL: "https://user@127.0.0.1:1/x.git", Ref: "main", Credentials: &Credentials{Token: "s3cret-token"}})
	if err == nil {
		t.Fatal("fetching from a closed port succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-token") {
		t.Fatalf("the error shows the token: %v", err)
	}
}

func TestIsAncestorSeesForcePush(t *testing.T) {
	r := gittest.Init(t)
	a := r.Write(map[string]string{"a": "1"}).Commit("a")
	b := r.Write(map[string]string{"a": "2"}).Commit("b")
	f := New(t.TempDir())
	res, err := f.Fetch(context.Background(), Request{URL: r.Dir, Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := IsAncestor(res.Repo, plumbing.NewHash(a), res.Commit); err != nil || !ok {
		t.Fatalf("a is an ancestor of b: %v %v", ok, err)
	}
	r.SetBranch("main", a)
	c := r.Write(map[string]string{"a": "3"}).Commit("c, rewriting history")
	res, err = f.Fetch(context.Background(), Request{URL: r.Dir, Ref: "main"})
	if err != nil || res.Commit.Hash.String() != c {
		t.Fatal(err)
	}
	if ok, err := IsAncestor(res.Repo, plumbing.NewHash(b), res.Commit); err != nil || ok {
		t.Fatalf("b is not in c's history after the force-push: %v %v", ok, err)
	}
}

// TestWatchRefsSeesACommitQuickly commits with the git command line, as a
// user does, and measures how soon the watch fires.
func TestWatchRefsSeesACommitQuickly(t *testing.T) {
	r := gittest.Init(t)
	r.Write(map[string]string{"a": "1"}).Commit("first")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fired := make(chan time.Time, 100)
	if err := WatchRefs(ctx, r.Dir, func() {
		select {
		case fired <- time.Now():
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", r.Dir, "-c", "user.name=T", "-c", "user.email=t@e"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	for _, step := range []struct {
		name string
		args []string
	}{
		{"commit", []string{"commit", "--allow-empty", "-m", "second"}},
		{"tag", []string{"tag", "v1"}},
		{"branch in a namespace", []string{"branch", "feature/x"}},
		{"commit on the new branch", []string{"update-ref", "refs/heads/feature/x", "HEAD~1"}},
		{"pack refs", []string{"pack-refs", "--all"}},
	} {
		for len(fired) > 0 {
			<-fired
		}
		start := time.Now()
		git(step.args...)
		select {
		case at := <-fired:
			t.Logf("%s: notified %v after git started", step.name, at.Sub(start))
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: no notification", step.name)
		}
	}
}
