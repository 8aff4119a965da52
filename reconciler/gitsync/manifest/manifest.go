package manifest

import (
	"fmt"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/internal/yamlpath"
)

// Position is a place in the repository: a file and a 1-based line and
// column. Line and Column are 0 when unknown (a whole file).
type Position struct {
	// File is the slash-separated path of the file inside the rendered
	// file system.
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

// String renders p as "file:line:column", leaving out what p does not
// have.
func (p Position) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Column == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Object is one Kubernetes object read from the repository.
type Object struct {
	// Object is the object as written (with kustomize's transformations for
	// a kustomization's output), ints as int64.
	Object *unstructured.Unstructured
	// GVK is the object's apiVersion and kind.
	GVK schema.GroupVersionKind
	// Raw is the object as JSON, the form the API server takes.
	Raw []byte
	// Pos is where the object starts: its document (or List item). For
	// kustomize output it is the document the object was built from
	// (found with kustomize's origin annotations; FieldPosition then
	// points into that document, where an overlay's patch may have changed
	// the value), the generator's entry in the kustomization for a
	// generated object, or else the kustomization file.
	Pos Position
	// Kustomization is the kustomization file that produced the object, or
	// empty for a plain manifest.
	Kustomization string

	// src, doc and item say where the object's YAML mapping is, for
	// FieldPosition: the file, the document's index in it, and the index
	// in the List's items (-1 for a document that is the object). src is
	// nil for kustomize output.
	src  *source
	doc  int
	item int
}

// node is the object's YAML mapping, or nil for kustomize output or when
// the file no longer parses.
func (o *Object) node() *yamlv3.Node {
	if o.src == nil {
		return nil
	}
	docs := o.src.documents()
	if o.doc >= len(docs) || docs[o.doc] == nil {
		return nil
	}
	n := docs[o.doc]
	if o.item >= 0 {
		items := mapValue(n, "items")
		if items == nil || items.Kind != yamlv3.SequenceNode || o.item >= len(items.Content) {
			return nil
		}
		n = yamlpath.Deref(items.Content[o.item])
	}
	return n
}

// Namespace is metadata.namespace (empty when not set).
func (o *Object) Namespace() string { return o.Object.GetNamespace() }

// Name is metadata.name.
func (o *Object) Name() string { return o.Object.GetName() }

// Key identifies the object within a Set: "group/Kind/namespace/name" (the
// version does not count: two versions of one kind are the same object).
func (o *Object) Key() Key {
	return Key{Group: o.GVK.Group, Kind: o.GVK.Kind, Namespace: o.Namespace(), Name: o.Name()}
}

// String names the object as messages do: "Kind namespace/name", or
// "Kind name" without a namespace.
func (o *Object) String() string {
	return o.Key().String()
}

// FieldPosition is the position of the field at path, written as
// k8s.io/apimachinery's field.Path prints it ("spec.template.spec.containers[0].image",
// "metadata.labels[app.kubernetes.io/name]") or as encoding/json names
// fields (list elements without an index pick the first element that has
// the field). A field that is not in the file (a required field left out)
// is reported at the deepest enclosing field that is. For kustomize output
// not traced to a document it is Pos.
func (o *Object) FieldPosition(path string) Position {
	node := o.node()
	if node == nil {
		return o.Pos
	}
	n := yamlpath.Locate(node, yamlpath.Parse(path), node)
	return Position{File: o.Pos.File, Line: n.Line, Column: n.Column}
}

// Key identifies an object: its group, kind, namespace and name.
type Key struct {
	Group, Kind, Namespace, Name string
}

// String is "Kind namespace/name", or "Kind name" for an object without a
// namespace; "(no name)" stands for an empty name.
func (k Key) String() string {
	name := k.Name
	if name == "" {
		name = "(no name)"
	}
	if k.Namespace == "" {
		return k.Kind + " " + name
	}
	return k.Kind + " " + k.Namespace + "/" + name
}

// Error is a problem found while rendering or decoding a manifest.
type Error struct {
	// Pos is where the problem is, as precisely as known.
	Pos Position `json:"pos"`
	// Object names the object ("Deployment demo/hello") when the document
	// was read far enough to name one.
	Object string `json:"object,omitempty"`
	// Field is the field path, such as "spec.replicas"; may be empty.
	Field string `json:"field,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// Error renders e as "file:line:col: object: field: message", leaving out
// the parts e does not have.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Object != "" {
		b.WriteString(e.Object)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Set is what Render found: the objects in file order (files in lexical
// order, documents in order, kustomize output in kustomize's order) and
// the files read.
type Set struct {
	Objects []*Object
	// Files are the manifest files read (kustomization files included, not
	// the files a kustomization reads), slash-separated.
	Files []string
}
