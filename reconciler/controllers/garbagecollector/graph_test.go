package garbagecollector

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func deletingWith(o object, finalizers ...string) object {
	o.deleting, o.finalizers = true, finalizers
	return o
}

func sorted(uids []types.UID) []types.UID {
	slices.Sort(uids)
	return slices.Compact(uids)
}

func TestGraphObserve(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []object
		obj    object
		want   []types.UID
	}{
		{"an object without owners calls for nothing", nil, cm("ns", "x"), nil},
		{"a dependent of a known owner calls for nothing", []object{cm("ns", "o")}, cm("ns", "d", ref("o", true)), nil},
		{"a dependent of an unknown owner is checked", nil, cm("ns", "d", ref("o", true)), []types.UID{"d"}},
		{"a dependent of an owner deleting its dependents is checked",
			[]object{deletingWith(cm("ns", "o"), metav1.FinalizerDeleteDependents)}, cm("ns", "d", ref("o", true)), []types.UID{"d"}},
		{"a dependent being deleted waits for its deletion", nil, deletingWith(cm("ns", "d", ref("o", true))), nil},
		{"an owner deleted in the foreground is synced", nil, deletingWith(cm("ns", "o"), metav1.FinalizerDeleteDependents), []types.UID{"o"}},
		{"an owner deleted with orphaning is synced", nil, deletingWith(cm("ns", "o"), metav1.FinalizerOrphanDependents), []types.UID{"o"}},
		{"an owner deleted in the background is not", nil, deletingWith(cm("ns", "o")), nil},
		{"dropping a reference frees a waiting owner",
			[]object{deletingWith(cm("ns", "o"), metav1.FinalizerDeleteDependents), cm("ns", "p"), cm("ns", "d", ref("o", true), ref("p", true))},
			cm("ns", "d", ref("p", true)), []types.UID{"o"}},
		{"unblocking a reference frees a waiting owner",
			[]object{deletingWith(cm("ns", "o"), metav1.FinalizerDeleteDependents), cm("ns", "d", ref("o", true))},
			cm("ns", "d", ref("o", false)), []types.UID{"d", "o"}},
		{"dropping a reference to a live owner calls for nothing",
			[]object{cm("ns", "o"), cm("ns", "d", ref("o", true))}, cm("ns", "d"), nil},
	} {
		g := newGraph()
		for _, o := range tc.before {
			g.observe(o)
		}
		if got := sorted(g.observe(tc.obj)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: work %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGraphDependentsFollowReferences(t *testing.T) {
	g := newGraph()
	g.observe(cm("ns", "o"))
	g.observe(cm("ns", "d1", ref("o", true)))
	g.observe(cm("ns", "d2", ref("o", false), ref("p", false)))
	uids := func(objs []object) []types.UID {
		var out []types.UID
		for _, o := range objs {
			out = append(out, o.uid)
		}
		return sorted(out)
	}
	if got := uids(g.dependentsOf("o")); !slices.Equal(got, []types.UID{"d1", "d2"}) {
		t.Fatalf("dependents of o = %v", got)
	}
	if got := uids(g.dependentsOf("p")); !slices.Equal(got, []types.UID{"d2"}) {
		t.Fatalf("dependents of an owner never seen = %v", got)
	}
	g.observe(cm("ns", "d2", ref("p", false)))
	if got := uids(g.dependentsOf("o")); !slices.Equal(got, []types.UID{"d1"}) {
		t.Fatalf("after d2 dropped o, dependents of o = %v", got)
	}
	g.forget("d2")
	if _, ok := g.dependents["p"]; ok {
		t.Error("an owner with no dependents left keeps an index entry")
	}
}

func TestGraphForget(t *testing.T) {
	g := newGraph()
	g.observe(cm("ns", "o"))
	g.observe(deletingWith(cm("ns", "w"), metav1.FinalizerDeleteDependents))
	g.observe(cm("ns", "d", ref("o", true)))
	g.observe(cm("ns", "e", ref("w", true)))

	if got := sorted(g.forget("o")); !slices.Equal(got, []types.UID{"d"}) {
		t.Errorf("forgetting an owner: work %v, want its dependent d", got)
	}
	if _, ok := g.get("o"); ok || !g.isGone("o") {
		t.Error("a forgotten object is still known, or not known as gone")
	}
	if got := sorted(g.forget("e")); !slices.Equal(got, []types.UID{"w"}) {
		t.Errorf("forgetting a dependent of a waiting owner: work %v, want w", got)
	}
	if got := g.forget("never-seen"); got != nil || !g.isGone("never-seen") {
		t.Errorf("forgetting an unknown object: work %v", got)
	}
	if g.isGone("d") {
		t.Error("a live object counts as gone")
	}
}
