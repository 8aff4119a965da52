package policies

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing/fstest"

	"github.com/berth-io/berth/policies/bootstrap"
)

// Source is a tree of policy files: a directory on disk or an embedded file
// system.
type Source struct {
	// Name prefixes file paths in messages: the directory for Dir, a label
	// such as "(builtin)" for embedded files.
	Name string
	// FS holds the files; every .yaml, .yml and .json file below its root is
	// read, except names starting with "." (editor backups, and the
	// "..data" copies of a mounted ConfigMap).
	FS fs.FS
	// dir is the directory on disk, for watching; empty for embedded files.
	dir string
	// bare: messages name files by their path alone (Files).
	bare bool
}

// Dir is the Source of the policy files below directory path.
func Dir(path string) Source {
	return Source{Name: path, FS: os.DirFS(path), dir: path}
}

// Files is the Source of policy files held in memory, path (slash-separated,
// as fs.ValidPath wants) → content: the policies folder of a synced git
// commit. Messages name each file by its path as given, such as
// "policies/team-a.yaml", which is where the author finds it in the
// repository. Paths that are not valid are left out; see Store.SetSource.
func Files(files map[string][]byte) Source {
	fsys := fstest.MapFS{}
	for p, data := range files {
		if fs.ValidPath(p) && p != "." {
			fsys[p] = &fstest.MapFile{Data: data, Mode: 0o444}
		}
	}
	return Source{Name: "(files)", FS: fsys, bare: true}
}

// Bootstrap is the Source of berth's built-in policy, compiled into the
// binary (package policies/bootstrap).
func Bootstrap() Source {
	return Source{Name: "(builtin)", FS: bootstrap.FS()}
}

// file is one policy file read from a Source.
type file struct {
	name string // as shown in messages
	data []byte
}

// tree is what reading a Source found.
type tree struct {
	files    []file
	dirs     []string // directories on disk, for watching
	problems []Problem
}

// isPolicyFile reports whether name is read as a policy file.
func isPolicyFile(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// read walks src in lexical order. Symbolic links to files are followed,
// symbolic links to directories are not (fs.WalkDir does not).
func (src Source) read() tree {
	var t tree
	err := fs.WalkDir(src.FS, ".", func(p string, d fs.DirEntry, err error) error {
		name := src.display(p)
		if err != nil {
			t.problems = append(t.problems, Problem{File: name, Message: "cannot read: " + unwrapPathError(err)})
			return nil
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if src.dir != "" {
				t.dirs = append(t.dirs, filepath.Join(src.dir, filepath.FromSlash(p)))
			}
			return nil
		}
		if !isPolicyFile(p) {
			return nil
		}
		if info, err := fs.Stat(src.FS, p); err == nil && !info.Mode().IsRegular() {
			return nil
		}
		data, err := fs.ReadFile(src.FS, p)
		if err != nil {
			t.problems = append(t.problems, Problem{File: name, Message: "cannot read: " + unwrapPathError(err)})
			return nil
		}
		t.files = append(t.files, file{name: name, data: data})
		return nil
	})
	if err != nil {
		t.problems = append(t.problems, Problem{File: src.Name, Message: "cannot read: " + err.Error()})
	}
	return t
}

// display is how the file at p (slash-separated, relative to the Source)
// is named in messages.
func (src Source) display(p string) string {
	if p == "." {
		return src.Name
	}
	if src.bare {
		return p
	}
	if src.dir != "" {
		return filepath.Join(src.dir, filepath.FromSlash(p))
	}
	return src.Name + "/" + p
}

// unwrapPathError drops the operation and path of a *fs.PathError, which
// the message already names.
func unwrapPathError(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
