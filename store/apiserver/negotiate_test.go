package apiserver

import (
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

// TestNegotiateJSONOnlyKinds: berth's own kinds have no protobuf form, so
// they are negotiated as kube-apiserver negotiates a CustomResource:
// protobuf is skipped for the object itself (the metadata client's
// "protobuf, json" gets JSON; protobuf alone is 406) and kept for the
// meta.k8s.io conversions, which are protobuf types.
func TestNegotiateJSONOnlyKinds(t *testing.T) {
	reg := fuzzRegistry(t)
	s := fuzzServer(t, reg)
	pods := fuzzKind(t, reg, corev1.SchemeGroupVersion.WithResource("pods"))
	gitSources := fuzzKind(t, reg, berthv1alpha1.GitSourcesResource)
	const metadataClient = "application/vnd.kubernetes.protobuf,application/json"
	const metadataList = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
	for _, tc := range []struct {
		name      string
		accept    string
		protobuf  bool // the kind asked for is a k8s.io/api type
		wantMedia string
		wantAs    string
		wantCode  int32
	}{
		{name: "built-in kind, protobuf first", accept: metadataClient, protobuf: true, wantMedia: mediaProtobuf},
		{name: "JSON kind, protobuf first falls to JSON", accept: metadataClient, wantMedia: mediaJSON},
		{name: "JSON kind, protobuf alone", accept: mediaProtobuf, wantCode: http.StatusNotAcceptable},
		{name: "JSON kind, protobuf metadata list", accept: metadataList, wantMedia: mediaProtobuf, wantAs: asMetadataList},
		{name: "JSON kind, protobuf table", accept: "application/vnd.kubernetes.protobuf;as=Table;g=meta.k8s.io;v=v1", wantMedia: mediaProtobuf, wantAs: asTable},
		{name: "JSON kind, YAML", accept: mediaYAML, wantMedia: mediaYAML},
		{name: "JSON kind, no Accept", accept: "", wantMedia: mediaJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind := gitSources
			if tc.protobuf {
				kind = pods
			}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Accept", tc.accept)
			out, err := s.negotiate(r, kind)
			if tc.wantCode != 0 {
				wantCode(t, "Accept "+tc.accept, err, tc.wantCode)
				return
			}
			if err != nil {
				t.Fatalf("Accept %q: %v", tc.accept, err)
			}
			if out.mediaType != tc.wantMedia || out.as != tc.wantAs {
				t.Fatalf("Accept %q negotiated %q as %q, want %q as %q", tc.accept, out.mediaType, out.as, tc.wantMedia, tc.wantAs)
			}
		})
	}
}
