package ownership

import (
	"reflect"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestControlledIndex(t *testing.T) {
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	informer := factory.Core().V1().Pods().Informer()
	for range 2 { // a second controller on the same informer is fine
		if err := AddControllerIndex(informer); err != nil {
			t.Fatal(err)
		}
	}
	other := pod("other-ns-orphan", nil, "")
	other.Namespace = "elsewhere"
	for _, p := range []*corev1.Pod{pod("mine", nil, "owner-uid"), pod("orphan", nil, ""), pod("theirs", nil, "x"), other} {
		if err := informer.GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		withOrphans bool
		want        []string
	}{{false, []string{"mine"}}, {true, []string{"mine", "orphan"}}} {
		got, err := Controlled[*corev1.Pod](informer.GetIndexer(), owner(), tc.withOrphans)
		if err != nil {
			t.Fatal(err)
		}
		n := names(got)
		sort.Strings(n)
		if !reflect.DeepEqual(n, tc.want) {
			t.Errorf("withOrphans=%v: %v, want %v", tc.withOrphans, n, tc.want)
		}
	}
}
