package images

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// NameAnnotation is the index annotation containerd's Import reads the
// image's full name from (without it a bare tag is imported as
// "import-<date>:tag").
const NameAnnotation = "io.containerd.image.name"

// NormalizeRef returns the full name containerd and the CRI plugin use for
// ref: "demo/hello:v1" is "docker.io/demo/hello:v1", "busybox" is
// "docker.io/library/busybox:latest", "localhost/pause:v1" stays as it is.
func NormalizeRef(ref string) (string, error) {
	named, err := normalize(ref)
	if err != nil {
		return "", err
	}
	return named.String(), nil
}

func normalize(ref string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	return reference.TagNameOnly(named), nil
}

// Write writes img as an OCI image layout tarball named ref (normalized with
// NormalizeRef) to w: the format `ctr images import` and the containerd
// client's Import accept.
//
// go-containerregistry writes OCI layouts only as directories (pkg/v1/layout);
// this streams the same files (oci-layout, index.json, blobs/sha256/...) into
// a tar so that an image can be imported without a temporary directory.
func Write(w io.Writer, ref string, img v1.Image) error {
	named, err := normalize(ref)
	if err != nil {
		return err
	}
	name, tag := named.String(), ""
	if tagged, ok := named.(reference.Tagged); ok {
		tag = tagged.Tag()
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("image %s manifest: %w", name, err)
	}
	manifestDigest, manifestSize, err := v1.SHA256(bytes.NewReader(manifest))
	if err != nil {
		return err
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("image %s config: %w", name, err)
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("image %s config: %w", name, err)
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return err
	}
	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType:   mediaType,
			Size:        manifestSize,
			Digest:      manifestDigest,
			Platform:    &v1.Platform{OS: cf.OS, Architecture: cf.Architecture},
			Annotations: map[string]string{NameAnnotation: name, "org.opencontainers.image.ref.name": tag},
		}},
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	files := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", indexJSON},
		{blobPath(manifestDigest), manifest},
		{blobPath(configDigest), config},
	}
	for _, f := range files {
		if err := writeTarFile(tw, f.name, int64(len(f.data)), bytes.NewReader(f.data)); err != nil {
			return fmt.Errorf("image %s: %w", name, err)
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("image %s layers: %w", name, err)
	}
	for _, l := range layers {
		digest, err := l.Digest()
		if err != nil {
			return err
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return fmt.Errorf("image %s layer %s: %w", name, digest, err)
		}
		err = writeTarFile(tw, blobPath(digest), size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("image %s layer %s: %w", name, digest, err)
		}
	}
	return tw.Close()
}

// WriteTar writes img named ref as an OCI layout tarball to the file path
// (replaced atomically; parent directories are created).
func WriteTar(img v1.Image, ref, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := Write(tmp, ref, img); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

func writeTarFile(tw *tar.Writer, name string, size int64, r io.Reader) error {
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0).UTC()}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s: wrote %d bytes, expected %d", name, n, size)
	}
	return nil
}
