package images_test

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/berth-io/berth/agents/images"
	berthruntime "github.com/berth-io/berth/agents/runtime"
)

// layerFiles reads the single layer of img: path → content (links as "-> target", dirs as "/").
func layerFiles(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			files[h.Name] = "/"
		case tar.TypeSymlink:
			files[h.Name] = "-> " + h.Linkname
		default:
			b, _ := io.ReadAll(tr)
			files[h.Name] = string(b)
		}
	}
}

func TestFromFilesMakesAOneLayerOCIImage(t *testing.T) {
	src := filepath.Join(t.TempDir(), "tool")
	os.WriteFile(src, []byte("#!tool"), 0o755)
	files := []images.File{
		{Path: "/bin/tool", Source: src},
		{Path: "/bin/t", Linkname: "tool"},
		{Path: "etc/motd", Data: []byte("hi\n"), Mode: 0o644},
	}
	cfg := images.Config{Entrypoint: []string{"/bin/tool"}, Cmd: []string{"-v"}, Env: []string{"A=1"}, WorkingDir: "/etc"}
	img, err := images.FromFiles(files, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("invalid image: %v", err)
	}
	want := map[string]string{"bin/": "/", "bin/tool": "#!tool", "bin/t": "-> tool", "etc/": "/", "etc/motd": "hi\n"}
	if got := layerFiles(t, img); !reflect.DeepEqual(got, want) {
		t.Errorf("layer = %q, want %q", got, want)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	m, _ := img.Manifest()
	if m.Config.MediaType != types.OCIConfigJSON || m.Layers[0].MediaType != types.OCILayer {
		t.Errorf("config/layer media types %s, %s", m.Config.MediaType, m.Layers[0].MediaType)
	}
	cf, _ := img.ConfigFile()
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, cfg.Entrypoint) || !reflect.DeepEqual(cf.Config.Cmd, cfg.Cmd) || cf.Config.WorkingDir != "/etc" {
		t.Errorf("config %+v", cf.Config)
	}
	if wantEnv := []string{images.DefaultPath, "A=1"}; !reflect.DeepEqual(cf.Config.Env, wantEnv) {
		t.Errorf("env %q, want %q", cf.Config.Env, wantEnv)
	}
	again, _ := images.FromFiles(files, cfg)
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("same inputs, different digests: %s, %s", d1, d2)
	}
}

func TestFromFilesRefusesDuplicatesAndMissingSources(t *testing.T) {
	if _, err := images.FromFiles([]images.File{{Path: "/a", Data: []byte("1")}, {Path: "a", Data: []byte("2")}}, images.Config{}); err == nil {
		t.Error("a path listed twice was accepted")
	}
	if _, err := images.FromFiles([]images.File{{Path: "/a", Source: "/nonexistent/file"}}, images.Config{}); err == nil || !strings.Contains(err.Error(), "/nonexistent/file") {
		t.Errorf("missing source: %v", err)
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"demo/hello:v1":            "docker.io/demo/hello:v1",
		"busybox":                  "docker.io/library/busybox:latest",
		"localhost/pause:v1":       "localhost/pause:v1",
		"registry.example:5000/x":  "registry.example:5000/x:latest",
		"docker.io/demo/hello:v1":  "docker.io/demo/hello:v1",
		"localhost/busybox:latest": "localhost/busybox:latest",
	} {
		if got, err := images.NormalizeRef(in); err != nil || got != want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := images.NormalizeRef("Bad Ref"); err == nil {
		t.Error("NormalizeRef accepted \"Bad Ref\"")
	}
}

// untar extracts a tarball into a new directory.
func untar(t *testing.T, r io.Reader) string {
	t.Helper()
	dir := t.TempDir()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteIsAnOCILayoutNamedForContainerd(t *testing.T) {
	img, err := images.FromFiles([]images.File{{Path: "/x", Data: []byte("x")}}, images.Config{Entrypoint: []string{"/x"}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := images.Write(&buf, "demo/x:v2", img); err != nil {
		t.Fatal(err)
	}
	dir := untar(t, &buf)
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("not an OCI layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("index: %+v, %v", im, err)
	}
	desc := im.Manifests[0]
	if desc.Annotations[images.NameAnnotation] != "docker.io/demo/x:v2" || desc.Annotations["org.opencontainers.image.ref.name"] != "v2" {
		t.Errorf("annotations %v", desc.Annotations)
	}
	if desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != runtime.GOARCH {
		t.Errorf("platform %+v", desc.Platform)
	}
	back, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(back); err != nil {
		t.Fatalf("image read back is invalid: %v", err)
	}
	want, _ := img.Digest()
	if desc.Digest != want {
		t.Errorf("digest %s, want %s", desc.Digest, want)
	}
}

func TestBuildGoMakesAStaticEntrypoint(t *testing.T) {
	img, err := images.BuildGo(context.Background(), "../../examples-repo/images/worker", images.GoOptions{Env: []string{"WORK_SECONDS=1"}})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	if !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/app/worker"}) || cf.Config.WorkingDir != "/" {
		t.Errorf("config %+v", cf.Config)
	}
	if len(cf.Config.Env) != 2 || !strings.HasPrefix(cf.Config.Env[0], "PATH=/app:") || cf.Config.Env[1] != "WORK_SECONDS=1" {
		t.Errorf("env %q", cf.Config.Env)
	}
	bin := layerFiles(t, img)["app/worker"]
	f, err := elf.NewFile(strings.NewReader(bin))
	if err != nil {
		t.Fatalf("app/worker is not an ELF binary: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("app/worker is dynamically linked")
		}
	}
	if _, err := images.BuildGo(context.Background(), t.TempDir(), images.GoOptions{}); err == nil || !strings.Contains(err.Error(), "go build") {
		t.Errorf("BuildGo of an empty dir: %v, want the go build error", err)
	}
}

func TestImportIntoContainerdFromFileAndFromMemory(t *testing.T) {
	ctx := context.Background()
	c, err := berthruntime.Start(ctx, berthruntime.Config{DataDir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	img, err := images.FromFiles([]images.File{{Path: "/x", Data: []byte("x")}}, images.Config{Entrypoint: []string{"/x"}})
	if err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "x.tar")
	if err := images.WriteTar(img, "demo/x:v1", tarball); err != nil {
		t.Fatal(err)
	}
	names, err := images.Import(ctx, c.Address(), tarball)
	if err != nil || !reflect.DeepEqual(names, []string{"docker.io/demo/x:v1"}) {
		t.Fatalf("Import = %q, %v", names, err)
	}
	store, err := images.Open(ctx, c.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	name, err := store.ImportImage(ctx, "localhost/x:mem", img)
	if err != nil || name != "localhost/x:mem" {
		t.Fatalf("ImportImage = %q, %v", name, err)
	}
	for ref, want := range map[string]bool{"demo/x:v1": true, "localhost/x:mem": true, "demo/x:v2": false} {
		if has, err := store.Has(ctx, ref); err != nil || has != want {
			t.Errorf("Has(%s) = %v, %v; want %v", ref, has, err, want)
		}
	}
}
