package diff

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-io/berth/reconciler/gitsync/diff/difftest"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/*/want.*")

// TestGolden compares every fixture of testdata (base → head) in every
// format with its golden files; -update rewrites them.
func TestGolden(t *testing.T) {
	fixtures, err := filepath.Glob("testdata/*/base")
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, base := range fixtures {
		dir := filepath.Dir(base)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			repoDir := difftest.FixtureRepo(t, dir)
			res, err := Repo{Dir: repoDir, Base: "HEAD~1", Head: "HEAD"}.Compare(Options{})
			if err != nil {
				t.Fatal(err)
			}
			for format, file := range map[Format]string{FormatText: "want.txt", FormatMarkdown: "want.md", FormatJSON: "want.json"} {
				var out bytes.Buffer
				if err := Write(&out, res, format, false); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join(dir, file), out.Bytes())
			}
			var colored bytes.Buffer
			if err := Write(&colored, res, FormatText, true); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(colored.String(), "\x1b[31m") {
				t.Errorf("the coloured text has no red")
			}
		})
	}
}

func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil && !errorsIsNotExist(err) {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test -run TestGolden -update rewrites it):\n%s", file, got)
	}
}

func errorsIsNotExist(err error) bool {
	return err != nil && os.IsNotExist(err) || err == fs.ErrNotExist
}
