package gitsync

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/reconciler/gitsync/gittest"
)

// TestUnreachableRemoteAndForcePushKeepTheAppliedState syncs a remote
// (file://, fetched into the cache) that disappears, comes back, and has
// its history rewritten.
func TestUnreachableRemoteAndForcePushKeepTheAppliedState(t *testing.T) {
	e := startEnv(t)
	repo := gittest.Init(t)
	c1 := repo.Write(map[string]string{"namespace.yaml": nsYAML, "config.yaml": configMap("one")}).Commit("one")
	c2 := repo.Write(map[string]string{"config.yaml": configMap("two")}).Commit("two")
	e.createSource("remote", berthv1alpha1.GitSourceSpec{URL: "file://" + repo.Dir, Ref: "main", ServiceAccountName: "deployer",
		Interval: &metav1.Duration{Duration: time.Second}})
	e.waitSource("remote", 10*time.Second, "the remote's commit", appliedAndReady(c2))

	// The remote goes away: the status says so, the cluster keeps commit two.
	moved := repo.Dir + ".moved"
	if err := os.Rename(repo.Dir, moved); err != nil {
		t.Fatal(err)
	}
	gs := e.waitSource("remote", 10*time.Second, "the fetch failure in status", func(gs *berthv1alpha1.GitSource) bool {
		c := gs.Status.Condition(berthv1alpha1.ConditionSynced)
		return c != nil && c.Reason == ReasonFetchFailed
	})
	if gs.Status.LastAppliedCommit != c2 || !strings.Contains(gs.Status.Condition(berthv1alpha1.ConditionSynced).Message, "keeping commit "+c2[:7]) {
		t.Fatalf("status while unreachable: %s", describe(gs))
	}
	e.expectGreeting(t, "two")

	// It comes back with a webhook's trigger, rewritten: one + three, without two.
	if err := os.Rename(moved, repo.Dir); err != nil {
		t.Fatal(err)
	}
	repo.SetBranch("main", c1)
	c3 := repo.Write(map[string]string{"config.yaml": configMap("three")}).Commit("three, rewriting history")
	e.ctl.Trigger("gitops", "remote")
	gs = e.waitSource("remote", 10*time.Second, "the force-push in status", func(gs *berthv1alpha1.GitSource) bool {
		c := gs.Status.Condition(berthv1alpha1.ConditionSynced)
		return c != nil && c.Reason == ReasonForcePushed && gs.Status.LastFetchedCommit == c3
	})
	if gs.Status.LastFetchedCommit != c3 || gs.Status.LastAppliedCommit != c2 {
		t.Fatalf("status after the force-push (c1 %s c2 %s c3 %s): %s", c1, c2, c3, describe(gs))
	}
	e.expectGreeting(t, "two")

	// Accepting the new history applies it.
	patch := `{"metadata":{"annotations":{"` + AcceptForcePushAnnotation + `":"` + c3[:12] + `"}}}`
	if _, err := e.dyn.Resource(berthv1alpha1.GitSourcesResource).Namespace("gitops").Patch(context.Background(), "remote", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSource("remote", 10*time.Second, "the accepted rewrite", appliedAndReady(c3))
	e.expectGreeting(t, "three")

	// Without a trigger: a file:// remote on this machine has its refs
	// watched as well (and the 1s interval would fetch it anyway).
	c4 := repo.Write(map[string]string{"config.yaml": configMap("four")}).Commit("four")
	start := time.Now()
	e.waitSource("remote", 10*time.Second, "commit four", appliedAndReady(c4))
	t.Logf("a file:// commit was applied %v after it was made", time.Since(start))
	e.expectGreeting(t, "four")

	// A ref that does not exist keeps the state too.
	u := e.source("remote")
	u.Spec.Ref = "no-such-branch"
	e.updateSpec(u)
	gs = e.waitSource("remote", 10*time.Second, "the missing ref in status", func(gs *berthv1alpha1.GitSource) bool {
		c := gs.Status.Condition(berthv1alpha1.ConditionSynced)
		return c != nil && c.Reason == ReasonRefNotFound
	})
	if gs.Status.LastAppliedCommit != c4 {
		t.Fatalf("status with a missing ref: %s", describe(gs))
	}
	e.expectGreeting(t, "four")
}

func (e *env) expectGreeting(t *testing.T, want string) {
	t.Helper()
	cm, err := e.Admin.CoreV1().ConfigMaps("web").Get(context.Background(), "site", metav1.GetOptions{})
	if err != nil || cm.Data["greeting"] != want {
		t.Fatalf("greeting is %v (%v), want %q", cm.Data, err, want)
	}
}

// TestPushTriggeredSyncLatency commits with the git command line, as a
// user does, and measures commit → object applied.
func TestPushTriggeredSyncLatency(t *testing.T) {
	e := startEnv(t)
	repo := gittest.Init(t)
	c1 := repo.Write(map[string]string{"namespace.yaml": nsYAML, "config.yaml": configMap("v0")}).Commit("first")
	e.createSource("fast", berthv1alpha1.GitSourceSpec{URL: repo.Dir, ServiceAccountName: "deployer", Interval: &metav1.Duration{Duration: time.Hour}})
	e.waitSource("fast", 10*time.Second, "the first commit", appliedAndReady(c1))
	ctx := context.Background()
	var took []time.Duration
	for i := 1; i <= 5; i++ {
		want := "v" + string(rune('0'+i))
		if err := os.WriteFile(repo.Dir+"/config.yaml", []byte(configMap(want)), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		cmd := exec.Command("git", "-C", repo.Dir, "-c", "user.name=T", "-c", "user.email=t@e", "commit", "-qam", want)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git commit: %v\n%s", err, out)
		}
		waitFor(t, 5*time.Second, "commit "+want+" to be applied", func() (bool, error) {
			cm, err := e.Admin.CoreV1().ConfigMaps("web").Get(ctx, "site", metav1.GetOptions{})
			return err == nil && cm.Data["greeting"] == want, err
		})
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("git commit → applied (interval 1h, so by the ref watch): %v", took)
	if p50 := took[len(took)/2]; p50 > time.Second {
		t.Fatalf("median commit → applied is %v, want < 1s", p50)
	}
}
