package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizeFS is kustomize's filesys.FileSystem over an fs.FS, so that
// kustomize reads from a checkout or a git tree only the files a
// kustomization names, when it names them. "/" is the root of the fs.FS.
// It is read-only, except that WriteFile keeps a file's new content in
// memory (berth's edit of a kustomization being built).
type kustomizeFS struct {
	fsys fs.FS

	mu      sync.Mutex
	written map[string][]byte // by fs.FS path
}

var _ filesys.FileSystem = (*kustomizeFS)(nil)

func newKustomizeFS(fsys fs.FS) *kustomizeFS {
	return &kustomizeFS{fsys: fsys, written: map[string][]byte{}}
}

// rel is the fs.FS path of the absolute (or root-relative) path p.
func rel(p string) string {
	p = path.Clean("/" + filepath.ToSlash(p))
	if p == "/" {
		return "."
	}
	return p[1:]
}

// abs is the absolute path of the fs.FS path p.
func abs(p string) string {
	if p == "." {
		return "/"
	}
	return "/" + p
}

// errReadOnly refuses the changes kustomize never makes while building.
var errReadOnly = errors.New("read-only file system")

// Create implements filesys.FileSystem; it is refused.
func (k *kustomizeFS) Create(p string) (filesys.File, error) {
	return nil, &fs.PathError{Op: "create", Path: p, Err: errReadOnly}
}

// Mkdir implements filesys.FileSystem; it is refused.
func (k *kustomizeFS) Mkdir(p string) error {
	return &fs.PathError{Op: "mkdir", Path: p, Err: errReadOnly}
}

// MkdirAll implements filesys.FileSystem; it is refused.
func (k *kustomizeFS) MkdirAll(p string) error {
	return &fs.PathError{Op: "mkdir", Path: p, Err: errReadOnly}
}

// RemoveAll implements filesys.FileSystem; it is refused.
func (k *kustomizeFS) RemoveAll(p string) error {
	return &fs.PathError{Op: "remove", Path: p, Err: errReadOnly}
}

// WriteFile keeps data as the content of the existing file p, in memory.
func (k *kustomizeFS) WriteFile(p string, data []byte) error {
	if info, err := fs.Stat(k.fsys, rel(p)); err != nil || info.IsDir() {
		return &fs.PathError{Op: "write", Path: p, Err: errReadOnly}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.written[rel(p)] = bytes.Clone(data)
	return nil
}

// ReadFile implements filesys.FileSystem.
func (k *kustomizeFS) ReadFile(p string) ([]byte, error) {
	k.mu.Lock()
	data, ok := k.written[rel(p)]
	k.mu.Unlock()
	if ok {
		return bytes.Clone(data), nil
	}
	data, err := fs.ReadFile(k.fsys, rel(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notExist(p)
	}
	return data, err
}

// Open implements filesys.FileSystem, for reading.
func (k *kustomizeFS) Open(p string) (filesys.File, error) {
	data, err := k.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &kustomizeFile{Reader: bytes.NewReader(data), name: path.Base(rel(p)), size: int64(len(data))}, nil
}

// IsDir implements filesys.FileSystem.
func (k *kustomizeFS) IsDir(p string) bool {
	info, err := fs.Stat(k.fsys, rel(p))
	return err == nil && info.IsDir()
}

// Exists implements filesys.FileSystem.
func (k *kustomizeFS) Exists(p string) bool {
	if p == "" {
		return false
	}
	_, err := fs.Stat(k.fsys, rel(p))
	return err == nil
}

// ReadDir implements filesys.FileSystem: the names in directory p.
func (k *kustomizeFS) ReadDir(p string) ([]string, error) {
	entries, err := fs.ReadDir(k.fsys, rel(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notExist(p)
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// CleanedAbs implements filesys.FileSystem: p's directory (p itself for a
// directory) and file name.
func (k *kustomizeFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	r := rel(p)
	info, err := fs.Stat(k.fsys, r)
	if err != nil {
		return "", "", fmt.Errorf("unable to clean: %w", notExist(p))
	}
	if info.IsDir() {
		return filesys.ConfirmedDir(abs(r)), "", nil
	}
	return filesys.ConfirmedDir(abs(path.Dir(r))), path.Base(r), nil
}

// Glob implements filesys.FileSystem, leaving out hidden files unless the
// pattern names them, as kustomize's own file systems do.
func (k *kustomizeFS) Glob(pattern string) ([]string, error) {
	matches, err := fs.Glob(k.fsys, rel(pattern))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if info, err := fs.Stat(k.fsys, m); err != nil || info.IsDir() {
			continue
		}
		if filesys.IsHiddenFilePath(m) && !filesys.IsHiddenFilePath(pattern) {
			continue
		}
		out = append(out, abs(m))
	}
	return out, nil
}

// Walk implements filesys.FileSystem.
func (k *kustomizeFS) Walk(p string, walkFn filepath.WalkFunc) error {
	return fs.WalkDir(k.fsys, rel(p), func(q string, d fs.DirEntry, err error) error {
		var info os.FileInfo
		if d != nil && err == nil {
			info, err = d.Info()
		}
		return walkFn(abs(q), info, err)
	})
}

// notExist is the error kustomize's file systems give for a missing path;
// it wraps fs.ErrNotExist. The leading slash is dropped so that messages
// name paths as the repository does.
func notExist(p string) error {
	return &notExistError{path: strings.TrimPrefix(p, "/")}
}

type notExistError struct{ path string }

func (e *notExistError) Error() string { return fmt.Sprintf("'%s' doesn't exist", e.path) }
func (e *notExistError) Unwrap() error { return fs.ErrNotExist }

// kustomizeFile is a file opened for reading.
type kustomizeFile struct {
	*bytes.Reader
	name string
	size int64
}

// Write implements filesys.File; it is refused.
func (f *kustomizeFile) Write([]byte) (int, error) { return 0, errReadOnly }

// Close implements filesys.File.
func (f *kustomizeFile) Close() error { return nil }

// Stat implements filesys.File.
func (f *kustomizeFile) Stat() (os.FileInfo, error) { return kustomizeFileInfo{f}, nil }

type kustomizeFileInfo struct{ f *kustomizeFile }

func (i kustomizeFileInfo) Name() string       { return i.f.name }
func (i kustomizeFileInfo) Size() int64        { return i.f.size }
func (i kustomizeFileInfo) Mode() os.FileMode  { return 0o444 }
func (i kustomizeFileInfo) ModTime() time.Time { return time.Time{} }
func (i kustomizeFileInfo) IsDir() bool        { return false }
func (i kustomizeFileInfo) Sys() any           { return nil }
