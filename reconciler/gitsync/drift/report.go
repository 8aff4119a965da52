package drift

import (
	"fmt"
	"strings"
	"time"
)

// Summary is one line for a person: the Drifted condition's message and
// the Event's. It names up to three fields and counts the rest.
func Summary(entries []Entry) string {
	if len(entries) == 0 {
		return "the live state matches git"
	}
	objects := map[Object]bool{}
	for _, e := range entries {
		objects[e.Object] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d field%s drifted from git in %d object%s: ", len(entries), plural(len(entries)), len(objects), plural(len(objects)))
	for i, e := range entries {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(entries)-3)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.String())
	}
	return b.String()
}

// CommitMessage is the live-branch commit's message: a subject line naming
// the first change, then every entry on a line of its own.
func CommitMessage(entries []Entry) string {
	if len(entries) == 0 {
		return "berth: the live state matches git again\n"
	}
	first := entries[0]
	subject := fmt.Sprintf("drift: %s %s %s → %s by %s", first.Object, first.Field, first.GitString(), first.LiveString(), first.By.Manager)
	if first.By.Manager == "" {
		subject = strings.TrimSuffix(subject, " by ")
	}
	if len(entries) > 1 {
		subject += fmt.Sprintf(" (and %d more)", len(entries)-1)
	}
	var b strings.Builder
	b.WriteString(subject)
	b.WriteString("\n\n")
	for _, e := range entries {
		b.WriteString("- ")
		b.WriteString(e.String())
		if !e.By.Time.IsZero() {
			b.WriteString(" at ")
			b.WriteString(e.By.Time.UTC().Format(time.RFC3339))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Markdown renders DRIFT.md for the live branch branch: what differs
// between git (ref, such as "main") and the live state, as a table of
// object, field, git value, live value, who changed it and when.
func Markdown(ref, branch string, entries []Entry) []byte {
	var b strings.Builder
	b.WriteString("# Drift\n\n")
	if len(entries) == 0 {
		fmt.Fprintf(&b, "The live state matches `%s`.\n", ref)
		return []byte(b.String())
	}
	fmt.Fprintf(&b, "The live state differs from `%s` in %d field%s that berth applied. "+
		"The manifests on this branch hold the live values: `git diff %s %s` shows them. "+
		"Commit the live value to `%s` to keep it, or let berth re-apply git's (selfHeal).\n\n",
		ref, len(entries), plural(len(entries)), ref, branch, ref)
	b.WriteString("| Object | Field | Git | Live | Changed by | When |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, e := range entries {
		when := ""
		if !e.By.Time.IsZero() {
			when = e.By.Time.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n",
			cell(e.Object.String()), code(e.Field), code(e.GitString()), code(e.LiveString()), cell(e.By.String()), when)
	}
	return []byte(b.String())
}

// cell escapes what would break a table row.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// code is s as inline code in a table cell.
func code(s string) string {
	if s == "" {
		return `""`
	}
	return "`" + strings.ReplaceAll(cell(s), "`", "'") + "`"
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
