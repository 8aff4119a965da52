package envvars

import (
	"maps"
	"slices"
)

// sortedKeys gives envFrom a stable order (Go maps have none).
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
