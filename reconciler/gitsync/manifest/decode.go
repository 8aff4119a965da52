package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"

	"github.com/berth-io/berth/internal/yamlpath"
)

// Decode reads o strictly into into, a typed object such as
// *appsv1.Deployment, as the API server's strict field validation does:
// unknown fields and values of the wrong type are Errors at the field's
// position (duplicate keys were already reported by Render). into holds
// what could be decoded; after a type error the rest of it may be missing.
func Decode(o *Object, into runtime.Object) []Error {
	strict, err := sigsjson.UnmarshalStrict(o.Raw, into)
	if err != nil {
		return []Error{o.decodeError(err)}
	}
	var errs []Error
	for _, e := range strict {
		var fe sigsjson.FieldError
		if !errors.As(e, &fe) {
			errs = append(errs, Error{Pos: o.Pos, Object: o.String(), Message: e.Error()})
			continue
		}
		// `unknown field "spec.replica"`, `duplicate field "..."`
		message, _, _ := strings.Cut(e.Error(), ` "`)
		if message == "unknown field" {
			message += " (check its spelling and indentation against the " + o.GVK.Kind + " schema)"
		}
		errs = append(errs, Error{Pos: o.FieldPosition(fe.FieldPath()), Object: o.String(), Field: fe.FieldPath(), Message: message})
	}
	return errs
}

// decodeError describes an error of json.Unmarshal, at the offending field
// when it names one.
func (o *Object) decodeError(err error) Error {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		e := Error{Pos: o.Pos, Object: o.String(), Message: strings.TrimPrefix(err.Error(), "json: ")}
		if strings.HasPrefix(e.Message, "quantities must match") {
			// resource.Quantity's own error names no field: find the value.
			if n := o.node(); n != nil {
				if mark, path := badQuantity(n, ""); mark != nil {
					e.Pos = Position{File: o.Pos.File, Line: mark.Line, Column: mark.Column}
					e.Field = path
					e.Message = "not a quantity: write a number with an optional suffix, such as 500m, 2, 128Mi or 1G"
				}
			}
		}
		return e
	}
	got, _, _ := strings.Cut(te.Value, " ")
	pos, fieldPath := o.Pos, te.Field
	if node := o.node(); node != nil {
		mark, found := yamlpath.LocateFound(node, yamlpath.Parse(te.Field), node, func(n *yamlv3.Node) bool { return jsonKind(n) == got })
		pos = Position{File: o.Pos.File, Line: mark.Line, Column: mark.Column}
		if p, ok := pathTo(node, mark, ""); found && ok && p != "" {
			fieldPath = p // encoding/json leaves out list indices
		}
	}
	message := fmt.Sprintf("must be %s, not %s", yamlpath.TypeWord(te.Type), jsonWord(got))
	if got == "bool" && yamlpath.TypeWord(te.Type) == "a string" {
		message += ` (quote values such as "yes", "no", "on" or "off", which YAML reads as booleans)`
	}
	if got == "number" && yamlpath.TypeWord(te.Type) == "a string" {
		message += " (quote it)"
	}
	return Error{Pos: pos, Object: o.String(), Field: fieldPath, Message: message}
}

// jsonKind names the JSON type a YAML node decodes to, as
// json.UnmarshalTypeError.Value does.
func jsonKind(n *yamlv3.Node) string {
	n = yamlpath.Deref(n)
	switch n.Kind {
	case yamlv3.MappingNode:
		return "object"
	case yamlv3.SequenceNode:
		return "array"
	case yamlv3.ScalarNode:
		var c converter
		switch c.scalar(n).(type) {
		case int64, float64:
			return "number"
		case bool:
			return "bool"
		case nil:
			return "null"
		}
		return "string"
	}
	return ""
}

// jsonWord names a JSON type as a YAML author thinks of it.
func jsonWord(kind string) string {
	switch kind {
	case "object":
		return "an object"
	case "array":
		return "a list"
	case "bool":
		return "a boolean"
	case "number":
		return "a number"
	}
	return "a " + kind
}

// quantityMaps are the fields whose values are maps of resource
// quantities.
var quantityMaps = map[string]bool{"requests": true, "limits": true, "overhead": true, "capacity": true, "allocatable": true, "hard": true}

// badQuantity finds the first value below n, a node at path, that is in a
// map of quantities (or is a sizeLimit) and does not parse as one; it
// returns its key node and field path.
func badQuantity(n *yamlv3.Node, path string) (*yamlv3.Node, string) {
	n = yamlpath.Deref(n)
	switch n.Kind {
	case yamlv3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := yamlpath.Deref(n.Content[i]), yamlpath.Deref(n.Content[i+1])
			p := joinPath(path, k.Value)
			if k.Value == "sizeLimit" && !isQuantity(v) {
				return k, p
			}
			if quantityMaps[k.Value] && v.Kind == yamlv3.MappingNode {
				for j := 0; j+1 < len(v.Content); j += 2 {
					if !isQuantity(yamlpath.Deref(v.Content[j+1])) {
						return v.Content[j], p + "[" + yamlpath.Deref(v.Content[j]).Value + "]"
					}
				}
			}
			if mark, at := badQuantity(v, p); mark != nil {
				return mark, at
			}
		}
	case yamlv3.SequenceNode:
		for i, c := range n.Content {
			if mark, at := badQuantity(c, fmt.Sprintf("%s[%d]", path, i)); mark != nil {
				return mark, at
			}
		}
	}
	return nil, ""
}

// isQuantity reports whether a scalar node holds a valid quantity.
func isQuantity(n *yamlv3.Node) bool {
	if n.Kind != yamlv3.ScalarNode {
		return true // a wrong type is reported as such
	}
	_, err := resource.ParseQuantity(n.Value)
	return err == nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// pathTo is the field path, with list indices, from n (at path at) to the
// mapping key or list element target.
func pathTo(n, target *yamlv3.Node, at string) (string, bool) {
	n = yamlpath.Deref(n)
	switch n.Kind {
	case yamlv3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := yamlpath.Deref(n.Content[i])
			p := joinKey(at, k.Value)
			if n.Content[i] == target {
				return p, true
			}
			if p, ok := pathTo(n.Content[i+1], target, p); ok {
				return p, true
			}
		}
	case yamlv3.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", at, i)
			if c == target {
				return p, true
			}
			if p, ok := pathTo(c, target, p); ok {
				return p, true
			}
		}
	}
	return "", false
}

// joinKey appends a mapping key to a field path, in brackets when it holds
// a dot or a slash (a label or annotation key), as field.Path writes them.
func joinKey(path, key string) string {
	if strings.ContainsAny(key, "./[]") {
		return path + "[" + key + "]"
	}
	return joinPath(path, key)
}
