package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/berth-io/berth/internal/yamlpath"
)

// maxNodes bounds the values one document may expand to through aliases
// (a "billion laughs" document), far above any real manifest.
const maxNodes = 1 << 20

// decodeFile reads every document of the manifest file name. A document
// with errors yields no object; a YAML syntax error ends the file, since
// the parser cannot resume after it.
func decodeFile(name string, data []byte) ([]*Object, []Error) {
	var objs []*Object
	var errs []Error
	src := &source{file: name, data: data}
	err := eachDocument(data, func(i int, n *yamlv3.Node) {
		o, es := decodeDocument(name, n)
		for _, obj := range o {
			obj.src, obj.doc = src, i
		}
		objs = append(objs, o...)
		errs = append(errs, es...)
	})
	if err != nil {
		errs = append(errs, syntaxError(name, data, err))
	}
	return objs, errs
}

// eachDocument parses the YAML stream data and calls f with the index and
// top node of each non-empty document, until the end or a syntax error.
func eachDocument(data []byte, f func(int, *yamlv3.Node)) error {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		var doc yamlv3.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		n := &doc
		if n.Kind == yamlv3.DocumentNode {
			if len(n.Content) == 0 {
				continue
			}
			n = n.Content[0]
		}
		if n.Kind == yamlv3.ScalarNode && n.Tag == "!!null" {
			continue // an empty document
		}
		f(i, n)
	}
}

// source is a manifest file whose YAML node trees are parsed again, once,
// when a position inside one of its objects is asked for: keeping every
// object's node tree would hold several times the objects' own memory, and
// most objects never need it.
type source struct {
	file string
	data []byte

	once sync.Once
	docs []*yamlv3.Node // by document index; nil for empty documents
}

// documents parses the file again, the first time it is called.
func (s *source) documents() []*yamlv3.Node {
	s.once.Do(func() {
		_ = eachDocument(s.data, func(i int, n *yamlv3.Node) {
			for len(s.docs) <= i {
				s.docs = append(s.docs, nil)
			}
			s.docs[i] = n
		})
	})
	return s.docs
}

// decodeDocument turns one document's top node into objects: the object
// itself, or the items of a List.
func decodeDocument(file string, n *yamlv3.Node) ([]*Object, []Error) {
	c := converter{file: file}
	v := c.value(n)
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	pos := Position{File: file, Line: n.Line, Column: n.Column}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, []Error{{Pos: pos, Message: fmt.Sprintf("a document must be an object with apiVersion and kind, found %s", describe(v))}}
	}
	o, err := newObject(file, n, m)
	if err != nil {
		return nil, []Error{*err}
	}
	if !isList(o) {
		return []*Object{o}, nil
	}
	// A List: its items are the objects, each with its own position.
	items, _ := m["items"].([]interface{})
	itemNodes := mapValue(n, "items")
	var objs []*Object
	var errs []Error
	for i, item := range items {
		in := n
		if itemNodes != nil && itemNodes.Kind == yamlv3.SequenceNode && i < len(itemNodes.Content) {
			in = yamlpath.Deref(itemNodes.Content[i])
		}
		im, ok := item.(map[string]interface{})
		if !ok {
			errs = append(errs, Error{Pos: Position{File: file, Line: in.Line, Column: in.Column}, Object: o.String(), Field: fmt.Sprintf("items[%d]", i), Message: "a List item must be an object, found " + describe(item)})
			continue
		}
		io, err := newObject(file, in, im)
		if err != nil {
			errs = append(errs, *err)
			continue
		}
		io.item = i
		objs = append(objs, io)
	}
	return objs, errs
}

// isList reports whether o is a List of objects (v1 List, or any kind
// ending in "List" with items), whose items are the objects to apply.
func isList(o *Object) bool {
	if !strings.HasSuffix(o.GVK.Kind, "List") {
		return false
	}
	_, ok := o.Object.Object["items"].([]interface{})
	return ok
}

// newObject makes the Object of the mapping node n, decoded as m.
func newObject(file string, n *yamlv3.Node, m map[string]interface{}) (*Object, *Error) {
	pos := Position{File: file, Line: n.Line, Column: n.Column}
	u := &unstructured.Unstructured{Object: m}
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if apiVersion == "" || kind == "" {
		missing := "apiVersion"
		if apiVersion != "" {
			missing = "kind"
		}
		if _, ok := m[missing]; ok {
			return nil, &Error{Pos: fieldPos(file, n, missing), Field: missing, Message: missing + " must be a non-empty string"}
		}
		return nil, &Error{Pos: pos, Message: "not a Kubernetes object: apiVersion and kind are required (list this file in .berthignore if it is not a manifest)"}
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, &Error{Pos: fieldPos(file, n, "apiVersion"), Field: "apiVersion", Message: err.Error()}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, &Error{Pos: pos, Message: "cannot convert to JSON: " + err.Error()}
	}
	return &Object{Object: u, GVK: gv.WithKind(kind), Raw: raw, Pos: pos, item: -1}, nil
}

// mapValue is the value of key in mapping n, or nil.
func mapValue(n *yamlv3.Node, key string) *yamlv3.Node {
	n = yamlpath.Deref(n)
	if n.Kind != yamlv3.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if yamlpath.Deref(n.Content[i]).Value == key {
			return yamlpath.Deref(n.Content[i+1])
		}
	}
	return nil
}

// fieldPos is the position of the top-level field key of mapping n.
func fieldPos(file string, n *yamlv3.Node, key string) Position {
	k := yamlpath.Locate(n, []yamlpath.Segment{yamlpath.Key(key)}, n)
	return Position{File: file, Line: k.Line, Column: k.Column}
}

// describe names the kind of a decoded value for messages.
func describe(v interface{}) string {
	switch v.(type) {
	case []interface{}:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	case map[string]interface{}:
		return "an object"
	}
	return "a number"
}

// converter turns yaml.v3 nodes into the values encoding/json would make
// of the same document as JSON (ints as int64, as unstructured wants),
// reading scalars as sigs.k8s.io/yaml does.
type converter struct {
	file      string
	errs      []Error
	nodes     int
	expanding map[*yamlv3.Node]bool // anchors being expanded, to catch cycles
}

func (c *converter) fail(n *yamlv3.Node, format string, args ...interface{}) {
	c.errs = append(c.errs, Error{Pos: Position{File: c.file, Line: n.Line, Column: n.Column}, Message: fmt.Sprintf(format, args...)})
}

func (c *converter) value(n *yamlv3.Node) interface{} {
	if c.nodes++; c.nodes > maxNodes {
		if c.nodes == maxNodes+1 {
			c.fail(n, "the document expands to more than %d values through aliases", maxNodes)
		}
		return nil
	}
	switch n.Kind {
	case yamlv3.AliasNode:
		if n.Alias == nil {
			return nil
		}
		if c.expanding[n.Alias] {
			c.fail(n, "alias *%s refers to a node that contains it", n.Value)
			return nil
		}
		if c.expanding == nil {
			c.expanding = map[*yamlv3.Node]bool{}
		}
		c.expanding[n.Alias] = true
		defer delete(c.expanding, n.Alias)
		return c.value(n.Alias)
	case yamlv3.MappingNode:
		return c.mapping(n)
	case yamlv3.SequenceNode:
		out := make([]interface{}, len(n.Content))
		for i, e := range n.Content {
			out[i] = c.value(e)
		}
		return out
	case yamlv3.ScalarNode:
		return c.scalar(n)
	case yamlv3.DocumentNode:
		if len(n.Content) > 0 {
			return c.value(n.Content[0])
		}
	}
	return nil
}

func (c *converter) mapping(n *yamlv3.Node) map[string]interface{} {
	out := make(map[string]interface{}, len(n.Content)/2)
	var merges []*yamlv3.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yamlv3.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key, ok := c.key(k)
		if !ok {
			continue
		}
		if _, dup := out[key]; dup {
			c.fail(k, "duplicate key %q (first at line %d)", key, firstKey(n, key).Line)
			continue
		}
		out[key] = c.value(v)
	}
	// Merged keys (<<: *base) never override the mapping's own keys; the
	// first merged mapping wins over later ones.
	for _, m := range merges {
		m = yamlpath.Deref(m)
		sources := []*yamlv3.Node{m}
		if m.Kind == yamlv3.SequenceNode {
			sources = m.Content
		}
		for _, s := range sources {
			mv, ok := c.value(s).(map[string]interface{})
			if !ok {
				c.fail(s, "a merge key (<<) must refer to a mapping")
				continue
			}
			for k, v := range mv {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
		}
	}
	return out
}

// key is the string form of a mapping key, as sigs.k8s.io/yaml writes a
// non-string key into JSON.
func (c *converter) key(k *yamlv3.Node) (string, bool) {
	k = yamlpath.Deref(k)
	if k.Kind != yamlv3.ScalarNode {
		c.fail(k, "a mapping key must be a scalar, not a list or an object")
		return "", false
	}
	return k.Value, true
}

// firstKey is the first key node of mapping n with value key.
func firstKey(n *yamlv3.Node, key string) *yamlv3.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if yamlpath.Deref(n.Content[i]).Value == key {
			return n.Content[i]
		}
	}
	return n
}

// quoted are the styles of scalars written as strings.
const quoted = yamlv3.DoubleQuotedStyle | yamlv3.SingleQuotedStyle | yamlv3.LiteralStyle | yamlv3.FoldedStyle

func (c *converter) scalar(n *yamlv3.Node) interface{} {
	s := n.Value
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		return strings.EqualFold(s, "true")
	case "!!int":
		if v, ok := parseInt(s); ok {
			return v
		}
		return c.float(n, s)
	case "!!float":
		return c.float(n, s)
	case "!!str":
		// YAML 1.1, which kubectl reads, takes these plain words for
		// booleans where YAML 1.2 reads strings.
		if n.Style&(quoted|yamlv3.TaggedStyle) == 0 {
			if b, ok := yamlpath.YAML11Bool(s); ok {
				return b
			}
		}
	}
	return s // strings, timestamps as written, binary as base64
}

func (c *converter) float(n *yamlv3.Node, s string) interface{} {
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil {
		if v, ok := yamlFloats[strings.ToLower(s)]; ok {
			f, err = v, nil
		}
	}
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		c.fail(n, "%q is not a number JSON can hold", s)
		return nil
	}
	return f
}

// yamlFloats are YAML's special floats; JSON has none of them, so they are
// reported.
var yamlFloats = map[string]float64{".inf": math.Inf(1), "+.inf": math.Inf(1), "-.inf": math.Inf(-1), ".nan": math.NaN()}

// parseInt reads a YAML int (decimal, 0x, 0o, 0b, 1.1 octal 0777,
// underscores) as int64, or a uint64 beyond it as float64 like JSON would.
func parseInt(s string) (interface{}, bool) {
	plain := strings.ReplaceAll(s, "_", "")
	if v, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return v, true
	}
	if v, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return float64(v), true
	}
	return nil, false
}

// yamlLine finds the position in a yaml.v3 error message.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// syntaxError is the Error of a YAML parse error in file.
func syntaxError(file string, data []byte, err error) Error {
	msg := err.Error()
	var te *yamlv3.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	pos := Position{File: file, Line: 1}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		pos.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		if strings.HasPrefix(msg, "did not find expected") {
			pos.Line++ // the parser's own errors count lines from 0
		}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if last := bytes.Count(bytes.TrimRight(data, " \t\r\n"), []byte("\n")) + 1; pos.Line > last {
		pos.Line = last // an error at the end of the stream
	}
	return Error{Pos: pos, Message: "invalid YAML: " + msg}
}
