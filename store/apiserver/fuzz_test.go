package apiserver

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/berth-io/berth/store/kinds"
	"github.com/berth-io/berth/store/registry"
)

// The fuzz targets feed request input (paths, headers, bodies, tokens,
// selectors, patches) to the code that reads it before any storage is
// touched. Each input must be answered with a value or an API error of the
// right code, never a panic. `go test` runs the seeds; `go test -fuzz=Name`
// explores further.

// fuzzRegistry is every built-in kind, as the server registers them.
func fuzzRegistry(f testing.TB) *registry.Registry {
	f.Helper()
	reg := registry.New(kinds.NewScheme())
	if err := kinds.Register(reg); err != nil {
		f.Fatal(err)
	}
	return reg
}

// fuzzServer is a Server with what request decoding needs and no storage.
func fuzzServer(f testing.TB, reg *registry.Registry) *Server {
	f.Helper()
	managers, err := newFieldManagers(reg, nil)
	if err != nil {
		f.Fatal(err)
	}
	scheme := reg.Scheme()
	return &Server{scheme: scheme, codecs: serializer.NewCodecFactory(scheme), decoders: newDecoders(scheme), managers: managers}
}

func fuzzKind(f testing.TB, reg *registry.Registry, gvr schema.GroupVersionResource) *registry.Kind {
	f.Helper()
	k, ok := reg.Lookup(gvr)
	if !ok {
		f.Fatalf("no kind serves %s", gvr)
	}
	return k
}

// failOnPanic turns a panic into a failure of this input alone, so that a
// crashing seed does not abort the package's other tests.
func failOnPanic(t *testing.T) {
	if r := recover(); r != nil {
		t.Fatalf("panic: %v\n%s", r, debug.Stack())
	}
}

// wantCode fails unless err is an API error with one of codes.
func wantCode(t *testing.T, what string, err error, codes ...int32) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Fatalf("%s: %T is not an API error: %v", what, err, err)
	}
	for _, c := range codes {
		if status.Status().Code == c {
			return
		}
	}
	t.Fatalf("%s: code %d, want one of %v: %v", what, status.Status().Code, codes, err)
}

var requestVerbs = map[string]bool{"get": true, "list": true, "watch": true, "create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}

func FuzzParseRequestInfo(f *testing.F) {
	for _, seed := range []struct{ method, path, query string }{
		{"GET", "/api/v1/namespaces/default/pods", "watch=true"},
		{"POST", "/api/v1/namespaces/default/pods/web/binding", ""},
		{"PUT", "/api/v1/namespaces/gone/finalize", ""},
		{"DELETE", "/apis/apps/v1/namespaces/ns/deployments", "labelSelector=a%3Db"},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale/extra/parts", ""},
		{"HEAD", "/api/v1/nodes/n1/status", "watch=1"},
		{"GET", "//api//v1///namespaces//", ""},
		{"OPTIONS", "/apis", ""},
		{"get", "/api/v1/namespaces", "watch=%zz"},
		{"", "", ""},
		{"GET", "/api/v1/namespaces/../../etc/passwd", ""},
		{"CONNECT", "/api/v1/namespaces/ns/pods/p/exec", "command=sh"},
	} {
		f.Add(seed.method, seed.path, seed.query)
	}
	f.Fuzz(func(t *testing.T, method, path, query string) {
		defer failOnPanic(t)
		r := &http.Request{Method: method, URL: &url.URL{Path: path, RawQuery: query}, Header: http.Header{}}
		info := ParseRequestInfo(r)
		if info.Path != path {
			t.Fatalf("Path %q, want %q", info.Path, path)
		}
		for name, part := range map[string]string{"namespace": info.Namespace, "resource": info.Resource, "name": info.Name, "subresource": info.Subresource} {
			if strings.Contains(part, "/") {
				t.Fatalf("%s %q holds a slash: %+v", name, part, info)
			}
		}
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			if info.IsResource && !requestVerbs[info.Verb] {
				t.Fatalf("%s %s: verb %q", method, path, info.Verb)
			}
		}
		if !info.IsResource && info.Verb != strings.ToLower(method) {
			t.Fatalf("non-resource %s %s: verb %q", method, path, info.Verb)
		}
		if info.IsResource && !strings.HasPrefix(strings.TrimLeft(path, "/"), "api") {
			t.Fatalf("%s is not under /api or /apis but parsed as a resource: %+v", path, info)
		}
	})
}

func FuzzDecodeContinue(f *testing.F) {
	const prefix = "/registry/core/pods/ns/"
	f.Add(encodeContinue(42, prefix+"web-1", prefix), prefix)
	f.Add(encodeContinue(1, "/registry/core/pods/other/x", prefix), prefix)
	f.Add("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiIuLi8uLi9zZWNyZXRzIn0", prefix) // start "../../secrets"
	f.Add("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTEsInN0YXJ0IjoiIn0", prefix)                 // rv -1
	f.Add("not base64!", prefix)
	f.Add("", "")
	f.Add("bnVsbA", prefix) // null
	f.Fuzz(func(t *testing.T, token, prefix string) {
		defer failOnPanic(t)
		got, err := decodeContinue(token, prefix)
		if err != nil {
			return
		}
		rest, ok := strings.CutPrefix(got.Start, prefix)
		if !ok || strings.Contains(rest, "..") || strings.HasPrefix(rest, "/") {
			t.Fatalf("token %q escapes %q: start %q", token, prefix, got.Start)
		}
		if got.Revision <= 0 {
			t.Fatalf("token %q accepted with revision %d", token, got.Revision)
		}
	})
}

func FuzzContinueRoundTrip(f *testing.F) {
	f.Add(int64(42), "web-1\x00", "/registry/core/pods/ns/")
	f.Add(int64(1<<62), "", "/registry/apps/deployments/")
	f.Add(int64(7), "a/b", "/registry/core/configmaps/")
	f.Fuzz(func(t *testing.T, rev int64, start, prefix string) {
		defer failOnPanic(t)
		// Keys the server never makes: escapes, and names that are not
		// UTF-8 (object names are validated DNS names).
		if rev <= 0 || strings.Contains(start, "..") || strings.HasPrefix(start, "/") || !utf8.ValidString(start) {
			return
		}
		got, err := decodeContinue(encodeContinue(rev, prefix+start, prefix), prefix)
		if err != nil || got.Revision != rev || got.Start != prefix+start {
			t.Fatalf("round trip of (%d, %q): %+v %v", rev, prefix+start, got, err)
		}
	})
}

// decodeTargets are the kinds a body is decoded as in the fuzzer: core,
// a group, and the options kind every group version accepts.
var decodeTargets = []struct {
	gvk schema.GroupVersionKind
	new func() runtime.Object
}{
	{corev1.SchemeGroupVersion.WithKind("ConfigMap"), func() runtime.Object { return &corev1.ConfigMap{} }},
	{corev1.SchemeGroupVersion.WithKind("Pod"), func() runtime.Object { return &corev1.Pod{} }},
	{appsv1.SchemeGroupVersion.WithKind("Deployment"), func() runtime.Object { return &appsv1.Deployment{} }},
	{metav1.SchemeGroupVersion.WithKind("DeleteOptions"), func() runtime.Object { return &metav1.DeleteOptions{} }},
}

func FuzzDecodeBody(f *testing.F) {
	s := fuzzServer(f, fuzzRegistry(f))
	seeds := []struct {
		body, mediaType, validation string
	}{
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}`, mediaJSON, ""},
		{`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"bogus":1,"data":{"k":"v"},"data":{}}`, mediaJSON, validationStrict},
		{`{"apiVersion":"v1","kind":"ConfigMap","bogus":1}`, mediaJSON, validationWarn},
		{`{"apiVersion":"v1","kind":"Secret"}`, mediaJSON, validationIgnore},
		{`{"apiVersion":"apps/v1","kind":"ConfigMap"}`, mediaJSON, ""},
		{`{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0}`, mediaJSON, ""},
		{`{"metadata":{"name":7}}`, mediaJSON, ""},
		{`{bad`, mediaJSON, ""},
		{`[]`, mediaJSON, "Loud"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n", mediaYAML, ""},
		{"a: [b\n  c: :", mediaYAML, ""},
		{"&a [*a, *a]", mediaYAML, ""},
		{"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12\x00", mediaProtobuf, ""},
		{"k8s\x00", mediaProtobuf, ""},
		{"\x00\x01\x02", mediaProtobuf, ""},
		{"{}", "text/plain", ""},
	}
	for _, seed := range seeds {
		for i := range decodeTargets {
			f.Add([]byte(seed.body), seed.mediaType, seed.validation, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, mediaType, validation string, target uint8) {
		defer failOnPanic(t)
		into := decodeTargets[int(target)%len(decodeTargets)]
		c := &call{s: s, w: httptest.NewRecorder(), query: url.Values{"fieldValidation": {validation}}}
		obj, err := c.decodeInto(body, mediaType, into.gvk, into.new())
		if err != nil {
			wantCode(t, "decoding "+into.gvk.Kind, err, http.StatusBadRequest, http.StatusUnsupportedMediaType)
			return
		}
		if want := reflect.TypeOf(into.new()); reflect.TypeOf(obj) != want {
			t.Fatalf("decoding as %s returned a %T", into.gvk.Kind, obj)
		}
	})
}

func FuzzNegotiate(f *testing.F) {
	s := fuzzServer(f, fuzzRegistry(f))
	for _, accept := range []string{
		"",
		"application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
		"application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
		"application/vnd.kubernetes.protobuf,application/json",
		"application/xml",
		"*/*;q=0.1, application/yaml;q=0.9",
		"application/json;as=Table;g=other;v=v1",
		";;;,,,=",
		"application/json;q=abc",
	} {
		f.Add(accept)
	}
	served := map[string]bool{mediaJSON: true, mediaYAML: true, mediaProtobuf: true}
	f.Fuzz(func(t *testing.T, accept string) {
		defer failOnPanic(t)
		r := httptest.NewRequest(http.MethodGet, "/api/v1/pods", nil)
		r.Header.Set("Accept", accept)
		out, err := s.negotiate(r, nil)
		if err != nil {
			wantCode(t, "Accept "+accept, err, http.StatusNotAcceptable)
			return
		}
		if !served[out.mediaType] || out.info.Serializer == nil {
			t.Fatalf("Accept %q negotiated %q", accept, out.mediaType)
		}
		switch out.as {
		case asObject, asTable, asMetadata, asMetadataList:
		default:
			t.Fatalf("Accept %q converts to %q", accept, out.as)
		}
	})
}

func FuzzSelectors(f *testing.F) {
	reg := fuzzRegistry(f)
	pods := fuzzKind(f, reg, corev1.SchemeGroupVersion.WithResource("pods"))
	for _, seed := range [][2]string{
		{"app=web,tier!=db", "spec.nodeName=n1,status.phase!=Running"},
		{"a in (x,y),!b", "metadata.name=p"},
		{"a===b", "spec.foo=x"},
		{"(", "=="},
		{"a notin ()", "metadata.namespace=ns,metadata.namespace=other"},
		{strings.Repeat("a,", 100), `spec.nodeName=\,`},
	} {
		f.Add(seed[0], seed[1])
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "web"}}, Spec: corev1.PodSpec{NodeName: "n1"}}
	f.Fuzz(func(t *testing.T, label, field string) {
		defer failOnPanic(t)
		q := url.Values{"labelSelector": {label}, "fieldSelector": {field}}
		filter, err := filterFrom(pods, q, "ns")
		if err != nil {
			wantCode(t, "selectors", err, http.StatusBadRequest)
			return
		}
		if filter.Field != nil {
			known := knownFields(pods)
			for _, req := range filter.Field.Requirements() {
				if !known[req.Field] {
					t.Fatalf("field selector %q accepted unknown field %q", field, req.Field)
				}
			}
		}
		labels, fields := attrsFor(pods)(pod)
		if filter.Label != nil {
			filter.Label.Matches(labels)
		}
		if filter.Field != nil {
			filter.Field.Matches(fields)
		}
	})
}

// fuzzDeployment is the live object patches and applies are made to.
func fuzzDeployment() *appsv1.Deployment {
	replicas := int32(2)
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}, {Name: "side", Image: "busybox"}}},
			},
		},
	}
}

var patchTypes = []types.PatchType{types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType}

func FuzzApplyPatch(f *testing.F) {
	original, err := runtime.Encode(unstructured.UnstructuredJSONScheme, mustUnstructured(f, fuzzDeployment()))
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		`[{"op":"replace","path":"/spec/replicas","value":3}]`,
		`[{"op":"remove","path":"/spec/template/spec/containers/5"}]`,
		`[{"op":"move","from":"/spec","path":"/spec/template"}]`,
		`[{"op":"copy","from":"/metadata","path":"/metadata/labels/x"}]`,
		`[{"op":"test","path":"/spec/replicas","value":"2"}]`,
		// Operations without a value panic in json-patch v4 (kube-apiserver
		// recovers and aborts the stream); berth must answer 400.
		`[{"op":"test","path":""}]`,
		`[{"op":"replace","path":""}]`,
		`[{"op":"test","path":"/spec/replicas"}]`,
		`{"spec":{"replicas":null}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}}`,
		`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"side"},{"name":"app"}]}}}}`,
		`{"spec":{"template":{"spec":{"containers":{"name":"x"}}}}}`,
		`{"spec":{"$retainKeys":["replicas"],"replicas":1}}`,
		`{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}`,
		`{"$patch":"replace"}`,
		`null`,
		`[`,
	} {
		for i := range patchTypes {
			f.Add([]byte(seed), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, patch []byte, kind uint8) {
		defer failOnPanic(t)
		patchType := patchTypes[int(kind)%len(patchTypes)]
		if _, err := applyPatch(patchType, original, patch, &appsv1.Deployment{}); err != nil {
			wantCode(t, string(patchType), err, http.StatusBadRequest)
		}
	})
}

func mustUnstructured(f *testing.F, obj runtime.Object) *unstructured.Unstructured {
	f.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		f.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func FuzzServerSideApply(f *testing.F) {
	reg := fuzzRegistry(f)
	s := fuzzServer(f, reg)
	kind := fuzzKind(f, reg, appsv1.SchemeGroupVersion.WithResource("deployments"))
	fm, err := s.managers.For(kind, "")
	if err != nil {
		f.Fatal(err)
	}
	live := fm.UpdateNoErrors(&appsv1.Deployment{}, fuzzDeployment(), "creator")
	for _, seed := range []string{
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 5}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: app, image: nginx:2}, {name: app, image: dup}]\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: many}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, managedFields: [{manager: x}]}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: {name: x}}}}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nstatus: {replicas: 9}\nunknownTop: 1\n",
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	f.Fuzz(func(t *testing.T, config []byte, force bool) {
		defer failOnPanic(t)
		jsonData, err := yaml.YAMLToJSON(config)
		if err != nil {
			return
		}
		applied := &unstructured.Unstructured{}
		if err := applied.UnmarshalJSON(jsonData); err != nil || applied.GroupVersionKind() != kind.GVK {
			return
		}
		obj, err := fm.Apply(live.DeepCopyObject(), applied, "fuzzer", force)
		if err != nil {
			// Type errors are plain errors, answered 500 as kube-apiserver does.
			return
		}
		if _, ok := obj.(*appsv1.Deployment); !ok {
			t.Fatalf("apply returned a %T", obj)
		}
	})
}
