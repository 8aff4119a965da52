package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/berth-io/berth/reconciler/gitsync/validate"
)

// Format is an output format of Write.
type Format string

// The formats Write renders.
const (
	// FormatText is for a terminal: what would be deleted first, then
	// changes, additions, RBAC, capacity, validation and the diffs.
	FormatText Format = "text"
	// FormatMarkdown is a pull-request comment: a summary table, the
	// impact, then a collapsible <details> block with a ```diff per
	// object.
	FormatMarkdown Format = "markdown"
	// FormatJSON is the Result as one JSON document, with a summary.
	FormatJSON Format = "json"
)

// Formats lists the formats, for flag help.
var Formats = []Format{FormatText, FormatMarkdown, FormatJSON}

// Write renders r in format; color puts ANSI colours in the text format
// (for a terminal).
func Write(w io.Writer, r *Result, format Format, color bool) error {
	switch format {
	case FormatText:
		return writeText(w, r, color)
	case FormatMarkdown:
		return writeMarkdown(w, r)
	case FormatJSON:
		return writeJSON(w, r)
	}
	return fmt.Errorf("unknown output format %q: use one of text, markdown, json", format)
}

// Summary counts what a Result holds.
type Summary struct {
	Deleted     int    `json:"deleted"`
	Changed     int    `json:"changed"`
	Added       int    `json:"added"`
	Unchanged   int    `json:"unchanged"`
	RBACChanges int    `json:"rbacChanges"`
	CPU         string `json:"cpu"`
	Memory      string `json:"memory"`
	Unfit       int32  `json:"unfitPods"`
	Errors      int    `json:"errors"`
	Warnings    int    `json:"warnings"`
	// Changes is what the exit status says: anything to review.
	Changes bool `json:"changes"`
}

// Summary counts r's changes.
func (r *Result) Summary() Summary {
	s := Summary{
		Deleted: r.Count(Deleted), Changed: r.Count(Changed), Added: r.Count(Added), Unchanged: r.Unchanged,
		RBACChanges: len(r.RBAC.Changes), CPU: r.Capacity.CPU, Memory: r.Capacity.Memory, Errors: r.Errors(), Changes: r.Changes(),
	}
	for _, f := range r.Findings {
		if f.Severity == validate.SeverityWarning {
			s.Warnings++
		}
	}
	if c := r.Capacity.Cluster; c != nil {
		for _, u := range c.Unfit {
			s.Unfit += u.Pods
		}
	}
	return s
}

// String is the one-line summary: "1 to delete, 2 to change, 3 to add
// (10 unchanged); 2 permission changes; requests +200m CPU, +256Mi
// memory; 0 errors, 1 warning".
func (s Summary) String() string {
	parts := []string{fmt.Sprintf("%d to delete, %d to change, %d to add (%d unchanged)", s.Deleted, s.Changed, s.Added, s.Unchanged)}
	parts = append(parts, plural(s.RBACChanges, "permission change"))
	parts = append(parts, "requests "+s.CPU+" CPU, "+s.Memory+" memory")
	if s.Unfit > 0 {
		parts = append(parts, plural(int(s.Unfit), "pod")+" would not fit")
	}
	parts = append(parts, plural(s.Errors, "error")+", "+plural(s.Warnings, "warning"))
	return strings.Join(parts, "; ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func (r *Result) title() string {
	return r.Base.String() + " → " + r.Head.String()
}

// verb is how a change reads in a list.
func (c Change) verb() string {
	switch c {
	case Deleted:
		return "delete"
	case Changed:
		return "change"
	}
	return "add"
}

func (c Change) mark() string {
	switch c {
	case Deleted:
		return "-"
	case Changed:
		return "~"
	}
	return "+"
}

// ANSI colours of the text format.
const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

func writeText(w io.Writer, r *Result, color bool) error {
	paint := func(c, s string) string {
		if !color || s == "" {
			return s
		}
		return c + s + reset
	}
	changeColor := map[Change]string{Deleted: red + bold, Changed: yellow, Added: green}
	var b strings.Builder
	fmt.Fprintf(&b, "berth diff %s\n", r.title())
	for _, c := range []Change{Deleted, Changed, Added} {
		n := r.Count(c)
		if n == 0 {
			continue
		}
		head := map[Change]string{Deleted: "WOULD DELETE", Changed: "would change", Added: "would add"}[c]
		fmt.Fprintf(&b, "\n%s\n", paint(changeColor[c], fmt.Sprintf("%s (%d):", head, n)))
		for _, o := range r.Objects {
			if o.Change != c {
				continue
			}
			line := "  " + c.mark() + " " + o.Object()
			if o.File != "" {
				line += "  (" + o.File + ")"
			}
			fmt.Fprintln(&b, paint(changeColor[c], line))
			if o.Error != "" {
				fmt.Fprintln(&b, paint(red, "      would fail: "+o.Error))
			}
		}
	}
	if len(r.RBAC.Changes) > 0 || r.RBAC.Note != "" {
		fmt.Fprintf(&b, "\npermissions (policies/):\n")
		if r.RBAC.Note != "" {
			fmt.Fprintf(&b, "  %s\n", r.RBAC.Note)
		}
		for _, c := range r.RBAC.Changes {
			col := green
			if !c.Gains {
				col = red
			}
			fmt.Fprintln(&b, "  "+paint(col, c.String()))
		}
	}
	if capacityText := capacityLines(r.Capacity); len(capacityText) > 0 {
		fmt.Fprintf(&b, "\nrequests %s CPU, %s memory:\n", r.Capacity.CPU, r.Capacity.Memory)
		for _, l := range capacityText {
			fmt.Fprintln(&b, "  "+l)
		}
	}
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "\nvalidation of %s:\n", r.Head.Rev)
		for _, f := range r.Findings {
			col := yellow
			if f.Severity == validate.SeverityError {
				col = red
			}
			fmt.Fprintln(&b, "  "+paint(col, f.String()))
		}
	}
	for _, o := range r.Objects {
		fmt.Fprintf(&b, "\n%s\n", paint(changeColor[o.Change], fmt.Sprintf("%s %s:", o.Change.verb(), o.Object())))
		for _, line := range strings.SplitAfter(o.Diff, "\n") {
			if line == "" {
				continue
			}
			switch {
			case strings.HasPrefix(line, "---"), strings.HasPrefix(line, "+++"):
				b.WriteString(paint(bold, strings.TrimSuffix(line, "\n")) + "\n")
			case strings.HasPrefix(line, "-"):
				b.WriteString(paint(red, strings.TrimSuffix(line, "\n")) + "\n")
			case strings.HasPrefix(line, "+"):
				b.WriteString(paint(green, strings.TrimSuffix(line, "\n")) + "\n")
			case strings.HasPrefix(line, "@@"):
				b.WriteString(paint(cyan, strings.TrimSuffix(line, "\n")) + "\n")
			default:
				b.WriteString(line)
			}
		}
	}
	fmt.Fprintf(&b, "\n%s\n", r.Summary())
	_, err := io.WriteString(w, b.String())
	return err
}

// capacityLines describes the capacity change, one line a workload, then
// the cluster's fit.
func capacityLines(c Capacity) []string {
	var out []string
	for _, w := range c.Workloads {
		out = append(out, fmt.Sprintf("%s: %d → %d pods of %s CPU, %s memory: %s CPU, %s memory",
			w.Object, w.PodsBefore, w.PodsAfter, w.PodCPU, w.PodMemory, w.CPU, w.Memory))
	}
	if f := c.Cluster; f != nil {
		out = append(out, fmt.Sprintf("cluster: %d nodes with %s CPU, %s memory free; %d new pods, %d would not fit", f.Nodes, f.FreeCPU, f.FreeMemory, f.NewPods, unfitPods(f)))
		for _, u := range f.Unfit {
			out = append(out, fmt.Sprintf("would not fit: %d pods of %s: %s", u.Pods, u.Object, u.Reason))
		}
	}
	return out
}

func unfitPods(f *ClusterFit) int32 {
	var n int32
	for _, u := range f.Unfit {
		n += u.Pods
	}
	return n
}

func writeMarkdown(w io.Writer, r *Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### berth diff `%s` → `%s`\n\n", r.Base.String(), r.Head.String())
	if n := r.Count(Deleted); n > 0 {
		fmt.Fprintf(&b, "> [!CAUTION]\n> **%s would be deleted:**", plural(n, "object"))
		var names []string
		for _, o := range r.Objects {
			if o.Change == Deleted {
				names = append(names, "`"+o.Object()+"`")
			}
		}
		fmt.Fprintf(&b, " %s\n\n", strings.Join(names, ", "))
	}
	if errs := r.Errors(); errs > 0 {
		fmt.Fprintf(&b, "> [!WARNING]\n> **%s**: the sync would refuse this commit and apply nothing (see Validation).\n\n", plural(errs, "error"))
	}
	s := r.Summary()
	b.WriteString("| delete | change | add | unchanged | permission changes | CPU requests | memory requests | errors | warnings |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %d | %d | %d | %d | %s | %s | %d | %d |\n\n", s.Deleted, s.Changed, s.Added, s.Unchanged, s.RBACChanges, s.CPU, s.Memory, s.Errors, s.Warnings)
	if len(r.Objects) > 0 {
		b.WriteString("| | object | file |\n|---|---|---|\n")
		for _, o := range r.Objects {
			verb := o.Change.verb()
			if o.Change == Deleted {
				verb = "**delete**"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s |\n", verb, o.Object(), code(o.File))
		}
		b.WriteString("\n")
	}
	if len(r.RBAC.Changes) > 0 || r.RBAC.Note != "" {
		b.WriteString("**Permissions** (`policies/`)\n\n")
		if r.RBAC.Note != "" {
			fmt.Fprintf(&b, "%s\n\n", r.RBAC.Note)
		}
		for _, c := range r.RBAC.Changes {
			verb := "**gains**"
			if !c.Gains {
				verb = "**loses**"
			}
			names := ""
			if len(c.ResourceNames) > 0 {
				names = " named `" + strings.Join(c.ResourceNames, "`, `") + "`"
			}
			fmt.Fprintf(&b, "- %s %s %s on `%s`%s %s\n", c.Subject, verb, strings.Join(c.Verbs, ", "), c.Resource, names, c.Scope())
		}
		b.WriteString("\n")
	}
	if lines := capacityLines(r.Capacity); len(lines) > 0 {
		fmt.Fprintf(&b, "**Requests** %s CPU, %s memory\n\n", r.Capacity.CPU, r.Capacity.Memory)
		for _, l := range lines {
			fmt.Fprintf(&b, "- %s\n", l)
		}
		b.WriteString("\n")
	}
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "**Validation** of `%s`\n\n", r.Head.Rev)
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "- %s `%s`: %s\n", f.Severity, f.Position().String(), strings.TrimPrefix(f.String(), f.Position().String()+": "+string(f.Severity)+": "))
		}
		b.WriteString("\n")
	}
	for _, o := range r.Objects {
		fmt.Fprintf(&b, "<details><summary>%s <code>%s</code></summary>\n\n", o.Change.verb(), o.Object())
		if o.Error != "" {
			fmt.Fprintf(&b, "would fail: %s\n\n", o.Error)
		}
		fence := fenceFor(o.Diff)
		fmt.Fprintf(&b, "%sdiff\n%s%s\n\n</details>\n\n", fence, o.Diff, fence)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// fenceFor is a code fence longer than any run of backticks in s.
func fenceFor(s string) string {
	longest, run := 0, 0
	for _, c := range s {
		if c == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

func writeJSON(w io.Writer, r *Result) error {
	type out struct {
		Summary Summary `json:"summary"`
		*Result
	}
	if r.Objects == nil {
		r.Objects = []ObjectChange{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out{Summary: r.Summary(), Result: r})
}
