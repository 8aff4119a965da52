package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-io/berth/agents/runtime"
)

func TestImagesBuildThenImportIntoTheAgentsContainerd(t *testing.T) {
	dataDir := t.TempDir()
	c, err := runtime.Start(context.Background(), runtime.Config{DataDir: dataDir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })

	tarball := filepath.Join(t.TempDir(), "worker-v1.tar")
	res := runBerth(t, "", "images", "build", "../../examples-repo/images/worker", "-t", "demo/worker:v1", "-o", tarball)
	if res.code != 0 || !strings.Contains(res.stdout, "built docker.io/demo/worker:v1 (sha256:") || !strings.Contains(res.stdout, "wrote "+tarball) {
		t.Fatalf("images build: %s", res)
	}
	res = runBerth(t, "", "images", "import", "--data-dir", dataDir, tarball)
	if res.code != 0 || !strings.Contains(res.stdout, "imported docker.io/demo/worker:v1 from "+tarball) {
		t.Fatalf("images import: %s", res)
	}
}

func TestImagesUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"images", "build", "../../examples-repo/images/worker"},
		{"images", "build", "-t", "demo/x:v1"},
		{"images", "build", "../../examples-repo/images/worker", "-t", "Not A Ref"},
		{"images", "import"},
		{"images", "import", "--no-such-flag", "x.tar"},
	} {
		if res := runBerth(t, "", args...); res.code != 2 {
			t.Errorf("berth %s: %s; want exit 2", strings.Join(args, " "), res)
		}
	}
	res := runBerth(t, "", "images", "import", "--data-dir", t.TempDir(), "x.tar")
	if res.code != 1 || !strings.Contains(res.stderr, "is berth agent running") {
		t.Errorf("import without a containerd: %s", res)
	}
}
