package v1alpha1

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func full() *GitSource {
	prune := false
	now := metav1.NewTime(time.Unix(100, 0))
	return &GitSource{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "b", Labels: map[string]string{"x": "y"}},
		Spec: GitSourceSpec{
			URL: "/repo", Interval: &metav1.Duration{Duration: time.Minute}, Prune: &prune,
			SecretRef: &corev1.LocalObjectReference{Name: "s"},
		},
		Status: GitSourceStatus{
			Conditions:   []metav1.Condition{{Type: ConditionReady, Status: metav1.ConditionTrue}},
			LastSyncTime: &now,
			Inventory:    []InventoryEntry{{Kind: "Pod", Name: "p"}},
			Errors:       []SyncError{{File: "f", Message: "m"}},
			Drift:        []DriftEntry{{Kind: "Pod", Name: "p", Time: &now}},
		},
	}
}

func TestDeepCopySharesNothing(t *testing.T) {
	in := full()
	out := in.DeepCopyObject().(*GitSource)
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("copy differs:\n%+v\n%+v", in, out)
	}
	*out.Spec.Prune = true
	out.Spec.Interval.Duration = time.Hour
	out.Spec.SecretRef.Name = "t"
	out.Labels["x"] = "z"
	out.Status.Conditions[0].Status = metav1.ConditionFalse
	out.Status.Inventory[0].Name = "q"
	out.Status.Errors[0].File = "g"
	out.Status.Drift[0].Time.Time = time.Unix(0, 0)
	out.Status.LastSyncTime.Time = time.Unix(0, 0)
	if !reflect.DeepEqual(in, full()) {
		t.Fatalf("changing the copy changed the original: %+v", in)
	}
	list := &GitSourceList{Items: []GitSource{*full()}}
	lc := list.DeepCopyObject().(*GitSourceList)
	lc.Items[0].Status.Inventory[0].Name = "q"
	if list.Items[0].Status.Inventory[0].Name != "p" {
		t.Fatal("list copy shares items")
	}
}

func TestSchemeRecognizesKinds(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"GitSource", "GitSourceList"} {
		if !s.Recognizes(SchemeGroupVersion.WithKind(k)) {
			t.Errorf("%s not recognized", k)
		}
	}
}

func TestSyncErrorString(t *testing.T) {
	for _, c := range []struct {
		e    SyncError
		want string
	}{
		{SyncError{File: "a.yaml", Line: 3, Column: 5, Object: "Pod x/y", Field: "spec", Message: "bad"}, "a.yaml:3:5: Pod x/y: spec: bad"},
		{SyncError{File: "a.yaml", Line: 3, Message: "bad"}, "a.yaml:3: bad"},
		{SyncError{Message: "unreachable"}, "unreachable"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
