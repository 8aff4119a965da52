package manifest

import (
	"strings"
	"testing"
)

// FuzzDecodeFile: any input gives objects or errors, never a panic, and
// every object has Raw JSON and a position in the file.
func FuzzDecodeFile(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: yes\n",
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n",
		"a: &x [*x]\n",
		"a: &a [b]\nb: &b [*a, *a]\nc: [*b, *b]\n",
		"---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"Namespace\"}\n",
		"<<: {apiVersion: v1}\nkind: Namespace\n",
		"? [a]\n: b\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, name: y}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, errs := decodeFile("f.yaml", data)
		for _, o := range objs {
			if len(o.Raw) == 0 || o.Pos.File != "f.yaml" || o.Pos.Line < 1 || o.GVK.Kind == "" {
				t.Fatalf("object %v: raw %q, pos %v", o, o.Raw, o.Pos)
			}
			_ = o.FieldPosition("metadata.name")
			_ = o.FieldPosition("spec.containers[0].image")
		}
		for _, e := range errs {
			if e.Pos.File != "f.yaml" || e.Message == "" {
				t.Fatalf("error without a place or a message: %+v", e)
			}
		}
	})
}

func TestRecursiveAliasIsAnError(t *testing.T) {
	_, errs := decodeFile("f.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: &x {a: *x}\n"))
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "f.yaml:") {
		t.Fatalf("errors = %v", errs)
	}
}
