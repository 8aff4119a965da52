package apiserver

import (
	"bytes"

	sigsjson "sigs.k8s.io/json"
)

// plainJSON reports whether an applied configuration is JSON that reading
// it as YAML (as server-side apply does, and kube-apiserver with it)
// would turn into the same object: a JSON object of printable ASCII
// without escapes or tabs (where YAML's rules and JSON's part), without
// fractions or exponents (YAML would make 1.0 the integer 1) and without a
// key given twice. Such a body is its own JSON form, and the YAML parser,
// most of the cost of reading one, is skipped. Anything else goes the
// YAML way, with its answers and errors.
func plainJSON(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return false
	}
	for _, b := range data {
		if (b < ' ' && b != '\n' && b != '\r') || b == '\\' || b >= 0x7f {
			return false
		}
	}
	var obj any
	strict, err := sigsjson.UnmarshalStrict(data, &obj)
	if err != nil || len(strict) > 0 {
		return false
	}
	return !hasFloat(obj)
}

// hasFloat reports whether a decoded JSON value holds a number that is not
// an integer (sigs.k8s.io/json decodes integers as int64).
func hasFloat(v any) bool {
	switch v := v.(type) {
	case float64:
		return true
	case map[string]any:
		for _, e := range v {
			if hasFloat(e) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if hasFloat(e) {
				return true
			}
		}
	}
	return false
}
