package policies

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// mustLoad loads files (name → YAML) as one Source, failing on any error.
func mustLoad(t testing.TB, files map[string]string) *Set {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	set, err := LoadSources(Source{Name: "test", FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// writeFiles writes files (relative name → content) below dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
