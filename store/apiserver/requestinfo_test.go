package apiserver

import (
	"net/http/httptest"
	"testing"
)

func TestParseRequestInfo(t *testing.T) {
	cases := []struct {
		method, url string
		want        RequestInfo
	}{
		{"GET", "/api/v1/namespaces/default/pods", RequestInfo{IsResource: true, Verb: "list", APIVersion: "v1", Namespace: "default", Resource: "pods"}},
		{"GET", "/api/v1/namespaces/default/pods?watch=true", RequestInfo{IsResource: true, Verb: "watch", APIVersion: "v1", Namespace: "default", Resource: "pods"}},
		{"GET", "/api/v1/namespaces/default/pods/web", RequestInfo{IsResource: true, Verb: "get", APIVersion: "v1", Namespace: "default", Resource: "pods", Name: "web"}},
		{"POST", "/api/v1/namespaces/default/pods/web/binding", RequestInfo{IsResource: true, Verb: "create", APIVersion: "v1", Namespace: "default", Resource: "pods", Name: "web", Subresource: "binding"}},
		{"PUT", "/apis/apps/v1/namespaces/ns/deployments/d/scale", RequestInfo{IsResource: true, Verb: "update", APIGroup: "apps", APIVersion: "v1", Namespace: "ns", Resource: "deployments", Name: "d", Subresource: "scale"}},
		{"DELETE", "/apis/batch/v1/namespaces/ns/jobs", RequestInfo{IsResource: true, Verb: "deletecollection", APIGroup: "batch", APIVersion: "v1", Namespace: "ns", Resource: "jobs"}},
		{"PATCH", "/api/v1/nodes/n1/status", RequestInfo{IsResource: true, Verb: "patch", APIVersion: "v1", Resource: "nodes", Name: "n1", Subresource: "status"}},
		{"GET", "/api/v1/namespaces/kube-system", RequestInfo{IsResource: true, Verb: "get", APIVersion: "v1", Namespace: "kube-system", Resource: "namespaces", Name: "kube-system"}},
		{"PUT", "/api/v1/namespaces/gone/finalize", RequestInfo{IsResource: true, Verb: "update", APIVersion: "v1", Namespace: "gone", Resource: "namespaces", Name: "gone", Subresource: "finalize"}},
		{"GET", "/api/v1/pods", RequestInfo{IsResource: true, Verb: "list", APIVersion: "v1", Resource: "pods"}},
		{"GET", "/apis/apps/v1", RequestInfo{Verb: "get", APIGroup: "apps", APIVersion: "v1"}},
		{"GET", "/healthz", RequestInfo{Verb: "get"}},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.url, nil)
		got := ParseRequestInfo(r)
		c.want.Path = r.URL.Path
		if got != c.want {
			t.Errorf("%s %s:\n got %+v\nwant %+v", c.method, c.url, got, c.want)
		}
	}
}

func TestContinueTokenRoundTripAndRejectsEscapes(t *testing.T) {
	prefix := "/registry/core/pods/ns/"
	tok := encodeContinue(42, prefix+"web-1\x00", prefix)
	got, err := decodeContinue(tok, prefix)
	if err != nil || got.Revision != 42 || got.Start != prefix+"web-1\x00" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{"not base64!", encodeContinue(0, prefix+"x", prefix), encodeContinue(5, "/registry/../secrets", "/registry/")} {
		if _, err := decodeContinue(bad, prefix); err == nil {
			t.Errorf("decodeContinue(%q) accepted a bad token", bad)
		}
	}
}
