// Package images builds small OCI images without a registry or a Docker
// daemon (from Go main packages, as ko does, or from a list of files), writes
// them as OCI layout tarballs and imports them into containerd.
//
// berth runs where no registry is reachable: the pause image, the busybox
// image of the tests and the demo applications are all built here and
// imported into containerd's "k8s.io" namespace, where the CRI plugin finds
// them by name.
package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultPath is the PATH an image built here gets unless Config.Env sets one.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// File is one entry of an image layer: a regular file (Data, or the host file
// Source), a symbolic link (Linkname) or, with none of them set, a directory.
type File struct {
	// Path is the absolute path inside the image, e.g. "/bin/busybox".
	Path string
	// Mode is the permission bits; 0 means 0755 for executables, directories
	// and links alike (images built here hold programs).
	Mode int64
	// Data is the content of a regular file.
	Data []byte
	// Source is a host file whose content becomes this file's (read at build time).
	Source string
	// Linkname makes this entry a symbolic link to Linkname.
	Linkname string
}

// Config is the runtime configuration of an image (what `docker inspect`
// shows under Config).
type Config struct {
	Entrypoint []string
	Cmd        []string
	// Env holds KEY=value pairs; DefaultPath is added unless PATH is set.
	Env        []string
	WorkingDir string
	User       string
	Labels     map[string]string
	// Architecture is the GOARCH the image runs on; default: this machine's.
	Architecture string
}

// FromFiles builds a one-layer image for linux/GOARCH holding files, with OCI
// media types and cfg as its configuration. Parent directories are added to
// the layer; timestamps are the Unix epoch so equal inputs give equal digests.
func FromFiles(files []File, cfg Config) (v1.Image, error) {
	layerTar, err := layerTar(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	// Wrapping hides the tarball layer's Descriptor method, whose empty
	// annotation map would make the in-memory manifest differ from the
	// serialized one (which omits it).
	img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON),
		mutate.Addendum{Layer: struct{ v1.Layer }{layer}, MediaType: types.OCILayer})
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = cfg.Architecture
	if cf.Architecture == "" {
		cf.Architecture = runtime.GOARCH
	}
	cf.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cf.Config.Entrypoint = cfg.Entrypoint
	cf.Config.Cmd = cfg.Cmd
	cf.Config.Env = withPath(cfg.Env)
	cf.Config.WorkingDir = cfg.WorkingDir
	cf.Config.User = cfg.User
	cf.Config.Labels = cfg.Labels
	return mutate.ConfigFile(img, cf)
}

// withPath adds DefaultPath to env unless it sets PATH.
func withPath(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append([]string{DefaultPath}, env...)
}

// layerTar writes files, and the directories above them, as an uncompressed tar.
func layerTar(files []File) ([]byte, error) {
	epoch := time.Unix(0, 0).UTC()
	entries := map[string]File{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		if p == "/" {
			return nil, fmt.Errorf("image file %q: not a file path", f.Path)
		}
		if _, dup := entries[p]; dup {
			return nil, fmt.Errorf("image file %q: listed twice", p)
		}
		f.Path = p
		entries[p] = f
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := entries[d]; !ok {
				entries[d] = File{Path: d}
			}
		}
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	sort.Strings(names) // parents sort before their children
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		f := entries[p]
		mode := f.Mode
		if mode == 0 {
			mode = 0o755
		}
		hdr := &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: mode, ModTime: epoch, Format: tar.FormatPAX}
		data := f.Data
		switch {
		case f.Linkname != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Linkname
		case f.Source != "":
			b, err := os.ReadFile(f.Source)
			if err != nil {
				return nil, fmt.Errorf("image file %s: %w", p, err)
			}
			data = b
			hdr.Typeflag = tar.TypeReg
		case f.Data != nil:
			hdr.Typeflag = tar.TypeReg
		default:
			hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		}
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("image file %s: %w", p, err)
		}
		if _, err := tw.Write(data); err != nil {
			return nil, fmt.Errorf("image file %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
