package images

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// GoOptions tune BuildGo.
type GoOptions struct {
	// Name is the binary's name in the image (/app/NAME); default: the base
	// name of the package directory.
	Name string
	// GoBinary is the go command; default: "go" from PATH.
	GoBinary string
	// GOARCH of the binary and the image; default: this machine's.
	GOARCH string
	// Env is added to the image's environment (KEY=value).
	Env []string
	// Args are the image's default arguments (Cmd).
	Args []string
}

// AppDir is where BuildGo puts the binary; it is on the image's PATH.
const AppDir = "/app"

// BuildGo compiles the Go main package in pkgDir into a static binary
// (CGO_ENABLED=0, -trimpath, stripped) and returns a one-layer image whose
// entrypoint is that binary, as ko does. pkgDir must be inside a Go module
// whose toolchain is installed; the build cache makes rebuilds fast.
func BuildGo(ctx context.Context, pkgDir string, opts GoOptions) (v1.Image, error) {
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("build %s: not a directory of a Go main package", pkgDir)
	}
	name := opts.Name
	if name == "" {
		name = filepath.Base(abs)
	}
	goBin := opts.GoBinary
	if goBin == "" {
		goBin = "go"
	}
	arch := opts.GOARCH
	if arch == "" {
		arch = runtime.GOARCH
	}
	tmp, err := os.MkdirTemp("", "berth-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, name)
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build in %s: %v\n%s", pkgDir, err, strings.TrimSpace(stderr.String()))
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	entry := AppDir + "/" + name
	return FromFiles([]File{{Path: entry, Mode: 0o755, Data: bin}}, Config{
		Entrypoint:   []string{entry},
		Cmd:          opts.Args,
		Env:          append([]string{"PATH=" + AppDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, opts.Env...),
		WorkingDir:   "/",
		Architecture: arch,
	})
}
