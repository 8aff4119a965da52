// Package plan decides what a sync does, as a pure function: the objects a
// commit renders to, and the live objects the source applied before, go
// in; the order to apply them in and what to prune come out.
//
// Apply order is stable and safe: an optional wave annotation first
// (berth.io/sync-wave, an integer, lower first, default 0), then by kind —
// Namespaces, other cluster-scoped objects, ServiceAccounts and quotas,
// ConfigMaps and Secrets, Services, workloads, Jobs, anything else — then
// by kind, namespace and name. Objects in one step do not depend on each
// other and may be applied concurrently; each step waits for the one
// before. Pruning goes the other way: workloads first, Namespaces last.
package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// WaveAnnotation orders objects across kinds: lower waves apply first.
const WaveAnnotation = "berth.io/sync-wave"

// Ref names an object. Version is the one it was applied or listed with;
// it does not count for identity.
type Ref struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
}

// ID is Ref's identity: group, kind, namespace and name.
func (r Ref) ID() string {
	return r.GVK.Group + "/" + r.GVK.Kind + "/" + r.Namespace + "/" + r.Name
}

// String is "Kind namespace/name" or "Kind name".
func (r Ref) String() string {
	if r.Namespace == "" {
		return r.GVK.Kind + " " + r.Name
	}
	return r.GVK.Kind + " " + r.Namespace + "/" + r.Name
}

// RefOf names u.
func RefOf(u *unstructured.Unstructured) Ref {
	return Ref{GVK: u.GroupVersionKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

// Plan is what a sync does.
type Plan struct {
	// Steps are indexes into the desired objects, applied step by step.
	Steps [][]int
	// Prune are the live objects to delete, in order.
	Prune []Ref
}

// ObjectError is a problem with the desired object at Index.
type ObjectError struct {
	Index   int
	Field   string
	Message string
}

// Make plans applying desired (namespaces already filled in; cluster-scoped
// objects have none) over live, the objects that carry the source's label
// now. With prune, live objects no longer desired are deleted. A desired
// object with a bad wave annotation is an error, and nothing should be
// applied.
func Make(desired []*unstructured.Unstructured, live []Ref, prune bool) (Plan, []ObjectError) {
	type entry struct {
		index, wave, rank int
		ref               Ref
	}
	var errs []ObjectError
	entries := make([]entry, len(desired))
	want := make(map[string]bool, len(desired))
	for i, u := range desired {
		ref := RefOf(u)
		want[ref.ID()] = true
		wave, err := waveOf(u)
		if err != nil {
			errs = append(errs, ObjectError{Index: i, Field: "metadata.annotations[" + WaveAnnotation + "]", Message: err.Error()})
		}
		entries[i] = entry{index: i, wave: wave, rank: Rank(ref), ref: ref}
	}
	slices.SortStableFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.wave, b.wave), cmp.Compare(a.rank, b.rank), compareRefs(a.ref, b.ref))
	})
	var p Plan
	for i, e := range entries {
		if i == 0 || e.wave != entries[i-1].wave || e.rank != entries[i-1].rank {
			p.Steps = append(p.Steps, nil)
		}
		p.Steps[len(p.Steps)-1] = append(p.Steps[len(p.Steps)-1], e.index)
	}
	if prune {
		seen := map[string]bool{}
		for _, r := range live {
			if id := r.ID(); !want[id] && !seen[id] {
				seen[id] = true
				p.Prune = append(p.Prune, r)
			}
		}
		slices.SortFunc(p.Prune, func(a, b Ref) int {
			return cmp.Or(cmp.Compare(Rank(b), Rank(a)), compareRefs(a, b))
		})
	}
	return p, errs
}

// Ranks of kinds in apply order.
const (
	rankNamespace = iota
	rankDefinitions
	rankClusterScoped
	rankAccess
	rankConfig
	rankNetwork
	rankWorkload
	rankJob
	rankOther
)

var kindRanks = map[schema.GroupKind]int{
	{Kind: "Namespace"}: rankNamespace,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: rankDefinitions,
	{Kind: "ServiceAccount"}:                                  rankAccess,
	{Kind: "ResourceQuota"}:                                   rankAccess,
	{Kind: "LimitRange"}:                                      rankAccess,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:        rankAccess,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}: rankAccess,
	{Kind: "ConfigMap"}:                                       rankConfig,
	{Kind: "Secret"}:                                          rankConfig,
	{Kind: "PersistentVolumeClaim"}:                           rankConfig,
	{Kind: "Service"}:                                         rankNetwork,
	{Kind: "Endpoints"}:                                       rankNetwork,
	{Group: "discovery.k8s.io", Kind: "EndpointSlice"}:        rankNetwork,
	{Group: "apps", Kind: "Deployment"}:                       rankWorkload,
	{Group: "apps", Kind: "ReplicaSet"}:                       rankWorkload,
	{Group: "apps", Kind: "StatefulSet"}:                      rankWorkload,
	{Group: "apps", Kind: "DaemonSet"}:                        rankWorkload,
	{Kind: "Pod"}:                                             rankWorkload,
	{Group: "batch", Kind: "Job"}:                             rankJob,
	{Group: "batch", Kind: "CronJob"}:                         rankJob,
}

// Rank is r's place in the apply order (lower first), wave aside.
func Rank(r Ref) int {
	if rank, ok := kindRanks[r.GVK.GroupKind()]; ok {
		return rank
	}
	if r.Namespace == "" {
		return rankClusterScoped
	}
	return rankOther
}

func compareRefs(a, b Ref) int {
	return cmp.Or(cmp.Compare(a.GVK.Group, b.GVK.Group), cmp.Compare(a.GVK.Kind, b.GVK.Kind),
		cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

func waveOf(u *unstructured.Unstructured) (int, error) {
	s, ok := u.GetAnnotations()[WaveAnnotation]
	if !ok {
		return 0, nil
	}
	w, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer: the sync wave orders objects, lower first (default 0)", s)
	}
	return w, nil
}
