package manifest

import (
	"io/fs"
	"path"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/berth-io/berth/internal/yamlpath"
)

// kustomizer builds kustomizations straight from the rendered file
// system (a checkout or a git tree), reading only the files they name: a
// kustomization may refer to files outside its own directory (a base's
// files) but not outside the file system.
type kustomizer struct {
	mem filesys.FileSystem
}

func newKustomizer(fsys fs.FS) *kustomizer {
	return &kustomizer{mem: newKustomizeFS(fsys)}
}

// build runs kustomize on dir. Each object is positioned at the document
// it came from (kustomize's origin annotations, added for the build),
// or at the kustomization file for generated objects and when the origin
// cannot be found.
func (k *kustomizer) build(dir string) result {
	kfile := kustomizationFile(k.mem, dir)
	pos := Position{File: kfile, Line: 1, Column: 1}
	restore, traced := k.traceOrigins(kfile)
	defer restore()
	opts := krusty.MakeDefaultOptions()
	// As Flux does: a kustomization may read any file of the repository
	// (an overlay listing a base's files); the copy holds nothing else.
	opts.LoadRestrictions = types.LoadRestrictionsNone
	m, err := krusty.MakeKustomizer(opts).Run(k.mem, "/"+dir)
	if err != nil {
		return result{errs: []Error{{Pos: pos, Message: "kustomize build failed: " + err.Error()}}}
	}
	var r result
	origins := originFinder{mem: k.mem, kfile: kfile, files: map[string][]*Object{}}
	for _, res := range m.Resources() {
		ann := res.GetAnnotations()
		origin := ann[originAnnotation]
		if traced {
			delete(ann, originAnnotation)
			if err := res.SetAnnotations(ann); err != nil {
				r.errs = append(r.errs, Error{Pos: pos, Object: res.CurId().String(), Message: "kustomize output: " + err.Error()})
				continue
			}
		}
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
		o := &Object{Object: u, GVK: u.GroupVersionKind(), Raw: raw, Pos: pos, Kustomization: kfile, item: -1}
		origins.place(o, origin)
		r.objects = append(r.objects, o)
	}
	return r
}

// originAnnotation is where kustomize says which file an object came
// from, when the kustomization's buildMetadata asks for it.
const originAnnotation = "config.kubernetes.io/origin"

// traceOrigins makes the in-memory kustomization file kfile ask for origin
// annotations, unless it already does; restore puts the file back, and
// traced says whether the annotations are berth's to remove.
func (k *kustomizer) traceOrigins(kfile string) (restore func(), traced bool) {
	nothing := func() {}
	data, err := k.mem.ReadFile("/" + kfile)
	if err != nil {
		return nothing, false
	}
	var doc yamlv3.Node
	if yamlv3.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yamlv3.MappingNode {
		return nothing, false // kustomize reports it
	}
	top := doc.Content[0]
	meta := mapValue(top, "buildMetadata")
	switch {
	case meta == nil:
		meta = &yamlv3.Node{Kind: yamlv3.SequenceNode}
		top.Content = append(top.Content, &yamlv3.Node{Kind: yamlv3.ScalarNode, Value: "buildMetadata"}, meta)
	case meta.Kind != yamlv3.SequenceNode:
		return nothing, false
	}
	for _, n := range meta.Content {
		if n.Value == types.OriginAnnotations {
			return nothing, false // the user wants them in the output
		}
	}
	meta.Content = append(meta.Content, &yamlv3.Node{Kind: yamlv3.ScalarNode, Value: types.OriginAnnotations})
	out, err := yamlv3.Marshal(&doc)
	if err != nil || k.mem.WriteFile("/"+kfile, out) != nil {
		return nothing, false
	}
	return func() { _ = k.mem.WriteFile("/"+kfile, data) }, true
}

// originFinder positions kustomize output at its source documents.
type originFinder struct {
	mem   filesys.FileSystem
	kfile string
	files map[string][]*Object // the source files decoded, by path
}

// origin is the value of the origin annotation.
type origin struct {
	Path         string `json:"path"`
	Repo         string `json:"repo"`
	ConfiguredIn string `json:"configuredIn"`
	ConfiguredBy struct {
		Kind string `json:"kind"`
	} `json:"configuredBy"`
}

// place sets o's position from its origin annotation, when it can.
func (f *originFinder) place(o *Object, annotation string) {
	var or origin
	if annotation == "" || yaml.Unmarshal([]byte(annotation), &or) != nil || or.Repo != "" {
		return
	}
	dir := path.Dir(f.kfile)
	if or.Path == "" {
		// A generated object: at its generator in the kustomization.
		if or.ConfiguredIn != "" && or.ConfiguredBy.Kind != "" {
			file := path.Join(dir, or.ConfiguredIn)
			if data, err := f.mem.ReadFile("/" + file); err == nil {
				generator := strings.ToLower(or.ConfiguredBy.Kind[:1]) + or.ConfiguredBy.Kind[1:]
				src := &source{file: file, data: data}
				if docs := src.documents(); len(docs) > 0 && docs[0] != nil {
					mark := yamlpath.Locate(docs[0], []yamlpath.Segment{yamlpath.Key(generator)}, docs[0])
					o.Pos = Position{File: file, Line: mark.Line, Column: mark.Column}
				}
			}
		}
		return
	}
	file := path.Join(dir, or.Path)
	if src := f.match(f.decoded(file), o); src != nil {
		o.Pos, o.src, o.doc, o.item = src.Pos, src.src, src.doc, src.item
	}
}

// decoded is file's documents as objects, decoded once per build.
func (f *originFinder) decoded(file string) []*Object {
	if objs, ok := f.files[file]; ok {
		return objs
	}
	var objs []*Object
	if data, err := f.mem.ReadFile("/" + file); err == nil {
		objs, _ = decodeFile(file, data)
	}
	f.files[file] = objs
	return objs
}

// match picks the document of candidates that o was built from: same kind,
// and a name that o's name contains (kustomize adds prefixes, suffixes and
// hashes); the longest such name wins.
func (f *originFinder) match(candidates []*Object, o *Object) *Object {
	var best *Object
	for _, c := range candidates {
		if c.GVK.Kind != o.GVK.Kind || c.GVK.Group != o.GVK.Group || !strings.Contains(o.Name(), c.Name()) {
			continue
		}
		if best == nil || len(c.Name()) > len(best.Name()) {
			best = c
		}
	}
	return best
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
