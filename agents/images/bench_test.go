package images_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/berth-io/berth/agents/images"
	berthruntime "github.com/berth-io/berth/agents/runtime"
)

const helloDir = "../../examples-repo/images/hello"

// BenchmarkBuildGo builds the hello demo image (go build with a warm build
// cache, layer gzip, digests), as `berth images build` does.
func BenchmarkBuildGo(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		img, err := images.BuildGo(ctx, helloDir, images.GoOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := img.Digest(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteTar writes the hello image as an OCI layout tarball.
func BenchmarkWriteTar(b *testing.B) {
	img, err := images.BuildGo(context.Background(), helloDir, images.GoOptions{})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "hello.tar")
	for b.Loop() {
		if err := images.WriteTar(img, "demo/hello:v1", path); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImport imports the hello image into a managed containerd, from a
// tarball and from memory, each time under a new name (content is shared).
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	c, err := berthruntime.Start(ctx, berthruntime.Config{DataDir: b.TempDir(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Stop() })
	img, err := images.BuildGo(ctx, helloDir, images.GoOptions{})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "hello.tar")
	if err := images.WriteTar(img, "demo/hello:v1", path); err != nil {
		b.Fatal(err)
	}
	store, err := images.Open(ctx, c.Address())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	b.Run("file", func(b *testing.B) {
		for b.Loop() {
			if _, err := store.ImportFile(ctx, path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memory", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := store.ImportImage(ctx, fmt.Sprintf("demo/hello:m%d", i), img); err != nil {
				b.Fatal(err)
			}
		}
	})
}
