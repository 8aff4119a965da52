package policies

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	rbacv1 "k8s.io/api/rbac/v1"
)

const bindingYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewers, namespace: team-a}
roleRef: {kind: ClusterRole, name: view}
subjects: [{kind: User, name: alice}]
`

// alicePods is what bindingYAML allows.
var alicePods = res("alice", []string{"system:authenticated"}, "list", "", "pods", "team-a", "")

// startStore starts a Store on dirs and runs it until the test ends.
func startStore(t *testing.T, reg prometheus.Registerer, dirs ...string) *Store {
	t.Helper()
	s, err := NewStore(Config{Dirs: dirs, Metrics: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Resync: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

// eventually polls cond every 10ms until it holds or within has passed.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// metricValue gathers reg and returns the value of the metric name, with
// label result when result is not empty.
func metricValue(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if result != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != result) {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s{result=%q}", name, result)
	return 0
}

func allowed(s *Store, a Attributes) bool {
	ok, _ := s.Authorize(a)
	return ok
}

// writeAtomically writes as editors do: a temporary file renamed over the
// target.
func writeAtomically(t *testing.T, p, text string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(p), ".tmp-"+filepath.Base(p))
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

func TestStoreHotReload(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewRegistry()
	s := startStore(t, reg, dir)
	if allowed(s, alicePods) {
		t.Fatal("allowed before any binding")
	}

	// A new binding is in force within a second.
	file := filepath.Join(dir, "team-a.yaml")
	writeFiles(t, dir, map[string]string{"team-a.yaml": bindingYAML})
	eventually(t, time.Second, "new binding allows", func() bool { return allowed(s, alicePods) })
	good := s.Status().Generation

	// A broken file keeps the last good set and reports file:line.
	writeAtomically(t, file, bindingYAML+"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n")
	eventually(t, 5*time.Second, "broken file reported", func() bool { return len(s.Status().Errors) > 0 })
	st := s.Status()
	if want := file + `:9: Role "r": metadata.namespace: Required value`; len(st.Errors) != 1 || st.Errors[0].String() != want {
		t.Errorf("Status().Errors = %v, want [%s]", st.Errors, want)
	}
	if st.Generation != good {
		t.Errorf("generation moved from %d to %d on a failed load", good, st.Generation)
	}
	if !allowed(s, alicePods) {
		t.Error("a broken file dropped the last good policy")
	}
	var le *LoadError
	if err := s.Reload(); !errors.As(err, &le) {
		t.Errorf("Reload of unchanged broken files = %v, want the *LoadError", err)
	}
	for _, m := range []struct {
		name, result string
		want         float64
	}{
		{"berth_policy_load_errors", "", 1},
		{"berth_policy_reload_total", "failure", 1},
		{"berth_policy_reload_total", "success", 2},
	} {
		if got := metricValue(t, reg, m.name, m.result); got != m.want {
			t.Errorf("%s{result=%q} = %v, want %v", m.name, m.result, got, m.want)
		}
	}

	// Fixing it reloads.
	writeAtomically(t, file, strings.ReplaceAll(bindingYAML, "alice", "bob"))
	eventually(t, 5*time.Second, "fixed file loaded", func() bool { return len(s.Status().Errors) == 0 })
	if allowed(s, alicePods) {
		t.Error("alice still allowed after the binding changed to bob")
	}
	if st := s.Status(); st.Generation != good+1 || st.LoadedAt.IsZero() {
		t.Errorf("after the fix: generation %d (want %d), loaded at %v", st.Generation, good+1, st.LoadedAt)
	}
	if v := metricValue(t, reg, "berth_policy_last_success_timestamp_seconds", ""); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("berth_policy_last_success_timestamp_seconds = %v", v)
	}

	// Removing the file removes the grant.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "removed binding denies", func() bool {
		return !allowed(s, res("bob", nil, "list", "", "pods", "team-a", ""))
	})
}

func TestStoreWatchesNewSubdirectories(t *testing.T) {
	dir := t.TempDir()
	s := startStore(t, nil, dir)
	writeFiles(t, dir, map[string]string{"teams/a/binding.yaml": bindingYAML})
	eventually(t, 5*time.Second, "binding in a new subdirectory allows", func() bool { return allowed(s, alicePods) })
	// The new directory is watched: a change inside it is seen.
	writeAtomically(t, filepath.Join(dir, "teams/a/binding.yaml"), strings.ReplaceAll(bindingYAML, "alice", "bob"))
	eventually(t, 5*time.Second, "change in the subdirectory applies", func() bool { return !allowed(s, alicePods) })
}

func TestStoreStartsWithBootstrapWhenDirsAreBroken(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": bindingYAML, "b.yaml": "kind: [\n"})
	s := startStore(t, nil, dir)
	st := s.Status()
	if st.Generation != 1 || len(st.Errors) != 1 || !strings.HasPrefix(st.Errors[0].String(), filepath.Join(dir, "b.yaml")+":1: ") {
		t.Fatalf("Status = %+v, want generation 1 with the error of b.yaml", st)
	}
	if allowed(s, alicePods) {
		t.Error("a valid file of a broken directory was applied")
	}
	if !allowed(s, res("system:kube-scheduler", nil, "list", "", "pods", "", "")) {
		t.Error("the bootstrap policy is not in force")
	}
	if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "fixed directory applies", func() bool { return allowed(s, alicePods) })
}

func TestStoreResyncFindsALateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	s := startStore(t, nil, dir)
	if errs := s.Status().Errors; len(errs) != 1 || errs[0].File != dir {
		t.Fatalf("Status().Errors = %v, want the missing directory", errs)
	}
	writeFiles(t, dir, map[string]string{"a.yaml": bindingYAML})
	eventually(t, 5*time.Second, "directory created after the start applies", func() bool { return allowed(s, alicePods) })
}

func TestStoreAddDir(t *testing.T) {
	s := startStore(t, nil)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": bindingYAML})
	if err := s.AddDir(dir); err != nil {
		t.Fatal(err)
	}
	if !allowed(s, alicePods) {
		t.Fatal("AddDir did not load the directory")
	}
	if got := s.Status().Dirs; len(got) != 1 || got[0] != dir {
		t.Errorf("Status().Dirs = %v", got)
	}
	writeAtomically(t, filepath.Join(dir, "a.yaml"), strings.ReplaceAll(bindingYAML, "alice", "bob"))
	eventually(t, 5*time.Second, "added directory is watched", func() bool { return !allowed(s, alicePods) })

	broken := t.TempDir()
	writeFiles(t, broken, map[string]string{"x.yaml": "kind: [\n"})
	var le *LoadError
	if err := s.AddDir(broken); !errors.As(err, &le) {
		t.Errorf("AddDir(broken) = %v, want a *LoadError", err)
	}
}

func TestStoreObjects(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": bindingYAML})
	s, err := NewStore(Config{Dirs: []string{dir}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	viewers := func(o Objects) *rbacv1.RoleBinding {
		for _, rb := range o.RoleBindings {
			if rb.Namespace == "team-a" && rb.Name == "viewers" {
				return rb
			}
		}
		t.Fatalf("no RoleBinding team-a/viewers in %v", o.RoleBindings)
		return nil
	}
	first := s.Objects()
	if first.ResourceVersion != "1" || len(first.ClusterRoles) != 12 {
		t.Fatalf("Objects = rv %q, %d clusterroles, want rv 1 with the 12 bootstrap ClusterRoles", first.ResourceVersion, len(first.ClusterRoles))
	}
	rb := viewers(first)
	if rb.ResourceVersion != "1" || rb.UID == "" || rb.Annotations[SourceAnnotation] != filepath.Join(dir, "a.yaml")+":1" {
		t.Errorf("RoleBinding meta = %+v", rb.ObjectMeta)
	}
	writeFiles(t, dir, map[string]string{"a.yaml": "# changed\n" + bindingYAML})
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	second := s.Objects()
	if second.ResourceVersion != "2" || viewers(second).ResourceVersion != "2" {
		t.Errorf("after a reload: resourceVersion %q", second.ResourceVersion)
	}
	if viewers(second).UID != rb.UID {
		t.Error("UID changed across reloads")
	}
	if rb.ResourceVersion != "1" {
		t.Error("a reload modified the objects of the previous generation")
	}
	if err := s.Reload(); err != nil || s.Objects().ResourceVersion != "2" {
		t.Errorf("reloading unchanged files: err %v, resourceVersion %q, want no new generation", err, s.Objects().ResourceVersion)
	}
}
