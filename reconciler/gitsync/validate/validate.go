// Package validate checks a GitOps repository offline, as CI and the git
// sync do before anything is applied: it renders the manifests (package
// manifest), decodes each object strictly against its k8s.io/api type,
// runs the API server's own defaulting and validation on it
// (store/defaults, store/validation in manifest mode), loads the RBAC files
// of the policies folder with the loader the API server uses (package
// policies), and looks across objects for what no single object shows: a
// Service that selects no pod, duplicates, namespaces, ConfigMaps, Secrets
// and ServiceAccounts referred to but not defined.
//
// Every finding has a severity, a position (file:line:column), the object,
// the field and a message. Write renders a Report as text, JSON, JUnit XML
// or GitHub Actions annotations.
package validate

import (
	"cmp"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/reconciler/gitsync/manifest"
	"github.com/berth-io/berth/store/defaults"
	"github.com/berth-io/berth/store/kinds"
	"github.com/berth-io/berth/store/registry"
	"github.com/berth-io/berth/store/validation"
)

// PolicyDir is the directory of a repository that holds its RBAC policy
// files.
const PolicyDir = "policies"

// Severity says whether a finding makes the repository invalid.
type Severity string

const (
	// SeverityError makes the repository invalid: the sync would refuse
	// the commit.
	SeverityError Severity = "error"
	// SeverityWarning is likely a mistake but would be applied (the thing
	// referred to may exist in the cluster already); --strict counts it
	// as an error.
	SeverityWarning Severity = "warning"
)

// Finding is one problem found.
type Finding struct {
	Severity Severity `json:"severity"`
	// File is the file's path (with its Source's Name in front); Line and
	// Column are 1-based, 0 when unknown.
	File   string `json:"file"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	// Object names the object, such as "Deployment demo/hello"; empty when
	// the document could not be read far enough to name one.
	Object string `json:"object,omitempty"`
	// Field is the field path, such as "spec.template.spec.containers[0].image".
	Field string `json:"field,omitempty"`
	// Message says what is wrong and, where it is clear, what to do.
	Message string `json:"message"`
}

// Position is the finding's file:line:column.
func (f Finding) Position() manifest.Position {
	return manifest.Position{File: f.File, Line: f.Line, Column: f.Column}
}

// Source is a tree of manifests to check.
type Source struct {
	// FS holds the files: os.DirFS for a checkout, manifest.GitTreeFS for a
	// commit.
	FS fs.FS
	// Root is the directory (or single file) of FS to check; "." for all.
	Root string
	// Name is put in front of file paths in findings (the directory FS was
	// opened at, as the user wrote it); empty for none.
	Name string
}

// Options tunes a check. The zero value checks as the sync does.
type Options struct {
	// NoPolicies leaves out the policies folder: its files are neither
	// rendered as manifests nor loaded as policy.
	NoPolicies bool
	// DefaultNamespace is where namespaced objects without
	// metadata.namespace are applied; "" means "default".
	DefaultNamespace string
	// Workers is how many files and objects are checked at once; 0 means
	// GOMAXPROCS.
	Workers int
}

// Report is the result of a check.
type Report struct {
	// Objects are every object rendered, in file order; Typed[i] is
	// Objects[i] decoded and defaulted, nil where it could not be decoded or
	// its kind is not served.
	Objects []*manifest.Object
	Typed   []k8sruntime.Object
	// Files are the manifest files read, with their Source's Name.
	Files []string
	// Policy is the loaded policy (bootstrap and repository), nil when the
	// sources have no policies folder or it has errors.
	Policy *policies.Set
	// Findings are sorted by file, line and column.
	Findings []Finding

	names []string // the display name of each object's source
}

// Errors counts the findings of severity error.
func (r *Report) Errors() int { return r.count(SeverityError) }

// Warnings counts the findings of severity warning.
func (r *Report) Warnings() int { return r.count(SeverityWarning) }

func (r *Report) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Valid reports whether r has no errors (and, when strict, no warnings).
func (r *Report) Valid(strict bool) bool {
	return r.Errors() == 0 && (!strict || r.Warnings() == 0)
}

// display is the display name of the source of r.Objects[i].
func (r *Report) display(i int) string {
	if i < len(r.names) {
		return r.names[i]
	}
	return ""
}

// Repo checks the tree below root in fsys; see Check.
func Repo(fsys fs.FS, root string, opts Options) *Report {
	return Check([]Source{{FS: fsys, Root: root}}, opts)
}

// Check renders and checks sources together (cross-object checks see all
// of them). The policies folder of each source root (or a root that is
// itself named policies) is loaded as RBAC policy on top of berth's
// bootstrap policy, as the API server loads it.
func Check(sources []Source, opts Options) *Report {
	r := &Report{}
	c := newChecker(opts)
	var policySources []policies.Source
	for _, src := range sources {
		root := path.Clean(src.Root)
		if !opts.NoPolicies && path.Base(root) == PolicyDir && isDir(src.FS, root) {
			policySources = append(policySources, policySource(src, root))
			continue
		}
		var skip []string
		if isDir(src.FS, root) {
			skip = []string{PolicyDir}
			if !opts.NoPolicies && isDir(src.FS, path.Join(root, PolicyDir)) {
				policySources = append(policySources, policySource(src, path.Join(root, PolicyDir)))
			}
		}
		set, errs := manifest.Render(src.FS, root, manifest.Options{Skip: skip, Workers: opts.Workers})
		for _, e := range errs {
			r.Findings = append(r.Findings, fromError(src.Name, e))
		}
		for _, f := range set.Files {
			r.Files = append(r.Files, path.Join(src.Name, f))
		}
		first := len(r.Objects)
		r.Objects = append(r.Objects, set.Objects...)
		for range set.Objects {
			r.names = append(r.names, src.Name)
		}
		r.Typed = append(r.Typed, make([]k8sruntime.Object, len(set.Objects))...)
		r.Findings = append(r.Findings, c.objects(src.Name, set.Objects, r.Typed[first:])...)
	}
	if len(policySources) > 0 {
		var found []Finding
		r.Policy, found = loadPolicies(policySources)
		r.Findings = append(r.Findings, found...)
	}
	r.Findings = append(r.Findings, c.crossCheck(r)...)
	sortFindings(r.Findings)
	return r
}

// sortFindings orders findings by file, line and column, keeping the order
// of the checks among findings at one place.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}

// Objects checks rendered objects one by one (kind, strict decoding,
// defaulting and API validation) and together (see Check); display is put
// in front of file paths. typed, if not nil, must have len(objs) elements
// and receives the decoded objects. Findings are sorted as in a Report.
// Policies are not loaded (see Check).
func Objects(display string, objs []*manifest.Object, typed []k8sruntime.Object, opts Options) []Finding {
	if typed == nil {
		typed = make([]k8sruntime.Object, len(objs))
	}
	c := newChecker(opts)
	findings := c.objects(display, objs, typed)
	r := &Report{Objects: objs, Typed: typed, names: make([]string, len(objs))}
	for i := range r.names {
		r.names[i] = display
	}
	findings = append(findings, c.crossCheck(r)...)
	sortFindings(findings)
	return findings
}

// checker holds what checks share: the served kinds.
type checker struct {
	opts     Options
	registry *registry.Registry
}

func newChecker(opts Options) *checker {
	reg := registry.New(kinds.NewScheme())
	if err := kinds.Register(reg); err != nil {
		panic("validate: the built-in kinds do not register: " + err.Error()) // a bug in store/kinds, caught by its tests
	}
	if opts.DefaultNamespace == "" {
		opts.DefaultNamespace = "default"
	}
	return &checker{opts: opts, registry: reg}
}

// objects checks each object in parallel; typed[i] receives objs[i]
// decoded.
func (c *checker) objects(display string, objs []*manifest.Object, typed []k8sruntime.Object) []Finding {
	workers := c.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	found := make([][]Finding, len(objs))
	var wg sync.WaitGroup
	chunk := max(1, (len(objs)+workers*4-1)/(workers*4))
	next := make(chan int)
	for range min(workers, len(objs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := range next {
				for i := start; i < min(start+chunk, len(objs)); i++ {
					typed[i], found[i] = c.object(display, objs[i])
				}
			}
		}()
	}
	for start := 0; start < len(objs); start += chunk {
		next <- start
	}
	close(next)
	wg.Wait()
	var out []Finding
	for _, fs := range found {
		out = append(out, fs...)
	}
	return out
}

// object checks one object: that berth serves its kind, strict decoding,
// then the API server's defaulting and validation.
func (c *checker) object(display string, o *manifest.Object) (k8sruntime.Object, []Finding) {
	at := func(fieldPath, message string) Finding {
		return objectFinding(SeverityError, display, o, fieldPath, message)
	}
	k, ok := c.registry.ForKind(o.GVK)
	switch {
	case !ok:
		return nil, []Finding{at(unknownKindField(c.registry, o.GVK), unknownKind(c.registry, o.GVK))}
	case k.Virtual:
		return nil, []Finding{at("kind", o.GVK.Kind+" is a request to the API, not an object to keep in git: remove it")}
	case k.ReadOnly:
		return nil, []Finding{at("kind", "RBAC objects are not applied from manifests: berth reads them from the "+PolicyDir+"/ folder of the repository; move this document there")}
	}
	obj := k.New()
	var out []Finding
	typeError := false
	for _, e := range manifest.Decode(o, obj) {
		f := fromError(display, e)
		out = append(out, f)
		typeError = typeError || !isStrictError(e)
	}
	if typeError {
		return nil, out // a half-decoded object would give misleading errors
	}
	if !k.Namespaced && o.Namespace() != "" {
		// As the API server does for a cluster-scoped kind: the namespace
		// is dropped, not refused.
		w := at("metadata.namespace", o.GVK.Kind+" is cluster-scoped: the namespace is ignored; remove it")
		w.Severity = SeverityWarning
		out = append(out, w)
		if m, ok := obj.(metav1.Object); ok {
			m.SetNamespace("")
		}
	}
	defaults.Default(obj)
	for _, e := range (validation.Validator{Manifest: true}).Validate(obj) {
		out = append(out, at(e.Field, e.ErrorBody()))
	}
	if o.Name() == "" && o.Object.GetGenerateName() != "" {
		out = append(out, at("metadata.generateName", "berth applies objects by name, so that a sync can find them again: set metadata.name instead of generateName"))
	}
	return obj, out
}

// isStrictError reports whether e is an unknown or duplicate field, after
// which the object was still decoded in full.
func isStrictError(e manifest.Error) bool {
	return e.Field != "" && (hasPrefix(e.Message, "unknown field") || hasPrefix(e.Message, "duplicate field"))
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

// unknownKind explains a kind berth does not serve, suggesting the served
// apiVersion of a kind of that name.
func unknownKind(reg *registry.Registry, gvk schema.GroupVersionKind) string {
	for _, k := range reg.Kinds() {
		if k.GVK.Kind == gvk.Kind && !k.Virtual {
			return "berth serves " + gvk.Kind + " as apiVersion " + k.GVK.GroupVersion().String() + ", not " + gvk.GroupVersion().String()
		}
	}
	return "kind " + gvk.Kind + " (apiVersion " + gvk.GroupVersion().String() + ") is not served by berth (custom resources are not supported)"
}

// unknownKindField is the field an unknown kind is reported at: apiVersion
// when only the version is wrong.
func unknownKindField(reg *registry.Registry, gvk schema.GroupVersionKind) string {
	for _, k := range reg.Kinds() {
		if k.GVK.Kind == gvk.Kind && !k.Virtual {
			return "apiVersion"
		}
	}
	return "kind"
}

// objectFinding is a Finding at the field at fieldPath of o. For an object
// built by kustomize from a file elsewhere, the message names the
// kustomization: the overlay may have changed the value found there.
func objectFinding(s Severity, display string, o *manifest.Object, fieldPath, message string) Finding {
	pos := o.FieldPosition(fieldPath)
	if o.Kustomization != "" && pos.File != o.Kustomization {
		message += " (in the output of " + path.Join(display, o.Kustomization) + ")"
	}
	return Finding{Severity: s, File: path.Join(display, pos.File), Line: pos.Line, Column: pos.Column, Object: o.String(), Field: fieldPath, Message: message}
}

// fromError is the Finding of a render or decode error.
func fromError(display string, e manifest.Error) Finding {
	return Finding{Severity: SeverityError, File: path.Join(display, e.Pos.File), Line: e.Pos.Line, Column: e.Pos.Column, Object: e.Object, Field: e.Field, Message: e.Message}
}

func isDir(fsys fs.FS, p string) bool {
	info, err := fs.Stat(fsys, p)
	return err == nil && info.IsDir()
}
