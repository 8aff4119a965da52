package endpointslice

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func TestHasEndpoints(t *testing.T) {
	tests := []struct {
		name string
		spec corev1.ServiceSpec
		want bool
	}{
		{"selector", corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}, true},
		{"headless with selector", corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"}}, true},
		{"empty selector selects every pod", corev1.ServiceSpec{Selector: map[string]string{}}, true},
		{"no selector", corev1.ServiceSpec{}, false},
		{"external name", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, Selector: map[string]string{"app": "web"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasEndpoints(&corev1.Service{Spec: tt.spec}); got != tt.want {
				t.Errorf("hasEndpoints = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSlicesOf(t *testing.T) {
	tests := []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ControllerName}, true},
		{map[string]string{discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ControllerName, "extra": "x"}, true},
		{map[string]string{discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: "someone-else"}, false},
		{map[string]string{discoveryv1.LabelServiceName: "api", discoveryv1.LabelManagedBy: ControllerName}, false},
		{map[string]string{discoveryv1.LabelManagedBy: ControllerName}, false},
	}
	for _, tt := range tests {
		if got := slicesOf("web").Matches(labels.Set(tt.labels)); got != tt.want {
			t.Errorf("slicesOf(web) matches %v = %v, want %v", tt.labels, got, tt.want)
		}
	}
}

func TestLiveDropsSlicesBeingDeleted(t *testing.T) {
	now := metav1.Now()
	slice := func(name string, deleting bool) *discoveryv1.EndpointSlice {
		s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if deleting {
			s.DeletionTimestamp = &now
		}
		return s
	}
	got := live([]*discoveryv1.EndpointSlice{slice("a", false), slice("b", true), slice("c", false), slice("d", true)})
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "c" {
		t.Errorf("live kept %v, want [a c]", names)
	}
	if len(live(nil)) != 0 {
		t.Errorf("live(nil) is not empty")
	}
}
