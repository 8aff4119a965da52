package apiserver

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// withValuePath prefixes a decoding error of body (JSON or YAML) into an
// object like into with the path of the value its type refused, when
// refusedValue finds one: "spec.interval: time: invalid duration".
func withValuePath(err error, body []byte, into any) error {
	var doc any
	if yaml.Unmarshal(body, &doc) != nil {
		return err
	}
	if p := refusedValue(doc, into); p != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return err
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// refusedValue finds where in doc (a decoded JSON object) a value sits
// that its Go type (in into's type) refuses when it parses itself — a
// quantity, a duration, a time — whose errors do not say where
// ("quantities must match the regular expression ..."). It returns the
// first such path in a stable order, e.g.
// spec.template.spec.containers[0].resources.limits[cpu], or nil.
func refusedValue(doc any, into any) *field.Path {
	if into == nil {
		return nil
	}
	return refusedAt(doc, reflect.TypeOf(into), nil)
}

func refusedAt(v any, t reflect.Type, path *field.Path) *field.Path {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if path == nil {
			return nil
		}
		data, err := json.Marshal(v)
		if err != nil {
			return nil
		}
		if json.Unmarshal(data, reflect.New(t).Interface()) != nil {
			return path
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch {
			case name == "-" || !f.IsExported():
			case f.Anonymous && name == "", strings.Contains(opts, "inline"):
				if p := refusedAt(v, f.Type, path); p != nil {
					return p
				}
			case name != "":
				if child, ok := m[name]; ok {
					if p := refusedAt(child, f.Type, childOf(path, name)); p != nil {
						return p
					}
				}
			}
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok || path == nil {
			return nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p := refusedAt(m[k], t.Elem(), path.Key(k)); p != nil {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		l, ok := v.([]any)
		if !ok || path == nil {
			return nil
		}
		for i, e := range l {
			if p := refusedAt(e, t.Elem(), path.Index(i)); p != nil {
				return p
			}
		}
	}
	return nil
}

func childOf(p *field.Path, name string) *field.Path {
	if p == nil {
		return field.NewPath(name)
	}
	return p.Child(name)
}
