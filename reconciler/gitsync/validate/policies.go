package validate

import (
	"errors"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"github.com/berth-io/berth/policies"
)

// policySource is the policies.Source of directory dir of src.
func policySource(src Source, dir string) policies.Source {
	sub, err := fs.Sub(src.FS, dir)
	if err != nil {
		sub = src.FS // dir is a valid path (it was stat'ed); fs.Sub cannot fail
	}
	return policies.Source{Name: path.Join(src.Name, dir), FS: sub}
}

// loadPolicies loads sources on top of the bootstrap policy with the API
// server's loader and turns its problems into findings; the bootstrap
// policy's own warnings are left out.
func loadPolicies(sources []policies.Source) (*policies.Set, []Finding) {
	set, err := policies.LoadSources(append([]policies.Source{policies.Bootstrap()}, sources...)...)
	var out []Finding
	var le *policies.LoadError
	switch {
	case errors.As(err, &le):
		for _, p := range le.Problems {
			out = append(out, fromProblem(SeverityError, p))
		}
		return nil, out
	case err != nil:
		return nil, []Finding{{Severity: SeverityError, File: sources[0].Name, Message: err.Error()}}
	}
	for _, p := range set.Warnings {
		if !strings.HasPrefix(p.File, policies.Bootstrap().Name) {
			out = append(out, fromProblem(SeverityWarning, p))
		}
	}
	return set, out
}

// quotedName matches the policies package's object names: Kind "ns/name".
var quotedName = regexp.MustCompile(`^(\S+) "(.*)"$`)

// fromProblem is the Finding of a policy problem; objects are named as
// the other findings name them.
func fromProblem(s Severity, p policies.Problem) Finding {
	object := p.Object
	if m := quotedName.FindStringSubmatch(object); m != nil {
		object = m[1] + " " + m[2]
	}
	return Finding{Severity: s, File: p.File, Line: p.Line, Object: object, Field: p.Field, Message: p.Message}
}
