package openapi

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/kube-openapi/pkg/validation/spec"
	smd "sigs.k8s.io/structured-merge-diff/v6/schema"
)

// Extension keys that describe how lists and maps merge. Upstream generates
// them from "+listType", "+listMapKey" and "+mapType" comment markers, which
// reflection cannot see; client-go carries the same facts in the
// structured-merge-diff schema it uses for server-side apply, so they are
// read from there.
const (
	extListType    = "x-kubernetes-list-type"
	extListMapKeys = "x-kubernetes-list-map-keys"
	extMapType     = "x-kubernetes-map-type"
)

// mergeSchema answers, for a definition name and a field, the list type,
// map type and default value upstream publishes. It knows every type that
// has an apply configuration in client-go; for other types (list kinds,
// options) it knows nothing and the schema carries no such extensions.
type mergeSchema struct {
	schema *smd.Schema
}

// loadMergeSchema reads client-go's structured-merge-diff schema of the
// built-in types. The schema is only reachable through a typed value, so a
// ConfigMap is converted to get at it.
func loadMergeSchema() (*mergeSchema, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("openapi: registering core/v1 to read the merge schema: %w", err)
	}
	probe := &corev1.ConfigMap{}
	probe.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	typed, err := applyconfigurations.NewTypeConverter(scheme).ObjectToTyped(probe)
	if err != nil {
		return nil, fmt.Errorf("openapi: reading client-go's merge schema: %w", err)
	}
	return &mergeSchema{schema: typed.Schema()}, nil
}

// annotate adds the map type of definition name to its schema s, and the
// list type, list map keys and map type of each of its properties. For
// OpenAPI v3 the merge schema's defaults replace those s has, as they are
// upstream's own.
func (m *mergeSchema) annotate(name string, s *spec.Schema, f flavour) {
	def, ok := m.schema.FindNamedType(name)
	if !ok || def.Map == nil {
		return
	}
	if t := mapType(def.Map.ElementRelationship); t != "" {
		s.AddExtension(extMapType, t)
	}
	for prop, ps := range s.Properties {
		field, ok := def.Map.FindField(prop)
		if !ok {
			continue
		}
		annotateField(&ps, field, f)
		s.Properties[prop] = ps
	}
}

// annotateField adds what field says about merging to the property schema
// ps; defaults exist in OpenAPI v3 only, as upstream prunes them from v2.
func annotateField(ps *spec.Schema, field smd.StructField, f flavour) {
	if f == openAPIV3 {
		ps.Default = jsonCompatible(field.Default)
	}
	if r := field.Type.ElementRelationship; r != nil {
		// The field overrides the map type of the struct it refers to.
		if t := mapType(*r); t != "" {
			ps.AddExtension(extMapType, t)
		}
	}
	atom := field.Type.Inlined
	switch {
	case atom.List != nil:
		list := atom.List
		switch {
		case list.ElementRelationship == smd.Associative && len(list.Keys) > 0:
			ps.AddExtension(extListType, "map")
			ps.AddExtension(extListMapKeys, append([]string(nil), list.Keys...))
		case list.ElementRelationship == smd.Associative:
			ps.AddExtension(extListType, "set")
		case list.ElementRelationship == smd.Atomic:
			ps.AddExtension(extListType, "atomic")
		}
	case atom.Map != nil:
		if t := mapType(atom.Map.ElementRelationship); t != "" {
			ps.AddExtension(extMapType, t)
		}
	}
}

// mapType is the x-kubernetes-map-type value of a map's element
// relationship, or "" when the map has the default (granular) behaviour
// without saying so.
func mapType(r smd.ElementRelationship) string {
	switch r {
	case smd.Atomic:
		return "atomic"
	case smd.Separable:
		return "granular"
	}
	return ""
}

// jsonCompatible turns a value decoded from YAML into one encoding/json can
// marshal: maps keyed by interface{} become maps keyed by string.
func jsonCompatible(v interface{}) interface{} {
	switch v := v.(type) {
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(v))
		for k, e := range v {
			out[fmt.Sprint(k)] = jsonCompatible(e)
		}
		return out
	case map[string]interface{}:
		out := make(map[string]interface{}, len(v))
		for k, e := range v {
			out[k] = jsonCompatible(e)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(v))
		for i, e := range v {
			out[i] = jsonCompatible(e)
		}
		return out
	}
	return v
}
