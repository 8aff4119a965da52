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
// files, so Render leaves them out. Modification times are zero. Each
// directory is decoded once and kept, with an index of its entries by
// name, so reading every file of a large directory costs one decode, not
// one per file. It is safe for concurrent use: go-git's trees and object
// stores are not, so reads of the store take turns.
func GitTreeFS(t *object.Tree) fs.FS {
	return &gitTree{dirs: map[string]*gitDir{".": newGitDir(t)}}
}

type gitTree struct {
	mu   sync.Mutex         // guards dirs and every use of the object store
	dirs map[string]*gitDir // the directories decoded so far, by path; "." is the root
}

var (
	_ fs.ReadFileFS = (*gitTree)(nil)
	_ fs.ReadDirFS  = (*gitTree)(nil)
	_ fs.StatFS     = (*gitTree)(nil)
)

// gitDir is a decoded directory of a gitTree.
type gitDir struct {
	tree    *object.Tree
	byName  map[string]*object.TreeEntry
	entries []fs.DirEntry // sorted by name; nil until first listed
}

func newGitDir(t *object.Tree) *gitDir {
	byName := make(map[string]*object.TreeEntry, len(t.Entries))
	for i := range t.Entries {
		byName[t.Entries[i].Name] = &t.Entries[i]
	}
	return &gitDir{tree: t, byName: byName}
}

// Open opens the file or directory name.
func (g *gitTree) Open(name string) (fs.File, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if name == "." {
		return &treeDir{info: treeInfo{name: ".", mode: filemode.Dir}, dir: g.dirs["."], fsys: g}, nil
	}
	parent, e, err := g.lookup("open", name)
	if err != nil {
		return nil, err
	}
	info := treeInfo{name: e.Name, mode: e.Mode}
	if e.Mode == filemode.Dir {
		d, err := g.dir(name, parent, e)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &treeDir{info: info, dir: d, fsys: g}, nil
	}
	data, err := blob(parent, e)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	info.size = int64(len(data))
	return &treeFile{info: info, Reader: bytes.NewReader(data)}, nil
}

// ReadFile reads the file name.
func (g *gitTree) ReadFile(name string) ([]byte, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	parent, e, err := g.lookup("read", name)
	if err != nil {
		return nil, err
	}
	if e.Mode == filemode.Dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	data, err := blob(parent, e)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, nil
}

// ReadDir lists directory name, sorted by name.
func (g *gitTree) ReadDir(name string) ([]fs.DirEntry, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := g.dirs["."]
	if name != "." {
		parent, e, err := g.lookup("readdir", name)
		if err != nil {
			return nil, err
		}
		if e.Mode != filemode.Dir {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
		}
		if d, err = g.dir(name, parent, e); err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
		}
	}
	return slices.Clone(g.list(d)), nil
}

// Stat describes name without following symbolic links (a git tree's links
// may point outside it).
func (g *gitTree) Stat(name string) (fs.FileInfo, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if name == "." {
		return treeInfo{name: ".", mode: filemode.Dir}, nil
	}
	parent, e, err := g.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return infoOf(parent, e), nil
}

// lookup finds name's entry and the directory that holds it, decoding the
// directories on the way that are not yet; name is not ".". The caller
// holds the lock.
func (g *gitTree) lookup(op, name string) (*gitDir, *object.TreeEntry, error) {
	if !fs.ValidPath(name) {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	parent, err := g.dirAt(path.Dir(name))
	if err != nil {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	e, ok := parent.byName[path.Base(name)]
	if !ok {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return parent, e, nil
}

// dirAt returns the decoded directory p, or fs.ErrNotExist if p is not a
// directory of the tree. The caller holds the lock.
func (g *gitTree) dirAt(p string) (*gitDir, error) {
	if d, ok := g.dirs[p]; ok {
		return d, nil
	}
	parent, err := g.dirAt(path.Dir(p))
	if err != nil {
		return nil, err
	}
	e, ok := parent.byName[path.Base(p)]
	if !ok || e.Mode != filemode.Dir {
		return nil, fs.ErrNotExist
	}
	return g.dir(p, parent, e)
}

// dir returns directory p, the entry e of parent, decoding it on first
// use. The caller holds the lock.
func (g *gitTree) dir(p string, parent *gitDir, e *object.TreeEntry) (*gitDir, error) {
	if d, ok := g.dirs[p]; ok {
		return d, nil
	}
	t, err := parent.tree.Tree(e.Name)
	if err != nil {
		return nil, err
	}
	d := newGitDir(t)
	g.dirs[p] = d
	return d, nil
}

// list returns d's entries sorted by name; callers must not modify them.
// git keeps a tree's entries sorted with directories compared as "name/";
// fs wants plain name order, so they are sorted again. The caller holds
// the lock.
func (g *gitTree) list(d *gitDir) []fs.DirEntry {
	if d.entries == nil {
		d.entries = make([]fs.DirEntry, len(d.tree.Entries))
		for i := range d.tree.Entries {
			d.entries[i] = treeEntry{dir: d, entry: &d.tree.Entries[i], mu: &g.mu}
		}
		slices.SortFunc(d.entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	}
	return d.entries
}

// blob reads the content of the file entry e of d; the caller holds the
// lock. The content is read straight into a buffer of the blob's size.
func blob(d *gitDir, e *object.TreeEntry) ([]byte, error) {
	if e.Mode == filemode.Submodule {
		return nil, errors.New("is a submodule")
	}
	f, err := d.tree.TreeEntryFile(e)
	if err != nil {
		return nil, err
	}
	r, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data := make([]byte, f.Size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, err
	}
	return data, nil
}

// infoOf describes the entry e of d; the size of a file comes from the
// object store's header, without reading the content. The caller holds
// the lock.
func infoOf(d *gitDir, e *object.TreeEntry) treeInfo {
	info := treeInfo{name: e.Name, mode: e.Mode}
	if e.Mode.IsFile() {
		if size, err := d.tree.Size(e.Name); err == nil {
			info.size = size
		}
	}
	return info
}

// treeEntry is the fs.DirEntry of a tree entry; Info reads the size of a
// file from the object store.
type treeEntry struct {
	dir   *gitDir
	entry *object.TreeEntry
	mu    *sync.Mutex // the gitTree's
}

func (d treeEntry) Name() string      { return d.entry.Name }
func (d treeEntry) IsDir() bool       { return d.entry.Mode == filemode.Dir }
func (d treeEntry) Type() fs.FileMode { return treeInfo{mode: d.entry.Mode}.Mode().Type() }
func (d treeEntry) Info() (fs.FileInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return infoOf(d.dir, d.entry), nil
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
	dir     *gitDir
	fsys    *gitTree
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
		d.fsys.mu.Lock()
		d.entries, d.read = slices.Clone(d.fsys.list(d.dir)), true
		d.fsys.mu.Unlock()
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
