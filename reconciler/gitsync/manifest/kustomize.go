package manifest

import (
	"io/fs"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizer builds kustomizations from an in-memory copy of a file
// system, so that a git tree builds as a checkout does. kustomize reads
// only what the kustomization names, within the copy: a kustomization may
// refer to files outside its own directory (a base's files) but not
// outside fsys.
type kustomizer struct {
	mem filesys.FileSystem
	err error // copying failed
}

// newKustomizer copies the regular files of fsys, except those below
// directories whose name starts with a dot (.git), into memory.
func newKustomizer(fsys fs.FS) *kustomizer {
	k := &kustomizer{mem: filesys.MakeFsInMemory()}
	k.err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && strings.HasPrefix(d.Name(), ".") && d.IsDir() {
			return fs.SkipDir
		}
		if d.IsDir() {
			return k.mem.MkdirAll("/" + p)
		}
		if !isRegular(fsys, p, d) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return k.mem.WriteFile("/"+p, data)
	})
	return k
}

// build runs kustomize on dir. Its objects are positioned at the
// kustomization file.
func (k *kustomizer) build(dir string) result {
	kfile := kustomizationFile(k.mem, dir)
	pos := Position{File: kfile, Line: 1, Column: 1}
	if k.err != nil {
		return result{errs: []Error{{Pos: pos, Message: "kustomize: cannot read the files: " + unwrapPathError(k.err)}}}
	}
	opts := krusty.MakeDefaultOptions()
	// As Flux does: a kustomization may read any file of the repository
	// (an overlay listing a base's files); the copy holds nothing else.
	opts.LoadRestrictions = types.LoadRestrictionsNone
	m, err := krusty.MakeKustomizer(opts).Run(k.mem, "/"+dir)
	if err != nil {
		return result{errs: []Error{{Pos: pos, Message: "kustomize build failed: " + strings.ReplaceAll(err.Error(), "'/", "'")}}}
	}
	var r result
	for _, res := range m.Resources() {
		raw, err := res.MarshalJSON()
		if err != nil {
			r.errs = append(r.errs, Error{Pos: pos, Object: res.CurId().String(), Message: "kustomize output: " + err.Error()})
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			r.errs = append(r.errs, Error{Pos: pos, Object: res.CurId().String(), Message: "kustomize output: " + err.Error()})
			continue
		}
		r.objects = append(r.objects, &Object{Object: u, GVK: u.GroupVersionKind(), Raw: raw, Pos: pos, Kustomization: kfile})
	}
	return r
}

// kustomizationFile is the kustomization file of dir in mem.
func kustomizationFile(mem filesys.FileSystem, dir string) string {
	for _, name := range KustomizationFiles {
		if mem.Exists("/" + path.Join(dir, name)) {
			return path.Join(dir, name)
		}
	}
	return path.Join(dir, KustomizationFiles[0])
}
