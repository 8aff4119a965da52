package apiserver

import (
	"errors"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

func TestWithValuePath(t *testing.T) {
	refused := errors.New("refused")
	for _, tc := range []struct {
		name string
		body string
		into any
		want string
	}{
		{name: "quantity in a list element's map", into: &appsv1.Deployment{},
			body: `{"spec":{"template":{"spec":{"containers":[{"name":"a"},{"name":"b","resources":{"limits":{"cpu":"1","memory":"lots"}}}]}}}}`,
			want: "spec.template.spec.containers[1].resources.limits[memory]: refused"},
		{name: "duration in YAML", into: &berthv1alpha1.GitSource{}, body: "spec:\n  url: /srv\n  interval: soon\n",
			want: "spec.interval: refused"},
		{name: "time in the inlined ObjectMeta", into: &corev1.ConfigMap{}, body: `{"metadata":{"name":"x","creationTimestamp":"yesterday"}}`,
			want: "metadata.creationTimestamp: refused"},
		{name: "int-or-string", into: &corev1.Service{}, body: `{"spec":{"ports":[{"port":80,"targetPort":{"a":1}}]}}`,
			want: "spec.ports[0].targetPort: refused"},
		{name: "every value parses: unchanged", into: &appsv1.Deployment{}, body: `{"spec":{"replicas":"three"}}`, want: "refused"},
		{name: "not a document: unchanged", into: &appsv1.Deployment{}, body: "\x00\x01", want: "refused"},
		{name: "no type: unchanged", into: nil, body: `{}`, want: "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := withValuePath(refused, []byte(tc.body), tc.into)
			if got.Error() != tc.want || !errors.Is(got, refused) {
				t.Fatalf("got %q, want %q wrapping the error", got, tc.want)
			}
		})
	}
}
