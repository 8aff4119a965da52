// Package yamlpath finds the field a field path names in a yaml.v3 node
// tree, so that an error from decoding the YAML as JSON (encoding/json,
// sigs.k8s.io/json, field.Path) can point at the line and column the
// author wrote, and names Go types and YAML 1.1 scalars as a YAML author
// knows them. It is shared by the policy loader (policies) and the git sync
// manifest reader (reconciler/gitsync/manifest).
package yamlpath

import (
	"reflect"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// Segment is one step of a field path: a mapping key, or a list index when
// Index >= 0.
type Segment struct {
	// Key is the mapping key; empty for an index.
	Key string
	// Index is the list index, or -1 for a key.
	Index int
}

// Key is the Segment of the mapping key k.
func Key(k string) Segment { return Segment{Key: k, Index: -1} }

// Parse splits a field path as field.Path and encoding/json write it:
// "spec.containers[0].image", "metadata.labels[app.kubernetes.io/name]".
// A bracket that does not hold a non-negative integer holds a key.
func Parse(p string) []Segment {
	var segs []Segment
	for p != "" {
		switch p[0] {
		case '.':
			p = p[1:]
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				end = len(p)
			}
			inner := p[1:end]
			if i, err := strconv.Atoi(inner); err == nil && i >= 0 {
				segs = append(segs, Segment{Index: i})
			} else {
				segs = append(segs, Key(inner))
			}
			p = p[min(end+1, len(p)):]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			segs = append(segs, Key(p[:end]))
			p = p[end:]
		}
	}
	return segs
}

// Locate returns the node that marks the field at path below n: the key of
// a mapping entry, or the element of a list. When the field is missing it
// returns the mark of the deepest enclosing field present; at is n's own
// mark (n itself at the top). A key segment applied to a list
// (encoding/json names fields without indices) searches the elements in
// order for one that has the rest of the path. Aliases are followed, and
// keys merged with "<<: *base" are found.
func Locate(n *yamlv3.Node, path []Segment, at *yamlv3.Node) *yamlv3.Node {
	mark, _ := locate(n, path, at, nil)
	return mark
}

// LocateFound is Locate that also says whether the field was found; want,
// if not nil, must accept the field's value node for it to count as found.
// It picks, among the elements of a list, the first whose field want
// accepts, else the first that has the field, else the first that has part
// of the path. When the field's value is a mapping that want rejects, the
// first key whose value want accepts is the field (encoding/json names a
// map, not the key whose value has the wrong type).
func LocateFound(n *yamlv3.Node, path []Segment, at *yamlv3.Node, want func(*yamlv3.Node) bool) (*yamlv3.Node, bool) {
	mark, r := locate(n, path, at, want)
	return mark, r == accepted
}

// How well locate found a field.
type result int

const (
	missing  result = iota // not found: the mark is an ancestor's
	rejected               // found, but want rejects its value
	accepted               // found and accepted
)

func locate(n *yamlv3.Node, segs []Segment, at *yamlv3.Node, want func(*yamlv3.Node) bool) (*yamlv3.Node, result) {
	n = Deref(n)
	if len(segs) == 0 {
		if want == nil || want(n) {
			return at, accepted
		}
		if n.Kind == yamlv3.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if want(Deref(n.Content[i+1])) {
					return n.Content[i], accepted
				}
			}
		}
		return at, rejected
	}
	seg := segs[0]
	switch {
	case n.Kind == yamlv3.MappingNode && seg.Index < 0:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if Deref(n.Content[i]).Value == seg.Key {
				return locate(n.Content[i+1], segs[1:], n.Content[i], want)
			}
		}
		// The key may come from a merged mapping (<<: *base).
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Tag == "!!merge" {
				if mark, r := locate(n.Content[i+1], segs, at, want); r == accepted {
					return mark, r
				}
			}
		}
	case n.Kind == yamlv3.SequenceNode && seg.Index >= 0:
		if seg.Index < len(n.Content) {
			c := n.Content[seg.Index]
			return locate(c, segs[1:], c, want)
		}
	case n.Kind == yamlv3.SequenceNode:
		best, bestResult, partial := at, missing, at
		for _, c := range n.Content {
			mark, r := locate(c, segs, c, want)
			if r > bestResult {
				best, bestResult = mark, r
			}
			if r == accepted {
				break
			}
			if mark != c && partial == at {
				partial = mark // part of the path is here
			}
		}
		if bestResult == missing {
			return partial, missing
		}
		return best, bestResult
	}
	return at, missing
}

// Deref follows an alias to the node it names.
func Deref(n *yamlv3.Node) *yamlv3.Node {
	for n.Kind == yamlv3.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// YAML11Bool reports whether s, written as a plain scalar, is one of the
// words YAML 1.1 (sigs.k8s.io/yaml, kubectl) reads as a boolean where
// YAML 1.2 (yaml.v3) reads a string, and which boolean.
func YAML11Bool(s string) (value, ok bool) {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// TypeWord names a Go type as a YAML author thinks of it: "a list",
// "an object", "a string", "a boolean", "an integer", "a number";
// "a number or a string" for quantities and int-or-strings,
// "a timestamp string" for metav1 times.
func TypeWord(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		switch t.String() {
		case "resource.Quantity", "intstr.IntOrString":
			return "a number or a string"
		case "v1.Time", "v1.MicroTime":
			return "a timestamp string"
		}
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return TypeWord(t.Elem())
	}
	return "a " + t.String()
}
