package openapi

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/builder3/util"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// flavour is the OpenAPI dialect a schema is written in.
type flavour int

const (
	// swagger2 is OpenAPI v2: references under #/definitions/ with
	// descriptions beside them, no defaults.
	swagger2 flavour = iota
	// openAPIV3 is OpenAPI v3: references under #/components/schemas/,
	// wrapped in allOf when they carry a description or default; defaults
	// and oneOf alternatives are kept.
	openAPIV3
)

// refPrefix is where definitions live in a document of this flavour.
func (f flavour) refPrefix() string {
	if f == openAPIV3 {
		return "#/components/schemas/"
	}
	return "#/definitions/"
}

// ref is a schema that points at definition name.
func (f flavour) ref(name string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(f.refPrefix() + name)}}
}

// The interfaces apimachinery's special types implement to say how they
// look on the wire (Quantity, IntOrString, Time, MicroTime, Duration).
type (
	openAPISchemaTyper interface {
		OpenAPISchemaType() []string
		OpenAPISchemaFormat() string
	}
	openAPIV3OneOfTyper interface {
		OpenAPIV3OneOfTypes() []string
	}
	swaggerDocer interface {
		SwaggerDoc() map[string]string
	}
)

var jsonMarshalerType = reflect.TypeFor[json.Marshaler]()

// definitions builds the schemas of Go struct types by reflection, the way
// upstream's openapi-gen does from source: one definition per struct type,
// named like upstream, json tag names as properties, SwaggerDoc() text as
// descriptions, fields without omitempty as required, patch strategy tags
// as extensions, and list and map types from the merge schema.
type definitions struct {
	flavour flavour
	merge   *mergeSchema
	defs    spec.Definitions
	types   map[string]reflect.Type
}

func newDefinitions(f flavour, merge *mergeSchema) *definitions {
	return &definitions{flavour: f, merge: merge, defs: spec.Definitions{}, types: map[string]reflect.Type{}}
}

// add defines the struct type t (or the struct a pointer t points to) and
// every type it reaches, and returns t's definition name.
func (d *definitions) add(t reflect.Type) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t.Name() == "" {
		return "", fmt.Errorf("openapi: %v is not a named struct type", t)
	}
	name := definitionName(t)
	if seen, ok := d.types[name]; ok {
		if seen != t {
			return "", fmt.Errorf("openapi: Go types %v and %v both want definition name %q", seen, t, name)
		}
		return name, nil
	}
	d.types[name] = t // before recursing, so that cycles end here
	s, err := d.structSchema(t)
	if err != nil {
		return "", err
	}
	d.merge.annotate(name, &s, d.flavour)
	if d.flavour == openAPIV3 {
		s = *util.WrapRefs(&s)
	}
	d.defs[name] = s
	return name, nil
}

// structSchema is the definition of struct type t.
func (d *definitions) structSchema(t reflect.Type) (spec.Schema, error) {
	zero := reflect.New(t).Elem().Interface()
	s := spec.Schema{SchemaProps: spec.SchemaProps{Description: docs(t)[""]}}
	if typer, ok := zero.(openAPISchemaTyper); ok {
		s.Format = typer.OpenAPISchemaFormat()
		oneOf, ok := zero.(openAPIV3OneOfTyper)
		if d.flavour == openAPIV3 && ok {
			s.OneOf = common.GenerateOpenAPIV3OneOfSchema(oneOf.OpenAPIV3OneOfTypes())
		} else {
			s.Type = typer.OpenAPISchemaType()
		}
		return s, nil
	}
	s.Type = []string{"object"}
	if !isPlainStruct(t) {
		// RawExtension, FieldsV1: free-form JSON objects.
		return s, nil
	}
	if err := d.addFields(t, &s); err != nil {
		return spec.Schema{}, err
	}
	return s, nil
}

// addFields adds the json fields of struct t to s, flattening embedded
// structs that are inlined (TypeMeta, VolumeSource, ProbeHandler, ...).
func (d *definitions) addFields(t reflect.Type, s *spec.Schema) error {
	doc := docs(t)
	for i := range t.NumField() {
		f := t.Field(i)
		name, omitempty := jsonName(f)
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			embedded := f.Type
			for embedded.Kind() == reflect.Pointer {
				embedded = embedded.Elem()
			}
			if embedded.Kind() == reflect.Struct {
				if err := d.addFields(embedded, s); err != nil {
					return err
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		prop, err := d.typeSchema(f.Type)
		if err != nil {
			return fmt.Errorf("%v.%s: %w", t, f.Name, err)
		}
		prop.Description = doc[name]
		if d.flavour == openAPIV3 {
			prop.Default = zeroDefault(f.Type, omitempty)
		}
		if v := f.Tag.Get("patchStrategy"); v != "" {
			prop.AddExtension("x-kubernetes-patch-strategy", v)
		}
		if v := f.Tag.Get("patchMergeKey"); v != "" {
			prop.AddExtension("x-kubernetes-patch-merge-key", v)
		}
		if s.Properties == nil {
			s.Properties = map[string]spec.Schema{}
		}
		s.Properties[name] = prop
		if !omitempty {
			s.Required = append(s.Required, name)
		}
	}
	return nil
}

// typeSchema is the schema of a value of Go type t: a reference for
// structs, an inline schema for everything else.
func (d *definitions) typeSchema(t reflect.Type) (spec.Schema, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		name, err := d.add(t)
		if err != nil {
			return spec.Schema{}, err
		}
		return d.flavour.ref(name), nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return primitive("string", "byte"), nil
		}
		items, err := d.typeSchema(t.Elem())
		if err != nil {
			return spec.Schema{}, err
		}
		return *spec.ArrayProperty(&items), nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return spec.Schema{}, fmt.Errorf("map key type %v is not a string", t.Key())
		}
		values, err := d.typeSchema(t.Elem())
		if err != nil {
			return spec.Schema{}, err
		}
		return *spec.MapProperty(&values), nil
	}
	if s, ok := scalarSchema(t.Kind()); ok {
		return s, nil
	}
	return spec.Schema{}, fmt.Errorf("Go type %v has no OpenAPI schema", t)
}

// zeroDefault is the default OpenAPI v3 gives a field of Go type t when
// the source says nothing else, as upstream's generator does: an empty
// object for a struct held by value, the zero value for a scalar that is
// always sent. It is nil otherwise.
func zeroDefault(t reflect.Type, omitempty bool) interface{} {
	if t.Kind() == reflect.Struct {
		if isPlainStruct(t) {
			return map[string]interface{}{}
		}
		return nil
	}
	if omitempty {
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		return ""
	case reflect.Bool:
		return false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return 0
	case reflect.Float32, reflect.Float64:
		return 0.0
	}
	return nil
}

// isPlainStruct reports whether struct type t is described by its fields,
// rather than being one of the types with their own wire form (Time,
// Quantity, RawExtension, ...).
func isPlainStruct(t reflect.Type) bool {
	_, special := reflect.New(t).Elem().Interface().(openAPISchemaTyper)
	return !special && !reflect.PointerTo(t).Implements(jsonMarshalerType)
}

// scalarSchema is the schema of a Go string, bool or number kind.
func scalarSchema(k reflect.Kind) (spec.Schema, bool) {
	switch k {
	case reflect.String:
		return primitive("string", ""), true
	case reflect.Bool:
		return primitive("boolean", ""), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return primitive("integer", "int32"), true
	case reflect.Int64, reflect.Uint, reflect.Uint64:
		return primitive("integer", "int64"), true
	case reflect.Float32:
		return primitive("number", "float"), true
	case reflect.Float64:
		return primitive("number", "double"), true
	}
	return spec.Schema{}, false
}

func primitive(typ, format string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: []string{typ}, Format: format}}
}

// docs is the SwaggerDoc() of struct type t: field descriptions by json
// name, the type's own under "".
func docs(t reflect.Type) map[string]string {
	if d, ok := reflect.New(t).Elem().Interface().(swaggerDocer); ok {
		return d.SwaggerDoc()
	}
	return nil
}

// jsonName is the name a struct field has in JSON ("" for an inlined
// embedded struct, "-" for a skipped field) and whether it may be left out.
func jsonName(f reflect.StructField) (name string, omitempty bool) {
	tag, ok := f.Tag.Lookup("json")
	if !ok {
		if f.Anonymous {
			return "", false
		}
		return f.Name, false
	}
	name, opts, _ := strings.Cut(tag, ",")
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "inline":
			return "", false
		case "omitempty", "omitzero":
			omitempty = true
		}
	}
	return name, omitempty
}

// addRoots defines roots and all they reach, and marks the definitions of
// the roots kindsOf names kinds for with x-kubernetes-group-version-kind.
func (d *definitions) addRoots(roots []reflect.Type, kindsOf map[reflect.Type][]schema.GroupVersionKind) error {
	for _, t := range roots {
		name, err := d.add(t)
		if err != nil {
			return err
		}
		gvks := kindsOf[t]
		if len(gvks) == 0 {
			continue
		}
		ext := make([]interface{}, len(gvks))
		for i, gvk := range gvks {
			ext[i] = map[string]interface{}{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
		}
		s := d.defs[name]
		s.AddExtension("x-kubernetes-group-version-kind", ext)
		d.defs[name] = s
	}
	return nil
}
