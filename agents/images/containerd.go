package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Namespace is the containerd namespace the CRI plugin keeps its images in.
const Namespace = "k8s.io"

// Snapshotter is the snapshotter images are unpacked for (the CRI plugin's
// default and what berth's managed containerd configures).
const Snapshotter = "overlayfs"

// Store is containerd's image store in Namespace, reached through the
// containerd socket.
type Store struct {
	client *client.Client
}

// Open connects to the containerd socket at address (a path, e.g.
// /var/lib/berth/agent/run/containerd.sock).
func Open(ctx context.Context, address string) (*Store, error) {
	if _, err := os.Stat(address); err != nil {
		return nil, fmt.Errorf("containerd socket %s: %w (is berth agent running with this data dir? it starts containerd)", address, err)
	}
	c, err := client.New(address, client.WithDefaultNamespace(Namespace), client.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Version(vctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("containerd at %s does not answer: %w (is berth agent running?)", address, err)
	}
	return &Store{client: c}, nil
}

// Close closes the connection.
func (s *Store) Close() error { return s.client.Close() }

// Import imports an image tarball (OCI layout or docker archive) read from r,
// unpacks every image in it for Snapshotter and returns their names.
func (s *Store) Import(ctx context.Context, r io.Reader) ([]string, error) {
	imgs, err := s.client.Import(ctx, r)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(imgs))
	for _, img := range imgs {
		if err := client.NewImage(s.client, img).Unpack(ctx, Snapshotter); err != nil {
			return names, fmt.Errorf("unpack %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	return names, nil
}

// ImportFile imports the image tarball at path (see Import).
func (s *Store) ImportFile(ctx context.Context, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := s.Import(ctx, f)
	if err != nil {
		return names, fmt.Errorf("import %s: %w", path, err)
	}
	return names, nil
}

// ImportImage imports img under the name ref without a temporary file and
// returns the normalized name.
func (s *Store) ImportImage(ctx context.Context, ref string, img v1.Image) (string, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Write(pw, ref, img)) }()
	_, err = s.Import(ctx, pr)
	pr.CloseWithError(errors.New("import ended")) // unblocks the writer if Import stopped early
	if err != nil {
		return "", fmt.Errorf("import %s: %w", name, err)
	}
	return name, nil
}

// Has reports whether the image ref is in the store and unpacked.
func (s *Store) Has(ctx context.Context, ref string) (bool, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return false, err
	}
	img, err := s.client.GetImage(ctx, name)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up image %s: %w", name, err)
	}
	return img.IsUnpacked(ctx, Snapshotter)
}

// Import imports the image tarballs files into the containerd at address
// (namespace k8s.io, unpacked for overlayfs) and returns the image names.
func Import(ctx context.Context, address string, files ...string) ([]string, error) {
	s, err := Open(ctx, address)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var all []string
	for _, f := range files {
		names, err := s.ImportFile(ctx, f)
		all = append(all, names...)
		if err != nil {
			return all, err
		}
	}
	return all, nil
}
