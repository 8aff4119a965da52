package policies

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// roleYAML grants alice list on pods in team-a (with bindingYAML).
const roleYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team-a}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
`

const readerBindingYAML = `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-readers, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
`

func TestStoreSetSource(t *testing.T) {
	s, err := NewStore(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	allowed := func() bool { ok, _ := s.Authorize(alicePods); return ok }
	if allowed() {
		t.Fatal("alice may list pods before any source")
	}
	gen := s.Status().Generation

	// A valid source takes effect at once.
	good := map[string][]byte{"policies/team-a.yaml": []byte(roleYAML + "---\n" + readerBindingYAML)}
	if err := s.SetSource("gitsource apps/web", good); err != nil {
		t.Fatal(err)
	}
	if !allowed() {
		t.Fatal("alice may not list pods after the source granted it")
	}
	st := s.Status()
	if st.Generation != gen+1 || len(st.Sources) != 1 || st.Sources[0].Name != "gitsource apps/web" || st.Sources[0].Files[0] != "policies/team-a.yaml" {
		t.Fatalf("status %+v", st)
	}
	var found bool
	for _, r := range s.Objects().Roles {
		found = found || (r.Name == "pod-reader" && r.Annotations[SourceAnnotation] == "policies/team-a.yaml:1")
	}
	if !found {
		t.Error("the Role is not served with its source file:line")
	}

	// A broken update is refused with file:line; the last good files stay.
	broken := map[string][]byte{"policies/team-a.yaml": []byte(strings.Replace(roleYAML, `verbs: ["list"]`, `verbs: ["list"]`+"\n  bogus: 1", 1))}
	err = s.SetSource("gitsource apps/web", broken)
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) == 0 || le.Problems[0].File != "policies/team-a.yaml" || le.Problems[0].Line != 8 {
		t.Fatalf("broken update: %v", err)
	}
	if !allowed() || s.Status().Generation != gen+1 {
		t.Fatal("a broken update changed the policy in force")
	}
	st = s.Status()
	if len(st.Sources[0].Errors) == 0 || st.Sources[0].RefusedAt.IsZero() || !strings.Contains(st.Sources[0].Errors[0].String(), "policies/team-a.yaml:8") {
		t.Errorf("the refusal is not in the status: %+v", st.Sources[0])
	}

	// A duplicate of another source's object is that update's error.
	err = s.SetSource("gitsource apps/other", map[string][]byte{"policies/dup.yaml": []byte(roleYAML)})
	if !errors.As(err, &le) || !strings.Contains(le.Error(), "duplicate") || !allowed() {
		t.Fatalf("duplicate: %v", err)
	}

	// The next good update clears the errors; removing the grant revokes it.
	if err := s.SetSource("gitsource apps/web", map[string][]byte{"policies/team-a.yaml": []byte(roleYAML)}); err != nil {
		t.Fatal(err)
	}
	if allowed() || len(s.Status().Sources[1].Errors) != 0 {
		t.Fatalf("after removing the binding: allowed %v, status %+v", allowed(), s.Status().Sources)
	}
	if err := s.SetSource("gitsource apps/web", good); err != nil || !allowed() {
		t.Fatalf("grant again: %v", err)
	}
	if err := s.RemoveSource("gitsource apps/web"); err != nil || allowed() {
		t.Fatalf("after RemoveSource: %v, allowed %v", err, allowed())
	}
	if names := s.SourceNames(); len(names) != 0 {
		t.Errorf("sources left: %v", names)
	}
}

func TestStoreSetSourceRefusesBadPaths(t *testing.T) {
	s, err := NewStore(Config{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	err = s.SetSource("x", map[string][]byte{"../escape.yaml": []byte(roleYAML)})
	if err == nil || !strings.Contains(err.Error(), "../escape.yaml") {
		t.Errorf("error %v", err)
	}
}
