package validate

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-io/berth/policies"
)

// Format is an output format of Write.
type Format string

// The formats Write renders.
const (
	// FormatText is one line a finding, "file:line:col: severity: object:
	// field: message", then a summary line.
	FormatText Format = "text"
	// FormatJSON is one JSON document with the counts and the findings.
	FormatJSON Format = "json"
	// FormatJUnit is JUnit XML with a test case per object, for CI test
	// reports.
	FormatJUnit Format = "junit"
	// FormatGitHub is GitHub Actions workflow commands (::error file=...::)
	// that annotate a pull request's files, then the summary line.
	FormatGitHub Format = "github"
)

// Formats lists the formats, for flag help.
var Formats = []Format{FormatText, FormatJSON, FormatJUnit, FormatGitHub}

// Write renders r in format; strict counts warnings as errors.
func Write(w io.Writer, r *Report, format Format, strict bool) error {
	switch format {
	case FormatText:
		return writeText(w, r, strict)
	case FormatJSON:
		return writeJSON(w, r, strict)
	case FormatJUnit:
		return writeJUnit(w, r, strict)
	case FormatGitHub:
		return writeGitHub(w, r, strict)
	}
	return fmt.Errorf("unknown output format %q: use one of %s", format, formatList())
}

func formatList() string {
	var names []string
	for _, f := range Formats {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

// String renders f as the text format's line.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.Position().String())
	b.WriteString(": ")
	b.WriteString(string(f.Severity))
	b.WriteString(": ")
	if f.Object != "" {
		b.WriteString(f.Object)
		b.WriteString(": ")
	}
	if f.Field != "" {
		b.WriteString(f.Field)
		b.WriteString(": ")
	}
	b.WriteString(f.Message)
	return b.String()
}

// Summary is the last line of the text and github formats.
func (r *Report) Summary(strict bool) string {
	counts := fmt.Sprintf("%s in %s", plural(len(r.Objects), "object"), plural(len(r.Files), "file"))
	if r.Policy != nil {
		counts += fmt.Sprintf(" and %s", plural(len(r.policyObjects()), "policy object"))
	}
	e, w := r.Errors(), r.Warnings()
	switch {
	case e == 0 && w == 0:
		return "valid: " + counts
	case r.Valid(strict):
		return fmt.Sprintf("valid with %s: %s", plural(w, "warning"), counts)
	}
	return fmt.Sprintf("invalid: %s, %s: %s", plural(e, "error"), plural(w, "warning"), counts)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func writeText(w io.Writer, r *Report, strict bool) error {
	for _, f := range r.Findings {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, r.Summary(strict))
	return err
}

// jsonReport is the JSON format.
type jsonReport struct {
	Valid    bool      `json:"valid"`
	Objects  int       `json:"objects"`
	Files    int       `json:"files"`
	Errors   int       `json:"errors"`
	Warnings int       `json:"warnings"`
	Findings []Finding `json:"findings"`
}

func writeJSON(w io.Writer, r *Report, strict bool) error {
	out := jsonReport{Valid: r.Valid(strict), Objects: len(r.Objects), Files: len(r.Files), Errors: r.Errors(), Warnings: r.Warnings(), Findings: r.Findings}
	if out.Findings == nil {
		out.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// githubEscape escapes a workflow command's message; githubProperty also
// escapes the separators of its properties.
var (
	githubEscape   = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	githubProperty = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

func writeGitHub(w io.Writer, r *Report, strict bool) error {
	for _, f := range r.Findings {
		command := "error"
		if f.Severity == SeverityWarning && !strict {
			command = "warning"
		}
		props := []string{"file=" + githubProperty.Replace(f.File)}
		if f.Line > 0 {
			props = append(props, "line="+strconv.Itoa(f.Line))
		}
		if f.Column > 0 {
			props = append(props, "col="+strconv.Itoa(f.Column))
		}
		title := "berth validate"
		if f.Object != "" {
			title += ": " + f.Object
		}
		props = append(props, "title="+githubProperty.Replace(title))
		message := f.Message
		if f.Field != "" {
			message = f.Field + ": " + message
		}
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", command, strings.Join(props, ","), githubEscape.Replace(message)); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, r.Summary(strict))
	return err
}

// JUnit XML, as CI systems read it.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut *junitOutput  `xml:"system-out,omitempty"`
}

type junitOutput struct {
	Text string `xml:",cdata"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// caseKey identifies a test case: a file and an object in it.
type caseKey struct{ file, object string }

func writeJUnit(w io.Writer, r *Report, strict bool) error {
	var keys []caseKey
	cases := map[caseKey]*junitCase{}
	add := func(k caseKey) *junitCase {
		if c, ok := cases[k]; ok {
			return c
		}
		name := k.object
		if name == "" {
			name = k.file
		}
		c := &junitCase{Classname: k.file, Name: name}
		cases[k] = c
		keys = append(keys, k)
		return c
	}
	for i, o := range r.Objects {
		add(caseKey{path.Join(r.display(i), o.Pos.File), o.String()})
	}
	for _, k := range r.policyObjects() {
		add(k)
	}
	for _, f := range r.Findings {
		c := add(caseKey{f.File, f.Object})
		line := f.String()
		if f.Severity == SeverityWarning && !strict {
			if c.SystemOut == nil {
				c.SystemOut = &junitOutput{}
			}
			c.SystemOut.Text += line + "\n"
			continue
		}
		if c.Failure == nil {
			c.Failure = &junitFailure{Message: f.Message, Type: string(f.Severity)}
		} else {
			c.Failure.Message = fmt.Sprintf("%d problems", strings.Count(c.Failure.Text, "\n")+1)
		}
		c.Failure.Text += line + "\n"
	}
	suite := junitSuite{Name: "berth validate"}
	for _, k := range keys {
		c := cases[k]
		suite.Cases = append(suite.Cases, *c)
		if c.Failure != nil {
			suite.Failures++
		}
	}
	suite.Tests = len(suite.Cases)
	out := junitSuites{Name: "berth validate", Tests: suite.Tests, Failures: suite.Failures, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// policyObjects are the repository's objects of r.Policy (not the
// bootstrap policy's), as test cases.
func (r *Report) policyObjects() []caseKey {
	if r.Policy == nil {
		return nil
	}
	var out []caseKey
	add := func(kind string, m metav1.ObjectMeta) {
		source := m.Annotations[policies.SourceAnnotation]
		if source == "" || strings.HasPrefix(source, policies.Bootstrap().Name) {
			return
		}
		file := source
		if i := strings.LastIndexByte(source, ':'); i > 0 {
			file = source[:i]
		}
		name := m.Name
		if m.Namespace != "" {
			name = m.Namespace + "/" + name
		}
		out = append(out, caseKey{file, kind + " " + name})
	}
	for _, o := range r.Policy.Roles {
		add("Role", o.ObjectMeta)
	}
	for _, o := range r.Policy.ClusterRoles {
		add("ClusterRole", o.ObjectMeta)
	}
	for _, o := range r.Policy.RoleBindings {
		add("RoleBinding", o.ObjectMeta)
	}
	for _, o := range r.Policy.ClusterRoleBindings {
		add("ClusterRoleBinding", o.ObjectMeta)
	}
	return out
}
