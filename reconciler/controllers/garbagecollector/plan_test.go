package garbagecollector

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var (
	configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	configMap  = schema.GroupKind{Kind: "ConfigMap"}
	rsKind     = schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}
)

func ref(uid types.UID, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "owner-" + string(uid), UID: uid, BlockOwnerDeletion: &block}
}

func cm(ns, uid string, owners ...metav1.OwnerReference) object {
	return object{resource: configMaps, kind: configMap, namespace: ns, name: "owner-" + uid, uid: types.UID(uid), owners: owners}
}

func TestPlanDependent(t *testing.T) {
	a, b := ref("a", true), ref("b", false)
	withFinalizer := func(o object, f string) object { o.finalizers = []string{f}; return o }
	del := func(p metav1.DeletionPropagation) action { return action{remove: true, policy: p} }
	for _, tc := range []struct {
		name                      string
		obj                       object
		states                    map[types.UID]ownerState
		hasDependents, depWaiting bool
		want                      action
	}{
		{"every owner solid: nothing", cm("ns", "d", a, b), map[types.UID]ownerState{"a": ownerSolid, "b": ownerSolid}, false, false, action{}},
		{"all owners gone: background delete", cm("ns", "d", a, b), map[types.UID]ownerState{"a": ownerDangling, "b": ownerDangling}, true, false, del(metav1.DeletePropagationBackground)},
		{"one gone, one solid: drop the gone one", cm("ns", "d", a, b), map[types.UID]ownerState{"a": ownerDangling, "b": ownerSolid}, false, false, action{patch: true, owners: []metav1.OwnerReference{b}}},
		{"one waiting, one solid: drop the waiting one", cm("ns", "d", a, b), map[types.UID]ownerState{"a": ownerSolid, "b": ownerWaiting}, true, false, action{patch: true, owners: []metav1.OwnerReference{a}}},
		{"owner waiting, no dependents: background delete", cm("ns", "d", a), map[types.UID]ownerState{"a": ownerWaiting}, false, false, del(metav1.DeletePropagationBackground)},
		{"owner waiting, has dependents: foreground delete", cm("ns", "d", a), map[types.UID]ownerState{"a": ownerWaiting}, true, false, del(metav1.DeletePropagationForeground)},
		{"owner waiting, a dependent waiting too: unblock, then foreground", cm("ns", "d", a, b), map[types.UID]ownerState{"a": ownerWaiting, "b": ownerDangling}, true, true,
			action{patch: true, owners: []metav1.OwnerReference{ref("a", false), b}, remove: true, policy: metav1.DeletePropagationForeground}},
		{"gone owner, own orphan finalizer: orphan delete", withFinalizer(cm("ns", "d", a), metav1.FinalizerOrphanDependents), map[types.UID]ownerState{"a": ownerDangling}, true, false, del(metav1.DeletePropagationOrphan)},
		{"gone owner, own foreground finalizer: foreground delete", withFinalizer(cm("ns", "d", a), metav1.FinalizerDeleteDependents), map[types.UID]ownerState{"a": ownerDangling}, false, false, del(metav1.DeletePropagationForeground)},
	} {
		got := planDependent(tc.obj, tc.states, tc.hasDependents, tc.depWaiting)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	refs := []metav1.OwnerReference{a}
	planDependent(cm("ns", "d", refs...), map[types.UID]ownerState{"a": ownerWaiting}, true, true)
	if !*refs[0].BlockOwnerDeletion {
		t.Error("unblocking modified the input's references")
	}
}

func TestMatches(t *testing.T) {
	owner := cm("ns", "a")
	cluster := object{kind: schema.GroupKind{Kind: "Node"}, name: "n", uid: "n"}
	nodeRef := metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: "n", UID: "n"}
	for _, tc := range []struct {
		name  string
		owner object
		ref   metav1.OwnerReference
		ns    string
		want  bool
	}{
		{"same namespace", owner, ref("a", false), "ns", true},
		{"version does not matter", owner, metav1.OwnerReference{APIVersion: "v2", Kind: "ConfigMap", Name: "owner-a", UID: "a"}, "ns", true},
		{"other namespace", owner, ref("a", false), "other", false},
		{"cluster-scoped dependent", owner, ref("a", false), "", false},
		{"other name", owner, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "x", UID: "a"}, "ns", false},
		{"other group", owner, metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ConfigMap", Name: "owner-a", UID: "a"}, "ns", false},
		{"other uid", owner, ref("b", false), "ns", false},
		{"cluster-scoped owner from any namespace", cluster, nodeRef, "ns", true},
	} {
		if got := matches(tc.owner, tc.ref, tc.ns); got != tc.want {
			t.Errorf("%s: matches = %v", tc.name, got)
		}
	}
	if got := refKind(metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet"}); got != rsKind {
		t.Errorf("refKind = %v", got)
	}
}

func TestStateOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  object
		want ownerState
	}{
		{"alive", object{}, ownerSolid},
		{"deleted in the background", object{deleting: true}, ownerSolid},
		{"orphaning", object{deleting: true, finalizers: []string{metav1.FinalizerOrphanDependents}}, ownerSolid},
		{"foreground finalizer but not deleted yet", object{finalizers: []string{metav1.FinalizerDeleteDependents}}, ownerSolid},
		{"deleted in the foreground", object{deleting: true, finalizers: []string{"x", metav1.FinalizerDeleteDependents}}, ownerWaiting},
	} {
		if got := stateOf(tc.obj); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBlockingDependents(t *testing.T) {
	owner := cm("ns", "o")
	blocking := cm("ns", "d1", ref("o", true))
	notBlocking := cm("ns", "d2", ref("o", false))
	otherNamespace := cm("other", "d3", ref("o", true))
	blocksOther := cm("ns", "d4", ref("x", true), ref("o", false))
	got := blockingDependents(owner, []object{blocking, notBlocking, otherNamespace, blocksOther})
	if len(got) != 1 || got[0].uid != "d1" {
		t.Fatalf("blocking dependents = %v, want only d1", got)
	}
}

func TestReferenceAndFinalizerEdits(t *testing.T) {
	refs := []metav1.OwnerReference{ref("a", true), ref("b", true), ref("a", false)}
	if got := withoutOwner(refs, "a"); len(got) != 1 || got[0].UID != "b" {
		t.Errorf("withoutOwner = %v", got)
	}
	if len(refs) != 3 || refs[0].UID != "a" {
		t.Errorf("withoutOwner modified its input: %v", refs)
	}
	if got := withoutOwner([]metav1.OwnerReference{ref("a", true)}, "a"); got == nil || len(got) != 0 {
		t.Errorf("removing the last reference = %#v, want an empty list (a merge patch then clears it)", got)
	}
	fins := []string{"x", metav1.FinalizerOrphanDependents, "y"}
	if got := withoutFinalizer(fins, metav1.FinalizerOrphanDependents); !reflect.DeepEqual(got, []string{"x", "y"}) {
		t.Errorf("withoutFinalizer = %v", got)
	}
	if fins[1] != metav1.FinalizerOrphanDependents {
		t.Error("withoutFinalizer modified its input")
	}
}

func TestDeletableResources(t *testing.T) {
	all := metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: all},
			{Name: "nodes", Kind: "Node", Verbs: all},
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: all},
			{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: metav1.Verbs{"get", "patch", "update"}},
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: all},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "replicasets", Kind: "ReplicaSet", Namespaced: true, Verbs: all},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: all},
		}},
		{GroupVersion: "authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "subjectaccessreviews", Kind: "SubjectAccessReview", Verbs: metav1.Verbs{"create"}},
		}},
		{GroupVersion: "rbac.authorization.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "roles", Kind: "Role", Namespaced: true, Verbs: metav1.Verbs{"get", "list", "watch"}},
		}},
	}
	got := deletableResources(lists)
	want := map[schema.GroupKind]resource{
		configMap:      {gvr: configMaps, namespaced: true},
		{Kind: "Node"}: {gvr: schema.GroupVersionResource{Version: "v1", Resource: "nodes"}},
		{Kind: "Pod"}:  {gvr: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, namespaced: true},
		rsKind:         {gvr: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, namespaced: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deletable resources:\n got %v\nwant %v", got, want)
	}
}

func TestTransformKeepsWhatTheCollectorReads(t *testing.T) {
	now := metav1.Now()
	in := &metav1.PartialObjectMetadata{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "n", Namespace: "ns", UID: "u", ResourceVersion: "7",
			OwnerReferences: []metav1.OwnerReference{ref("o", true)}, Finalizers: []string{"f"}, DeletionTimestamp: &now,
			Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"c": "d"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}},
		},
	}
	out, err := Transform(in)
	if err != nil {
		t.Fatal(err)
	}
	want := in.DeepCopy()
	want.Labels, want.Annotations, want.ManagedFields = nil, nil, nil
	if !reflect.DeepEqual(out, want) {
		t.Errorf("Transform = %+v\nwant %+v", out, want)
	}
	if in.Labels == nil {
		t.Error("Transform modified its input")
	}
	if got, _ := Transform("tombstone"); got != "tombstone" {
		t.Errorf("Transform changed a non-metadata object: %v", got)
	}
}
