package policies

import (
	"bytes"
	"testing"
)

// FuzzDecodeFile checks that no input panics the decoder, that every
// problem points at a line of the file, and that every decoded object
// passed strict decoding.
func FuzzDecodeFile(f *testing.F) {
	for _, seed := range []string{
		testPolicy,
		userRoleBindings,
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: x\nrules:\n- verbs: [get\n",
		"---\n--- # c\n---x\n- a\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: &m {name: a}\nrules: *m\n",
		"{\"apiVersion\": \"rbac.authorization.k8s.io/v1\", \"kind\": \"RoleBinding\", \"subjects\": [{\"kind\": 1}]}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		docs, problems := decodeFile(file{name: "f.yaml", data: data})
		for _, p := range problems {
			if p.File != "f.yaml" || p.Line < 1 || p.Line > lines || p.Message == "" {
				t.Errorf("problem %#v out of the file's %d lines", p, lines)
			}
		}
		for _, d := range docs {
			if d.obj == nil || d.kind == "" {
				t.Errorf("document without an object: %#v", d)
			}
		}
	})
}
