package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-io/berth/reconciler/gitsync/diff/difftest"
)

// diffFixture is berth diff's fixture: a base and a head revision.
const diffFixture = "../../reconciler/gitsync/diff/testdata/pr"

func TestDiffExitCodes(t *testing.T) {
	repo := difftest.FixtureRepo(t, diffFixture)
	// An uncommitted change in the work tree, which is the default head.
	edited := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(edited, os.DirFS(repo)); err != nil {
		t.Fatal(err)
	}
	cm := filepath.Join(edited, "apps/hello/configmap.yaml")
	data, err := os.ReadFile(cm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cm, []byte(strings.Replace(string(data), "greeting: hello", "greeting: bonjour", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	notRepo := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		out  []string // lines the output must have
	}{
		{[]string{"--base", "HEAD~1", "--head", "HEAD"}, 1, []string{
			"WOULD DELETE (1):", "- ConfigMap demo/old-settings  (apps/old/configmap.yaml)", "would change (1):", "would add (5):",
			"User alice loses create, get, update on deployments.apps in namespace demo",
			"1 to delete, 1 to change, 5 to add (2 unchanged); 3 permission changes; requests +6200m CPU, +3328Mi memory; 0 errors, 1 warning",
		}},
		// The default base is main (no origin here), the default head the
		// work tree: nothing uncommitted, no change.
		{nil, 0, []string{"berth diff main (30da83d) → working tree", "0 to delete, 0 to change, 0 to add (8 unchanged); 0 permission changes; requests 0 CPU, 0 memory; 0 errors, 1 warning"}},
		{[]string{"--base", "HEAD", "--head", "HEAD"}, 0, []string{"0 to delete, 0 to change, 0 to add (8 unchanged); 0 permission changes; requests 0 CPU, 0 memory; 0 errors, 1 warning"}},
		{[]string{"--path", "apps/hello", "--base", "HEAD~1", "--head", "HEAD"}, 1, []string{"0 to delete, 1 to change, 1 to add (1 unchanged); 0 permission changes; requests +200m CPU, +256Mi memory; 0 errors, 2 warnings"}},
		{[]string{"--repo", edited, "--base", "HEAD"}, 1, []string{"berth diff HEAD (30da83d) → working tree", "-  greeting: hello", "+  greeting: bonjour"}},
		{[]string{"-o", "yaml"}, 2, nil},
		{[]string{"--base", "no-such-branch"}, 2, nil},
		{[]string{"--repo", notRepo}, 2, nil},
		{[]string{"--color", "sometimes"}, 2, nil},
		{[]string{"--base", "HEAD", "--kubeconfig", kubeconfig}, 2, nil},
		{[]string{"extra-argument"}, 2, nil},
	} {
		args := append([]string{"diff", "--repo", repo}, tc.args...)
		res := runBerth(t, "", args...)
		if res.code != tc.code {
			t.Errorf("berth %s: %s; want exit %d", strings.Join(args, " "), res, tc.code)
			continue
		}
		if tc.out != nil {
			wantLines(t, "berth "+strings.Join(args, " "), res.stdout, tc.out...)
		}
		if tc.code == 2 && res.stderr == "" {
			t.Errorf("berth %s: exit 2 without saying why", strings.Join(args, " "))
		}
		if strings.Contains(res.stdout, "\x1b[") {
			t.Errorf("berth %s: colour in output that is not a terminal", strings.Join(args, " "))
		}
	}
}

func TestDiffFormats(t *testing.T) {
	repo := difftest.FixtureRepo(t, diffFixture)
	base := []string{"diff", "--repo", repo, "--base", "HEAD~1", "--head", "HEAD"}
	res := runBerth(t, "", append(base, "-o", "json")...)
	var doc struct {
		Summary struct {
			Deleted, Changed, Added, RBACChanges int
			Changes                              bool
		} `json:"summary"`
		Objects []struct {
			Change, Kind, Name, Diff string
		} `json:"objects"`
	}
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || res.code != 1 {
		t.Fatalf("-o json: %v\n%s", err, res)
	}
	if s := doc.Summary; s.Deleted != 1 || s.Changed != 1 || s.Added != 5 || s.RBACChanges != 3 || !s.Changes || doc.Objects[0].Change != "deleted" {
		t.Errorf("-o json: %+v", doc)
	}
	res = runBerth(t, "", append(base, "-o", "markdown")...)
	for _, want := range []string{"> **1 object would be deleted:** `ConfigMap demo/old-settings`", "<details><summary>change <code>Deployment demo/hello</code></summary>", "```diff\n", "+  replicas: 4\n"} {
		if res.code != 1 || !strings.Contains(res.stdout, want) {
			t.Errorf("-o markdown has no %q:\n%s", want, res)
		}
	}
	res = runBerth(t, "", append(base, "--color", "always")...)
	if res.code != 1 || !strings.Contains(res.stdout, "\x1b[31m\x1b[1mWOULD DELETE (1):\x1b[0m") {
		t.Errorf("--color always:\n%s", res)
	}
}

// TestDiffLive compares the fixture's head with the test API server: for a
// source that applied nothing yet, everything is added and nothing pruned.
func TestDiffLive(t *testing.T) {
	repo := difftest.FixtureRepo(t, diffFixture)
	res := runBerth(t, "", "diff", "--repo", repo, "--head", "HEAD", "--kubeconfig", kubeconfig, "--source", "kube-system/diff-test", "-o", "json")
	var doc struct {
		Base    struct{ Rev string }
		Live    bool
		Summary struct{ Deleted, Added, Errors int }
	}
	if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil || res.code != 1 {
		t.Fatalf("berth diff --kubeconfig: %v\n%s", err, res)
	}
	if !doc.Live || doc.Base.Rev != "cluster" || doc.Summary.Deleted != 0 || doc.Summary.Added < 5 || doc.Summary.Errors != 0 {
		t.Errorf("berth diff --kubeconfig: %+v\n%s", doc, res.stdout)
	}
}
