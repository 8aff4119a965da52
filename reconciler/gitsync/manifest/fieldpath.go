package manifest

import (
	yamlv3 "go.yaml.in/yaml/v3"

	"github.com/berth-io/berth/internal/yamlpath"
)

// segment is a mapping key in a field path, as yaml.go and kustomize.go
// name one for locate.
type segment struct {
	key   string
	index int // always -1: a key
}

// locate is yamlpath.Locate for the keys segs below n, whose own mark is
// at.
func locate(n *yamlv3.Node, segs []segment, at *yamlv3.Node) *yamlv3.Node {
	path := make([]yamlpath.Segment, len(segs))
	for i, s := range segs {
		path[i] = yamlpath.Segment{Key: s.key, Index: s.index}
	}
	return yamlpath.Locate(n, path, at)
}

// deref follows an alias to the node it names (yamlpath.Deref).
func deref(n *yamlv3.Node) *yamlv3.Node { return yamlpath.Deref(n) }
