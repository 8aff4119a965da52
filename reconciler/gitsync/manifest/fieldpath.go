package manifest

import (
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
)

// segment is one step of a field path: a key, or an index when index >= 0.
type segment struct {
	key   string
	index int
}

// parsePath splits a field path as field.Path and encoding/json write it:
// "spec.containers[0].image", "metadata.labels[app.kubernetes.io/name]".
func parsePath(p string) []segment {
	var segs []segment
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
				segs = append(segs, segment{index: i})
			} else {
				segs = append(segs, segment{key: inner, index: -1})
			}
			p = p[min(end+1, len(p)):]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			segs = append(segs, segment{key: p[:end], index: -1})
			p = p[end:]
		}
	}
	return segs
}

// locate returns the node that marks the field at segs below n: the key of
// a mapping entry, or the element of a list. When the field is missing it
// returns the mark of the deepest enclosing field present; at is n's own
// mark. A key segment applied to a list (encoding/json names fields
// without indices) searches the elements in order for one that has the
// rest of the path.
func locate(n *yamlv3.Node, segs []segment, at *yamlv3.Node) *yamlv3.Node {
	mark, _ := locateFound(n, segs, at, nil)
	return mark
}

// locateFound is locate that also says whether the field was found; want,
// if not nil, must accept the field's value node for it to count as found
// (to pick, among list elements, the one whose value has a wrong type).
func locateFound(n *yamlv3.Node, segs []segment, at *yamlv3.Node, want func(*yamlv3.Node) bool) (*yamlv3.Node, bool) {
	n = deref(n)
	if len(segs) == 0 {
		if want == nil || want(n) {
			return at, true
		}
		// encoding/json names a map's field, not the key whose value has
		// the wrong type: find the first such value.
		if n.Kind == yamlv3.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if want(deref(n.Content[i+1])) {
					return n.Content[i], true
				}
			}
		}
		return at, false
	}
	seg := segs[0]
	switch {
	case n.Kind == yamlv3.MappingNode && seg.index < 0:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if deref(n.Content[i]).Value == seg.key {
				return locateFound(n.Content[i+1], segs[1:], n.Content[i], want)
			}
		}
		// The key may come from a merged mapping (<<: *base).
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Tag == "!!merge" {
				if mark, ok := locateFound(n.Content[i+1], segs, at, want); ok {
					return mark, true
				}
			}
		}
	case n.Kind == yamlv3.SequenceNode && seg.index >= 0:
		if seg.index < len(n.Content) {
			return locateFound(n.Content[seg.index], segs[1:], n.Content[seg.index], want)
		}
	case n.Kind == yamlv3.SequenceNode:
		first := at
		for _, c := range n.Content {
			mark, ok := locateFound(c, segs, c, want)
			if ok {
				return mark, true
			}
			if mark != c && first == at {
				first = mark // the field exists here, but want rejects it
			}
		}
		return first, false
	}
	return at, false
}

// deref follows an alias to the node it names.
func deref(n *yamlv3.Node) *yamlv3.Node {
	for n.Kind == yamlv3.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}
