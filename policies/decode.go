package policies

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/berth-io/berth/internal/yamlpath"
)

// policyObject is one of the four RBAC kinds.
type policyObject interface {
	runtime.Object
	metav1.Object
}

// document is one YAML document being decoded, and where it came from.
type document struct {
	file   string
	line   int // line of the document's first field
	offset int // added to the lines yaml.v3 counts from the document's start
	text   []byte
	kind   string
	obj    policyObject // nil until kind is known

	parsed bool
	root   *yamlv3.Node // the document's top node; nil if yaml.v3 cannot parse it
}

// name names d's object for messages, or is empty before it is decoded.
func (d *document) name() string {
	if d.obj == nil {
		return ""
	}
	return objectName(d.kind, d.obj.GetNamespace(), d.obj.GetName())
}

// fieldLine is the line of the field at path in d (see yamlpath.LocateFound); want, if
// not nil, picks among the elements of a list. The YAML is parsed for
// positions only here, when a problem needs one: most documents have none.
func (d *document) fieldLine(path string, want func(*yamlv3.Node) bool) int {
	if !d.parsed {
		d.parsed = true
		var node yamlv3.Node
		if yamlv3.Unmarshal(d.text, &node) == nil && len(node.Content) > 0 {
			d.root = node.Content[0]
		}
	}
	if d.root == nil {
		return d.line
	}
	mark, _ := yamlpath.LocateFound(d.root, yamlpath.Parse(path), d.root, want)
	return d.offset + mark.Line
}

// problem is a Problem with the field at path of d.
func (d *document) problem(path, message string) Problem {
	return Problem{File: d.file, Line: d.fieldLine(path, nil), Object: d.name(), Field: path, Message: message}
}

// chunk is the text of one YAML document and the file line it starts on.
type chunk struct {
	line int
	data []byte
}

// decodeFile decodes every document of f. Documents with errors are left
// out of the result and described in the problems.
func decodeFile(f file) ([]*document, []Problem) {
	chunks := []chunk{{line: 1, data: f.data}}
	if path.Ext(strings.ToLower(f.name)) != ".json" {
		chunks = splitDocuments(f.data)
	}
	var docs []*document
	var problems []Problem
	for _, c := range chunks {
		d, ps := decodeDocument(f.name, c)
		problems = append(problems, ps...)
		if d != nil && len(ps) == 0 {
			docs = append(docs, d)
		}
	}
	return docs, problems
}

// splitDocuments cuts YAML text at "---" lines, as kubectl's YAML reader
// does: a line that starts with "---" followed by nothing but blanks or a
// comment.
func splitDocuments(data []byte) []chunk {
	var out []chunk
	start, startLine, line := 0, 1, 1
	for pos := 0; pos < len(data); line++ {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end >= 0 {
			next = pos + end + 1
		}
		text := data[pos:next]
		if rest, ok := bytes.CutPrefix(text, []byte("---")); ok {
			rest = bytes.TrimSpace(rest)
			if len(rest) == 0 || rest[0] == '#' {
				out = append(out, chunk{line: startLine, data: data[start:pos]})
				start, startLine = next, line+1
			}
		}
		pos = next
	}
	return append(out, chunk{line: startLine, data: data[start:]})
}

// decodeDocument decodes one document strictly. It returns nil and no
// problem for an empty document.
func decodeDocument(fileName string, c chunk) (*document, []Problem) {
	// sigs.k8s.io/yaml reads YAML as kubectl does (YAML 1.1); the lines of
	// fields come from yaml.v3, on demand.
	data, err := yaml.YAMLToJSONStrict(c.data)
	if err != nil {
		return nil, yamlProblems(fileName, c.line, c.data, err)
	}
	d := &document{file: fileName, line: c.line + firstContentLine(c.data), offset: c.line - 1, text: c.data}
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || string(data) == "null":
		return nil, nil
	case data[0] != '{':
		return nil, []Problem{d.problem("", "a document must be an object with apiVersion and kind, found "+jsonValueKind(data))}
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(data, &tm); err != nil {
		return nil, []Problem{d.problem("", "apiVersion and kind must be strings")}
	}
	if tm.APIVersion != rbacv1.SchemeGroupVersion.String() {
		return nil, []Problem{d.problem("apiVersion", fmt.Sprintf("Unsupported value: %q: supported values: %q (a policy directory holds only RBAC objects)", tm.APIVersion, rbacv1.SchemeGroupVersion.String()))}
	}
	if d.obj = newObject(tm.Kind); d.obj == nil {
		return nil, []Problem{d.problem("kind", fmt.Sprintf(`Unsupported value: %q: supported values: "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"`, tm.Kind))}
	}
	d.kind = tm.Kind
	strict, err := sigsjson.UnmarshalStrict(data, d.obj)
	if err != nil {
		return nil, []Problem{d.decodeProblem(err)}
	}
	var problems []Problem
	for _, e := range strict {
		var fe sigsjson.FieldError
		if errors.As(e, &fe) {
			// "unknown field \"rules[0].verb\"" or "duplicate field ..."
			message, _, _ := strings.Cut(e.Error(), ` "`)
			problems = append(problems, d.problem(fe.FieldPath(), message))
			continue
		}
		problems = append(problems, d.problem("", e.Error()))
	}
	return d, problems
}

// firstContentLine is the 0-based line of text's first line that is not
// blank, a comment or a directive: where yaml.v3 puts the top node.
func firstContentLine(text []byte) int {
	for i, line := range bytes.Split(text, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && line[0] != '%' && !bytes.HasPrefix(line, []byte("---")) {
			return i
		}
	}
	return 0
}

// jsonValueKind names the JSON value data holds, for messages.
func jsonValueKind(data []byte) string {
	switch data[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a bool"
	}
	return "a number"
}

// decodeProblem describes an error of json.Unmarshal, pointing at the
// offending field when it can.
func (d *document) decodeProblem(err error) Problem {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		return Problem{File: d.file, Line: d.line, Object: d.name(), Message: err.Error()}
	}
	got, _, _ := strings.Cut(te.Value, " ")
	line := d.fieldLine(te.Field, func(n *yamlv3.Node) bool { return jsonKind(n) == got })
	message := fmt.Sprintf("must be %s, not %s", yamlpath.TypeWord(te.Type), got)
	if got == "bool" {
		message += ` (quote values such as "n", "no", "on" or "off", which YAML reads as booleans)`
	}
	return Problem{File: d.file, Line: line, Object: d.name(), Field: te.Field, Message: message}
}

// newObject returns an empty object of an RBAC kind, or nil for any other.
func newObject(kind string) policyObject {
	switch kind {
	case "Role":
		return &rbacv1.Role{}
	case "ClusterRole":
		return &rbacv1.ClusterRole{}
	case "RoleBinding":
		return &rbacv1.RoleBinding{}
	case "ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}
	}
	return nil
}

// yamlLine matches the position in a YAML parser's message.
var yamlLine = regexp.MustCompile(`line (\d+): `)

// yamlProblems turns a YAML parser error into problems at file lines; the
// parser counts lines from the document's first line, firstLine. The
// parser's own errors ("did not find expected key") count from 0 where
// the scanner's and the decoder's count from 1.
func yamlProblems(fileName string, firstLine int, data []byte, err error) []Problem {
	text := err.Error()
	text = strings.TrimPrefix(text, "error converting YAML to JSON: ")
	text = strings.TrimPrefix(text, "yaml: ")
	text = strings.TrimPrefix(text, "unmarshal errors:\n")
	var out []Problem
	for _, msg := range strings.Split(text, "\n") {
		msg = strings.TrimSpace(msg)
		p := Problem{File: fileName, Line: firstLine, Message: "invalid YAML: " + msg}
		if m := yamlLine.FindStringSubmatchIndex(msg); m != nil {
			n, _ := strconv.Atoi(msg[m[2]:m[3]])
			if strings.HasPrefix(msg[m[1]:], "did not find expected") {
				n++
			}
			p.Line = firstLine - 1 + n
			p.Message = "invalid YAML: " + msg[:m[0]] + msg[m[1]:]
		}
		if last := firstLine - 1 + lastLine(data); p.Line > last {
			p.Line = last // an error at the end of the stream
		}
		out = append(out, p)
	}
	return out
}

// lastLine is the number of the last line of data that is not blank.
func lastLine(data []byte) int {
	return bytes.Count(bytes.TrimRight(data, " \t\r\n"), []byte("\n")) + 1
}

// jsonKind names the JSON type a YAML node decodes to, as
// json.UnmarshalTypeError.Value does.
func jsonKind(n *yamlv3.Node) string {
	switch n.Kind {
	case yamlv3.MappingNode:
		return "object"
	case yamlv3.SequenceNode:
		return "array"
	case yamlv3.AliasNode:
		if n.Alias != nil {
			return jsonKind(n.Alias)
		}
	case yamlv3.ScalarNode:
		switch n.Tag {
		case "!!int", "!!float":
			return "number"
		case "!!bool":
			return "bool"
		case "!!null":
			return "null"
		}
		if _, ok := yamlpath.YAML11Bool(n.Value); ok && n.Style == 0 {
			return "bool"
		}
		return "string"
	}
	return ""
}
