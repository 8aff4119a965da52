package policies

import (
	"fmt"
	"strings"
)

// Problem is one error or warning found in the policy files, with where it
// was found.
type Problem struct {
	// File is the file's path (a directory's, for a directory that could not
	// be read); "(builtin)/..." for the embedded bootstrap files.
	File string `json:"file"`
	// Line is the 1-based line of the offending field, or of its document
	// when the field is not in the file; 0 for a whole file.
	Line int `json:"line"`
	// Object names the object, such as `ClusterRole "view"` or
	// `RoleBinding "dev/readers"`; empty when the document could not be
	// decoded far enough to name one.
	Object string `json:"object,omitempty"`
	// Field is the field path, such as "rules[0].verbs"; may be empty.
	Field string `json:"field,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// String renders p as "file:line: object: field: message", leaving out the
// parts p does not have.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Object != "" {
		b.WriteString(p.Object)
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// LoadError is returned when policy files have errors. It lists every
// error found, not only the first.
type LoadError struct {
	Problems []Problem
}

// Error lists the problems, one a line.
func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d error(s) in policy files:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// objectName names an object as messages do: Kind "name" or
// Kind "namespace/name".
func objectName(kind, namespace, name string) string {
	switch {
	case name == "":
		return kind + " (no name)"
	case namespace == "":
		return fmt.Sprintf("%s %q", kind, name)
	default:
		return fmt.Sprintf("%s %q", kind, namespace+"/"+name)
	}
}
