// Package diff tells what merging a change to a GitOps repository would do:
// which objects the git sync would delete, change and add, how the RBAC
// policy of the repository's policies/ folder changes for each subject,
// how much CPU and memory the workload changes request (and, against a
// live cluster, which new pods would fit on no node), and what validation
// finds in the new revision. It is `berth diff`'s engine.
//
// Both revisions are rendered and validated exactly as the sync does it
// (package validate: the API server's defaulting and validation), so a
// change is compared on normalised objects: keys sorted, server-populated
// metadata and status dropped, the namespace the sync would fill in set,
// and the API server's defaults applied to both sides, so that writing
// `replicas: 1` where it was left out is no change.
//
// Compare works offline, on two validate.Reports. Live compares a revision
// with a cluster instead: every object is sent with a server-side apply
// dry run (field manager berth-gitsync, dryRun=All), and the answer is
// compared with the live object, which shows what would really change,
// including what someone changed by hand since the last sync; objects that
// carry the source's label and left git are what a sync would prune.
//
// Write renders a Result as text, Markdown (a pull-request comment) or
// JSON.
package diff

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/berth-io/berth/reconciler/gitsync"
	"github.com/berth-io/berth/reconciler/gitsync/manifest"
	"github.com/berth-io/berth/reconciler/gitsync/plan"
	"github.com/berth-io/berth/reconciler/gitsync/validate"
	"github.com/berth-io/berth/store/kinds"
	"github.com/berth-io/berth/store/registry"
)

// Change says what a sync would do to an object.
type Change string

// The changes, in the order a Result lists them: deletions first.
const (
	Deleted Change = "deleted"
	Changed Change = "changed"
	Added   Change = "added"
)

// Revision names one side of a diff.
type Revision struct {
	// Rev is what the user asked for ("origin/main", "HEAD~1"), or
	// "working tree" or "cluster".
	Rev string `json:"rev"`
	// Commit is the commit's hash; empty for a working tree or a cluster.
	Commit string `json:"commit,omitempty"`
}

// String is "rev (abcdef1)" or rev.
func (r Revision) String() string {
	if r.Commit == "" || r.Commit == r.Rev {
		return r.Rev
	}
	short := r.Commit
	if len(short) > 7 {
		short = short[:7]
	}
	if strings.HasPrefix(r.Rev, short) {
		return short
	}
	return r.Rev + " (" + short + ")"
}

// ObjectChange is one object a sync would delete, change or add.
type ObjectChange struct {
	Change     Change `json:"change"`
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// File is where the object is in git (the base's file for a deleted
	// object; empty for a live object git never had).
	File string `json:"file,omitempty"`
	// Diff is a unified diff of the normalised object as YAML: all "-"
	// lines for a deletion, all "+" lines for an addition.
	Diff string `json:"diff"`
	// Error is why the live dry run refused the object (Live only): the
	// sync would fail on it.
	Error string `json:"error,omitempty"`
}

// Object names the change's object as messages do: "Kind ns/name".
func (c ObjectChange) Object() string {
	return manifest.Key{Kind: c.Kind, Namespace: c.Namespace, Name: c.Name}.String()
}

// Result is what merging would change.
type Result struct {
	Base Revision `json:"base"`
	Head Revision `json:"head"`
	// Live: Base is the cluster (Live), not a revision.
	Live bool `json:"live"`
	// Objects are deletions, then changes, then additions, each in the
	// sync's apply order.
	Objects []ObjectChange `json:"objects"`
	// Unchanged counts the objects that stay as they are.
	Unchanged int `json:"unchanged"`
	// RBAC is how the policy changes.
	RBAC RBAC `json:"rbac"`
	// Capacity is what the workload changes request.
	Capacity Capacity `json:"capacity"`
	// Findings are validate's findings in Head; with any error the sync
	// would refuse the commit and apply nothing.
	Findings []validate.Finding `json:"findings"`
}

// Count counts the object changes of kind c.
func (r *Result) Count(c Change) int {
	n := 0
	for _, o := range r.Objects {
		if o.Change == c {
			n++
		}
	}
	return n
}

// Errors counts the head's validation errors and the live dry-run
// failures.
func (r *Result) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == validate.SeverityError {
			n++
		}
	}
	for _, o := range r.Objects {
		if o.Error != "" {
			n++
		}
	}
	return n
}

// Changes reports whether merging changes anything (objects or policy) or
// the head has errors: what `berth diff` exits 1 for.
func (r *Result) Changes() bool {
	return len(r.Objects) > 0 || len(r.RBAC.Changes) > 0 || r.Errors() > 0
}

// Options tunes a comparison. The zero value compares as the sync of
// GitSource kube-system/repo (`berth server --repo`) would apply.
type Options struct {
	// Namespace is given to namespaced objects that set none: the
	// GitSource's namespace; "" means "kube-system".
	Namespace string
	// PolicyDir is the repository's policies folder, as validate names
	// its files ("policies", or "<path>/policies"); its errors make the
	// head's policy invalid. "" means "policies".
	PolicyDir string
}

func (o Options) namespace() string { return cmp.Or(o.Namespace, gitsync.RepoSourceNamespace) }

// Compare is what a sync of head would change after a sync of base, from
// their validate reports (validate.Check of each revision).
func Compare(base, head *validate.Report, opts Options) *Result {
	n := newNormaliser(opts.namespace())
	before := n.entries(base)
	after := n.entries(head)
	r := &Result{Findings: head.Findings}
	if r.Findings == nil {
		r.Findings = []validate.Finding{}
	}
	r.Objects, r.Unchanged = objectChanges(before, after)
	r.RBAC = compareRBAC(policyOf(base, opts), policyOf(head, opts))
	r.Capacity = capacityOf(before, after)
	return r
}

// entry is one object of one side, normalised (lazily: most objects of
// a large repository are unchanged, which their bytes in git show).
type entry struct {
	key  manifest.Key
	ref  plan.Ref
	file string
	// raw is the object as written in git (nil for a live object):
	// objects with equal raw bytes are equal.
	raw []byte
	// shown is the object as git has it (normalised, not defaulted): what
	// an addition or deletion shows. compared is what a change compares:
	// defaulted as the API server would store it (for a live object, as
	// it is). Both are made from src on first use.
	shown, compared map[string]any
	// typed is compared decoded, for capacity; nil when unknown.
	typed k8sruntime.Object
	// err is why the live dry run refused the object.
	err string

	src *manifest.Object
	n   *normaliser
}

// normalised fills shown and compared from src.
func (e *entry) normalised() *entry {
	if e.shown != nil || e.src == nil {
		return e
	}
	o := e.src
	e.shown = normalise(o.Object.Object, o.GVK, e.key.Namespace)
	e.compared = e.shown
	if e.typed != nil {
		if m, err := k8sruntime.DefaultUnstructuredConverter.ToUnstructured(e.typed); err == nil {
			e.compared = normalise(m, o.GVK, e.key.Namespace)
		} else {
			e.typed = nil
		}
	}
	return e
}

// sameAs reports whether e and o are written the same way in git.
func (e *entry) sameAs(o *entry) bool {
	return e.raw != nil && o.raw != nil && e.err == "" && o.err == "" && bytes.Equal(e.raw, o.raw)
}

// side is one side's objects by key.
type side map[manifest.Key]*entry

// normaliser turns rendered objects into entries.
type normaliser struct {
	namespace string
	registry  *registry.Registry
	scheme    *k8sruntime.Scheme
}

func newNormaliser(namespace string) *normaliser {
	scheme := kinds.NewScheme()
	reg := registry.New(scheme)
	if err := kinds.Register(reg); err != nil {
		panic("diff: the built-in kinds do not register: " + err.Error()) // a bug in store/kinds, caught by its tests
	}
	return &normaliser{namespace: namespace, registry: reg, scheme: scheme}
}

// namespaced reports whether gvk is namespaced; unknown kinds are taken
// as namespaced (as the sync would fail on them anyway).
func (n *normaliser) namespaced(gvk schema.GroupVersionKind) bool {
	k, ok := n.registry.ForKind(gvk)
	return !ok || k.Namespaced
}

// entries normalises every object of r; a key seen twice keeps the last
// (validate reports the duplicate).
func (n *normaliser) entries(r *validate.Report) side {
	out := make(side, len(r.Objects))
	for i, o := range r.Objects {
		var typed k8sruntime.Object
		if i < len(r.Typed) {
			typed = r.Typed[i]
		}
		e := n.entry(o, typed)
		out[e.key] = e
	}
	return out
}

func (n *normaliser) entry(o *manifest.Object, typed k8sruntime.Object) *entry {
	ns := n.fillNamespace(o.GVK, o.Namespace())
	key := manifest.Key{Group: o.GVK.Group, Kind: o.GVK.Kind, Namespace: ns, Name: o.Name()}
	return &entry{key: key, ref: plan.Ref{GVK: o.GVK, Namespace: ns, Name: key.Name}, file: o.Pos.File, raw: o.Raw, typed: typed, src: o, n: n}
}

// fillNamespace is the namespace the sync gives an object of kind gvk
// that has namespace ns.
func (n *normaliser) fillNamespace(gvk schema.GroupVersionKind, ns string) string {
	switch {
	case !n.namespaced(gvk):
		return ""
	case ns == "":
		return n.namespace
	}
	return ns
}

// Metadata the API server or the sync fills in, never compared.
var serverMetadata = []string{"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "managedFields", "resourceVersion", "selfLink", "uid"}

// normalise copies obj without status, server-populated metadata, the
// sync's commit annotation and null values, with apiVersion and kind of
// gvk and metadata.namespace set to namespace ("" removes it).
func normalise(obj map[string]any, gvk schema.GroupVersionKind, namespace string) map[string]any {
	out, _ := dropNulls(obj).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	delete(out, "status")
	out["apiVersion"], out["kind"] = gvk.GroupVersion().String(), gvk.Kind
	md, _ := out["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		out["metadata"] = md
	}
	for _, f := range serverMetadata {
		delete(md, f)
	}
	if namespace == "" {
		delete(md, "namespace")
	} else {
		md["namespace"] = namespace
	}
	if a, ok := md["annotations"].(map[string]any); ok {
		delete(a, gitsync.CommitAnnotation)
		if len(a) == 0 {
			delete(md, "annotations")
		}
	}
	return out
}

// dropNulls deep-copies v without null map values (the typed
// converter's "creationTimestamp: null").
func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if x != nil {
				out[k] = dropNulls(x)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = dropNulls(x)
		}
		return out
	}
	return v
}

// objectChanges compares two sides: deletions, changes and additions, each
// in apply order; and how many objects are unchanged.
func objectChanges(before, after side) ([]ObjectChange, int) {
	var deleted, changed, added []*pair
	unchanged := 0
	for k, a := range after {
		b := before[k]
		switch {
		case b == nil:
			added = append(added, &pair{after: a})
		default:
			p := &pair{before: b, after: a}
			if b.sameAs(a) || (p.diff() == "" && a.err == "") {
				unchanged++
				continue
			}
			changed = append(changed, p)
		}
	}
	for k, b := range before {
		if after[k] == nil {
			deleted = append(deleted, &pair{before: b})
		}
	}
	var out []ObjectChange
	for _, group := range [][]*pair{deleted, changed, added} {
		sortPairs(group)
		for _, p := range group {
			out = append(out, p.change())
		}
	}
	return out, unchanged
}

// pair is an object before and after (either may be nil).
type pair struct {
	before, after *entry
	text          string
	done          bool
}

func (p *pair) one() *entry { return cmp.Or(p.after, p.before) }

// diff is the unified diff of the pair ("" when equal).
func (p *pair) diff() string {
	if p.done {
		return p.text
	}
	p.done = true
	switch {
	case p.before == nil:
		p.text = unified("", toYAML(p.after.normalised().shown), "/dev/null", "b/"+p.after.file)
	case p.after == nil:
		p.text = unified(toYAML(p.before.normalised().shown), "", "a/"+p.before.file, "/dev/null")
	case equalJSON(p.before.normalised().compared, p.after.normalised().compared):
		p.text = ""
	default:
		p.text = unified(toYAML(p.before.compared), toYAML(p.after.compared), "a/"+cmp.Or(p.before.file, "(cluster)"), "b/"+p.after.file)
	}
	return p.text
}

func (p *pair) change() ObjectChange {
	e := p.one().normalised()
	c := Changed
	switch {
	case p.before == nil:
		c = Added
	case p.after == nil:
		c = Deleted
	}
	apiVersion, _ := e.shown["apiVersion"].(string)
	return ObjectChange{Change: c, APIVersion: apiVersion, Kind: e.key.Kind, Namespace: e.key.Namespace, Name: e.key.Name, File: e.file, Diff: p.diff(), Error: e.err}
}

// sortPairs orders pairs as the sync applies them (deletions are pruned in
// the opposite order, but reading them in apply order is easier).
func sortPairs(ps []*pair) {
	slices.SortFunc(ps, func(a, b *pair) int {
		ra, rb := a.one().ref, b.one().ref
		return cmp.Or(cmp.Compare(plan.Rank(ra), plan.Rank(rb)), cmp.Compare(ra.GVK.Kind, rb.GVK.Kind),
			cmp.Compare(ra.Namespace, rb.Namespace), cmp.Compare(ra.Name, rb.Name), cmp.Compare(ra.GVK.Group, rb.GVK.Group))
	})
}

// toYAML renders obj as YAML with sorted keys.
func toYAML(obj map[string]any) string {
	data, err := yaml.Marshal(obj)
	if err != nil {
		return "# cannot render: " + err.Error() + "\n"
	}
	return string(data)
}

// equalJSON compares two objects as their JSON encodings would.
func equalJSON(a, b map[string]any) bool {
	ja, err1 := marshalSorted(a)
	jb, err2 := marshalSorted(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// unified is the unified diff of a and b with 3 lines of context.
func unified(a, b, from, to string) string {
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(a), B: lines(b), FromFile: from, ToFile: to, Context: 3,
	})
	if err != nil {
		return "# cannot diff: " + err.Error() + "\n"
	}
	return text
}

// lines splits s after each newline; none for "".
func lines(s string) []string {
	if s == "" {
		return nil
	}
	out := strings.SplitAfter(s, "\n")
	if out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// marshalSorted is obj as JSON (encoding/json sorts map keys).
func marshalSorted(obj map[string]any) ([]byte, error) { return json.Marshal(obj) }
