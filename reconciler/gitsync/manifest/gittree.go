package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// GitTreeFS is the file system of a git tree (a commit's Tree()), for
// Render. Directories and files are read from the object store as they
// are opened; symbolic links and submodules are listed but are not regular
// files, so Render leaves them out. Modification times are zero. It is
// safe for concurrent use: go-git's trees and object stores are not, so
// reads of the store take turns.
func GitTreeFS(t *object.Tree) fs.FS {
	return gitTree{root: t, mu: &sync.Mutex{}}
}

type gitTree struct {
	root *object.Tree
	mu   *sync.Mutex // guards every use of root and its object store
}

var (
	_ fs.ReadFileFS = gitTree{}
	_ fs.ReadDirFS  = gitTree{}
	_ fs.StatFS     = gitTree{}
)

// Open opens the file or directory name.
func (g gitTree) Open(name string) (fs.File, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if name == "." {
		return &treeDir{info: treeInfo{name: ".", mode: filemode.Dir}, tree: g.root, mu: g.mu}, nil
	}
	e, err := g.entry("open", name)
	if err != nil {
		return nil, err
	}
	info := treeInfo{name: path.Base(name), mode: e.Mode}
	if e.Mode == filemode.Dir {
		t, err := g.root.Tree(name)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &treeDir{info: info, tree: t, mu: g.mu}, nil
	}
	data, err := g.blob(name, e)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	info.size = int64(len(data))
	return &treeFile{info: info, Reader: bytes.NewReader(data)}, nil
}

// ReadFile reads the file name.
func (g gitTree) ReadFile(name string) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, err := g.entry("read", name)
	if err != nil {
		return nil, err
	}
	if e.Mode == filemode.Dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	data, err := g.blob(name, e)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, nil
}

// ReadDir lists directory name, sorted by name.
func (g gitTree) ReadDir(name string) ([]fs.DirEntry, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := g.root
	if name != "." {
		e, err := g.entry("readdir", name)
		if err != nil {
			return nil, err
		}
		if e.Mode != filemode.Dir {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
		}
		if t, err = g.root.Tree(name); err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
		}
	}
	return dirEntries(t, g.mu), nil
}

// Stat describes name without following symbolic links (a git tree's links
// may point outside it).
func (g gitTree) Stat(name string) (fs.FileInfo, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if name == "." {
		return treeInfo{name: ".", mode: filemode.Dir}, nil
	}
	e, err := g.entry("stat", name)
	if err != nil {
		return nil, err
	}
	return infoOf(g.root, e), nil
}

// infoOf describes the entry e of tree t; the caller holds the lock.
func infoOf(t *object.Tree, e *object.TreeEntry) treeInfo {
	info := treeInfo{name: e.Name, mode: e.Mode}
	if e.Mode.IsFile() {
		if f, err := t.TreeEntryFile(e); err == nil {
			info.size = f.Size
		}
	}
	return info
}

// treeEntry is the fs.DirEntry of a tree entry; Info reads the size of a
// file from the object store.
type treeEntry struct {
	tree  *object.Tree
	entry object.TreeEntry
	mu    *sync.Mutex
}

func (d treeEntry) Name() string      { return d.entry.Name }
func (d treeEntry) IsDir() bool       { return d.entry.Mode == filemode.Dir }
func (d treeEntry) Type() fs.FileMode { return treeInfo{mode: d.entry.Mode}.Mode().Type() }
func (d treeEntry) Info() (fs.FileInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return infoOf(d.tree, &d.entry), nil
}

// entry finds name's tree entry.
func (g gitTree) entry(op, name string) (*object.TreeEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e, err := g.root.FindEntry(name)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return e, nil
}

// blob reads the content of a file entry.
func (g gitTree) blob(name string, e *object.TreeEntry) ([]byte, error) {
	if e.Mode == filemode.Submodule {
		return nil, errors.New("is a submodule")
	}
	f, err := g.root.TreeEntryFile(e)
	if err != nil {
		return nil, err
	}
	r, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// dirEntries lists t's entries as fs.DirEntry values. git keeps a tree's
// entries sorted with directories compared as "name/"; fs wants plain
// name order, so they are sorted again.
func dirEntries(t *object.Tree, mu *sync.Mutex) []fs.DirEntry {
	out := make([]fs.DirEntry, len(t.Entries))
	for i, e := range t.Entries {
		out[i] = treeEntry{tree: t, entry: e, mu: mu}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// treeInfo is the fs.FileInfo of a tree entry.
type treeInfo struct {
	name string
	mode filemode.FileMode
	size int64
}

func (i treeInfo) Name() string       { return i.name }
func (i treeInfo) Size() int64        { return i.size }
func (i treeInfo) ModTime() time.Time { return time.Time{} }
func (i treeInfo) IsDir() bool        { return i.mode == filemode.Dir }
func (i treeInfo) Sys() any           { return nil }

func (i treeInfo) Mode() fs.FileMode {
	switch i.mode {
	case filemode.Dir:
		return fs.ModeDir | 0o555
	case filemode.Symlink:
		return fs.ModeSymlink | 0o777
	case filemode.Submodule:
		return fs.ModeIrregular | 0o444
	case filemode.Executable:
		return 0o555
	}
	return 0o444
}

// treeFile is an open file of a tree.
type treeFile struct {
	info treeInfo
	*bytes.Reader
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *treeFile) Close() error               { return nil }

// treeDir is an open directory of a tree.
type treeDir struct {
	info    treeInfo
	tree    *object.Tree
	mu      *sync.Mutex
	entries []fs.DirEntry
	read    bool
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *treeDir) Close() error               { return nil }

func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

// ReadDir returns the next n entries, or all remaining ones for n <= 0.
func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.entries, d.read = dirEntries(d.tree, d.mu), true
	}
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.entries))
	out := d.entries[:n]
	d.entries = d.entries[n:]
	return out, nil
}

// RevisionFS is the file system of the commit that rev names in repo: a
// branch, tag, remote branch ("origin/main"), hash or any revision go-git
// resolves ("HEAD~1"). It returns the commit's hash too.
func RevisionFS(repo *git.Repository, rev string) (fs.FS, plumbing.Hash, error) {
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("revision %q: %w", rev, err)
	}
	c, err := repo.CommitObject(*h)
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("revision %q (%s): %w", rev, h, err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("revision %q (%s): %w", rev, h, err)
	}
	return GitTreeFS(t), *h, nil
}
