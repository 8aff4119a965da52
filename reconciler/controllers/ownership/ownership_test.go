package ownership

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

var rsKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

func owner(mods ...func(*appsv1.ReplicaSet)) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "owner-uid"}}
	for _, m := range mods {
		m(rs)
	}
	return rs
}

func beingDeleted(o metav1.Object) { ts := metav1.Now(); o.SetDeletionTimestamp(&ts) }

func pod(name string, lbls map[string]string, controller types.UID, mods ...func(metav1.Object)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: lbls}}
	if controller != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: controller, Controller: ptr(true)}}
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func names(pods []*corev1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestPlan(t *testing.T) {
	web := map[string]string{"app": "web"}
	other := map[string]string{"app": "db"}
	pods := []*corev1.Pod{
		pod("mine", web, "owner-uid"),
		pod("mine-relabelled", other, "owner-uid"),
		pod("orphan", web, ""),
		pod("orphan-other", other, ""),
		pod("orphan-deleting", web, "", beingDeleted),
		pod("someone-elses", web, "other-uid"),
	}
	cases := []struct {
		name                  string
		owner                 *appsv1.ReplicaSet
		selector              labels.Selector
		owned, adopt, release []string
	}{
		{"adopts matching orphans, releases what stopped matching", owner(), labels.SelectorFromSet(web),
			[]string{"mine"}, []string{"orphan"}, []string{"mine-relabelled"}},
		{"an owner being deleted neither adopts nor releases", owner(func(rs *appsv1.ReplicaSet) { beingDeleted(rs) }), labels.SelectorFromSet(web),
			[]string{"mine"}, []string{}, []string{}},
		{"an empty selector matches nothing", owner(), labels.Everything(),
			[]string{}, []string{}, []string{"mine", "mine-relabelled"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Plan(tc.owner, tc.selector, pods)
			if got := names(c.Owned); !reflect.DeepEqual(got, tc.owned) {
				t.Errorf("owned = %v, want %v", got, tc.owned)
			}
			if got := names(c.Adopt); !reflect.DeepEqual(got, tc.adopt) {
				t.Errorf("adopt = %v, want %v", got, tc.adopt)
			}
			if got := names(c.Release); !reflect.DeepEqual(got, tc.release) {
				t.Errorf("release = %v, want %v", got, tc.release)
			}
		})
	}
}

// applyPatch applies a strategic merge patch to pod as the API server does.
func applyPatch(t *testing.T, p *corev1.Pod, patch []byte) *corev1.Pod {
	t.Helper()
	orig, _ := json.Marshal(p)
	out, err := strategicpatch.StrategicMergePatch(orig, patch, &corev1.Pod{})
	if err != nil {
		t.Fatalf("applying %s: %v", patch, err)
	}
	var res corev1.Pod
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func TestAdoptAndReleasePatches(t *testing.T) {
	p := pod("p", nil, "")
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "keep", UID: "cm-uid"}}
	adopted := applyPatch(t, p, AdoptPatch(owner(), rsKind, p))
	ref := metav1.GetControllerOf(adopted)
	if ref == nil || ref.UID != "owner-uid" || ref.Kind != "ReplicaSet" || ref.Name != "web" || !*ref.BlockOwnerDeletion {
		t.Fatalf("after adoption the controller is %+v", ref)
	}
	if len(adopted.OwnerReferences) != 2 {
		t.Fatalf("adoption must keep other owners: %+v", adopted.OwnerReferences)
	}
	released := applyPatch(t, adopted, ReleasePatch(owner(), adopted))
	if metav1.GetControllerOf(released) != nil || len(released.OwnerReferences) != 1 || released.OwnerReferences[0].UID != "cm-uid" {
		t.Fatalf("after release ownerReferences = %+v", released.OwnerReferences)
	}
	var body map[string]map[string]any
	if err := json.Unmarshal(ReleasePatch(owner(), p), &body); err != nil || body["metadata"]["uid"] != "uid-p" {
		t.Fatalf("a patch must carry the object's UID as a precondition: %v %v", body, err)
	}
}

func TestApply(t *testing.T) {
	web := map[string]string{"app": "web"}
	claim := Claim[*corev1.Pod]{
		Owned:   []*corev1.Pod{pod("kept", web, "owner-uid")},
		Adopt:   []*corev1.Pod{pod("orphan", web, ""), pod("vanished", web, "")},
		Release: []*corev1.Pod{pod("stray", nil, "owner-uid"), pod("stray-gone", nil, "owner-uid")},
	}
	notFound := func(name string) error { return apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name) }
	cases := []struct {
		name        string
		fresh       *appsv1.ReplicaSet
		freshErr    error
		wantOwned   []string
		wantPatched []string
		wantErr     bool
	}{
		{"adopts and releases, skipping vanished objects", owner(), nil,
			[]string{"kept", "orphan"}, []string{"orphan", "vanished", "stray", "stray-gone"}, false},
		{"no adoption when the owner is being deleted", owner(func(rs *appsv1.ReplicaSet) { beingDeleted(rs) }), nil,
			[]string{"kept"}, []string{"stray", "stray-gone"}, true},
		{"no adoption when the owner was replaced", owner(func(rs *appsv1.ReplicaSet) { rs.UID = "new" }), nil,
			[]string{"kept"}, []string{"stray", "stray-gone"}, true},
		{"no adoption when the owner cannot be read", nil, errors.New("boom"),
			[]string{"kept"}, []string{"stray", "stray-gone"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var patched []string
			patch := func(_ context.Context, name string, _ []byte) error {
				patched = append(patched, name)
				if name == "vanished" || name == "stray-gone" {
					return notFound(name)
				}
				return nil
			}
			fresh := func(context.Context) (metav1.Object, error) {
				if tc.freshErr != nil {
					return nil, tc.freshErr
				}
				return tc.fresh, nil
			}
			owned, err := Apply(context.Background(), claim, owner(), rsKind, patch, fresh)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got := names(owned); !reflect.DeepEqual(got, tc.wantOwned) {
				t.Errorf("owned = %v, want %v", got, tc.wantOwned)
			}
			if !reflect.DeepEqual(patched, tc.wantPatched) {
				t.Errorf("patched %v, want %v", patched, tc.wantPatched)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
