// Package drift finds where a live object differs from what berth applied
// from git, field by field, and who changed each field.
//
// It is pure: the engine hands it the desired object (as rendered from the
// applied commit, the way it was sent with server-side apply) and the live
// object read back from the API server (with its managedFields), and gets
// Entries back. A field drifts when git sets it, the live value differs,
// and berth no longer owns it: another field manager took it over (an
// Update by `kubectl scale` or `kubectl edit` takes the field from the
// `berth-gitsync` applier, which managedFields shows) or removed it.
// Fields that git does not set (server defaults, a scaler's fields, status)
// are never drift, and neither is a field berth still owns (a commit not
// applied yet).
//
// How the engine uses it:
//
//	d := drift.NewDetector()             // once
//	entries, err := d.Detect(desired, live) // per applied object, on every watch event
//	... status.drift = entries; drift.Summary(entries) as the Drifted condition message
//	... livebranch.Commit(...) with the entries and drift.Markdown(entries)
package drift

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// FieldManager is the field manager berth's sync applies with.
const FieldManager = "berth-gitsync"

// Object names a Kubernetes object.
type Object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

// String is "Kind namespace/name" or "Kind name".
func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Changer is who changed a field: the managedFields entry that owns it
// now, or the latest one to update the object when the field was removed.
type Changer struct {
	// Manager is the field manager, such as "kubectl-scale",
	// "kubectl-edit" or "kubectl-client-side-apply"; empty when unknown.
	Manager string `json:"manager,omitempty"`
	// Operation is "Update" or "Apply".
	Operation string `json:"operation,omitempty"`
	// Subresource is the subresource written through, such as "scale"
	// for `kubectl scale`; empty for the object itself.
	Subresource string `json:"subresource,omitempty"`
	// Time is when that manager last changed the object; zero when unknown.
	Time time.Time `json:"time,omitzero"`
}

// String is "kubectl-scale (Update)", or "unknown".
func (c Changer) String() string {
	if c.Manager == "" {
		return "unknown"
	}
	if c.Operation == "" {
		return c.Manager
	}
	if c.Subresource != "" {
		return c.Manager + " (" + c.Operation + " " + c.Subresource + ")"
	}
	return c.Manager + " (" + c.Operation + ")"
}

// Entry is one drifted field.
type Entry struct {
	Object Object `json:"object"`
	// Field is the field's path, such as "spec.replicas" or
	// `spec.template.spec.containers[name="web"].image`.
	Field string `json:"field"`
	// Path is Field, structured (for rewriting a manifest).
	Path fieldpath.Path `json:"-"`
	// Git is the value in git (JSON-compatible: string, int64, float64,
	// bool, map, slice).
	Git any `json:"git"`
	// Live is the live value; meaningless when Removed.
	Live any `json:"live,omitempty"`
	// Removed: the field is gone from the live object.
	Removed bool    `json:"removed,omitempty"`
	By      Changer `json:"by"`
}

// GitString renders the git value on one line.
func (e Entry) GitString() string { return render(e.Git, false) }

// LiveString renders the live value on one line; "(removed)" when removed.
func (e Entry) LiveString() string { return render(e.Live, e.Removed) }

// String is "Deployment apps/web: spec.replicas: 3 → 5 by kubectl-scale (Update)".
func (e Entry) String() string {
	return fmt.Sprintf("%s: %s: %s → %s by %s", e.Object, e.Field, e.GitString(), e.LiveString(), e.By)
}

// Detector finds drift. Safe for concurrent use.
type Detector struct {
	builtin managedfields.TypeConverter // the built-in kinds, with their merge keys
	deduced managedfields.TypeConverter // anything else: maps are maps, lists atomic
}

// NewDetector returns a Detector that knows the merge keys of the
// built-in kinds (containers by name, ports by port and protocol, ...);
// other kinds are compared with atomic lists.
func NewDetector() *Detector {
	return &Detector{
		builtin: applyconfigurations.NewTypeConverter(scheme.Scheme),
		deduced: managedfields.NewDeducedTypeConverter(),
	}
}

// Detect compares desired (what berth applied from git) with live, and
// returns the drifted fields in path order; none when they agree.
func (d *Detector) Detect(desired, live *unstructured.Unstructured) ([]Entry, error) {
	obj := Object{APIVersion: desired.GetAPIVersion(), Kind: desired.GetKind(), Namespace: live.GetNamespace(), Name: desired.GetName()}
	if !touchedByOthers(live.GetManagedFields()) {
		return nil, nil // only berth (and status writers) wrote it: nothing can have drifted
	}
	want, err := d.fieldSet(desired)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the fields git sets: %w", obj, err)
	}
	owners, err := decodeOwners(live.GetManagedFields())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", obj, err)
	}
	var out []Entry
	want.Leaves().Iterate(func(p fieldpath.Path) {
		if ignored(p) {
			return
		}
		gitValue, ok := Lookup(desired.Object, p)
		if !ok {
			return
		}
		liveValue, present := Lookup(live.Object, p)
		if present && equal(gitValue, liveValue) {
			return
		}
		by, ok := changer(owners, p, present)
		if !ok {
			return // berth still owns it: not applied yet, not drift
		}
		out = append(out, Entry{Object: obj, Field: FieldString(p), Path: p.Copy(), Git: gitValue, Live: liveValue, Removed: !present, By: by})
	})
	return out, nil
}

// fieldSet is the set of fields obj sets, with list items named by their
// merge keys.
func (d *Detector) fieldSet(obj *unstructured.Unstructured) (*fieldpath.Set, error) {
	tv, err := d.builtin.ObjectToTyped(obj, typed.AllowDuplicates)
	if err != nil {
		if tv, err = d.deduced.ObjectToTyped(obj, typed.AllowDuplicates); err != nil {
			return nil, err
		}
	}
	return tv.ToFieldSet()
}

// touchedByOthers reports whether a manager other than berth's applier
// wrote the object's spec or metadata.
func touchedByOthers(entries []metav1.ManagedFieldsEntry) bool {
	for _, e := range entries {
		if e.Manager != FieldManager && e.Subresource != "status" {
			return true
		}
	}
	return len(entries) == 0
}

// owner is one managedFields entry, decoded.
type owner struct {
	manager, operation, subresource string
	time                            time.Time
	fields                          *fieldpath.Set
}

func decodeOwners(entries []metav1.ManagedFieldsEntry) ([]owner, error) {
	var out []owner
	for _, e := range entries {
		if e.FieldsV1 == nil {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return nil, fmt.Errorf("managedFields of manager %q: %w", e.Manager, err)
		}
		o := owner{manager: e.Manager, operation: string(e.Operation), subresource: e.Subresource, fields: s}
		if e.Time != nil {
			o.time = e.Time.UTC()
		}
		out = append(out, o)
	}
	return out, nil
}

// changer decides whether a differing field at p is drift and who made
// it: the latest manager other than berth's that owns p, or, for a field
// that is gone, the latest manager to touch the object after berth's
// apply. ok is false when berth still owns p or nobody changed the object
// after berth applied it.
func changer(owners []owner, p fieldpath.Path, present bool) (Changer, bool) {
	var berth *owner
	for i := range owners {
		if owners[i].manager == FieldManager && owners[i].operation == string(metav1.ManagedFieldsOperationApply) {
			berth = &owners[i]
		}
	}
	if present {
		if berth != nil && berth.fields.Has(p) {
			return Changer{}, false
		}
		if o := latest(owners, func(o owner) bool { return o.manager != FieldManager && o.fields.Has(p) }); o != nil {
			return o.changer(), true
		}
		// Nobody owns it and it differs (berth's ownership was reset): drift
		// by an unknown hand.
		return Changer{}, true
	}
	if berth != nil && berth.fields.Has(p) {
		return Changer{}, false
	}
	o := latest(owners, func(o owner) bool {
		return o.manager != FieldManager && (berth == nil || !o.time.Before(berth.time))
	})
	if o == nil {
		return Changer{}, berth == nil
	}
	return o.changer(), true
}

func (o *owner) changer() Changer {
	return Changer{Manager: o.manager, Operation: o.operation, Subresource: o.subresource, Time: o.time}
}

// latest is the most recent owner that keep accepts, the last listed on a
// tie.
func latest(owners []owner, keep func(owner) bool) *owner {
	var best *owner
	for i := range owners {
		if keep(owners[i]) && (best == nil || !owners[i].time.Before(best.time)) {
			best = &owners[i]
		}
	}
	return best
}

// ignored reports whether p is a field the server writes or that names
// the object, never drift.
func ignored(p fieldpath.Path) bool {
	if len(p) == 0 || p[0].FieldName == nil {
		return true
	}
	switch *p[0].FieldName {
	case "apiVersion", "kind", "status":
		return true
	case "metadata":
		if len(p) < 2 || p[1].FieldName == nil {
			return true
		}
		switch *p[1].FieldName {
		case "name", "namespace", "generateName", "uid", "resourceVersion", "generation", "creationTimestamp",
			"deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink":
			return true
		}
	}
	return false
}

// Lookup returns the value at p in obj, an unstructured object's content.
func Lookup(obj any, p fieldpath.Path) (any, bool) {
	cur := obj
	for _, pe := range p {
		switch {
		case pe.FieldName != nil:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[*pe.FieldName]; !ok {
				return nil, false
			}
		case pe.Index != nil:
			l, ok := cur.([]any)
			if !ok || *pe.Index < 0 || *pe.Index >= len(l) {
				return nil, false
			}
			cur = l[*pe.Index]
		case pe.Key != nil || pe.Value != nil:
			l, ok := cur.([]any)
			if !ok {
				return nil, false
			}
			i := slices.IndexFunc(l, func(item any) bool { return matches(pe, item) })
			if i < 0 {
				return nil, false
			}
			cur = l[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// matches reports whether a list item is the one pe (by key or by value)
// selects.
func matches(pe fieldpath.PathElement, item any) bool {
	if pe.Value != nil {
		return value.Equals(*pe.Value, value.NewValueInterface(item))
	}
	m, ok := item.(map[string]any)
	if !ok {
		return false
	}
	for _, f := range *pe.Key {
		v, ok := m[f.Name]
		if !ok || !value.Equals(f.Value, value.NewValueInterface(v)) {
			return false
		}
	}
	return true
}

// equal compares two values as the API does: numbers by value, and
// quantities by amount ("0.5" equals "500m", which the server writes).
func equal(a, b any) bool {
	if value.Equals(value.NewValueInterface(a), value.NewValueInterface(b)) {
		return true
	}
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok {
		qa, errA := resource.ParseQuantity(as)
		qb, errB := resource.ParseQuantity(bs)
		return errA == nil && errB == nil && qa.Cmp(qb) == 0
	}
	return false
}

// FieldString renders p as "spec.replicas" or
// `spec.template.spec.containers[name="web"].image`.
func FieldString(p fieldpath.Path) string {
	var b strings.Builder
	for _, pe := range p {
		switch {
		case pe.FieldName != nil:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(*pe.FieldName)
		case pe.Key != nil:
			b.WriteByte('[')
			for i, f := range *pe.Key {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(f.Name + "=" + value.ToString(f.Value))
			}
			b.WriteByte(']')
		default:
			b.WriteString(pe.String())
		}
	}
	return b.String()
}

// render is a value on one line: strings as they are, the rest as JSON.
func render(v any, removed bool) string {
	if removed {
		return "(removed)"
	}
	if s, ok := v.(string); ok {
		return s
	}
	j, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(j)
}
