package openapi

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/handler3"
	protomodels "k8s.io/kube-openapi/pkg/util/proto"
	protovalidation "k8s.io/kube-openapi/pkg/util/proto/validation"
	"sigs.k8s.io/yaml"
)

// schemeKinds are all kinds client-go knows that have a list kind: every
// built-in resource of every group-version, all verbs, with status.
func schemeKinds(t testing.TB) []Kind {
	t.Helper()
	known := scheme.Scheme.AllKnownTypes()
	var kinds []Kind
	for gvk := range known {
		if gvk.Version == "__internal" || strings.HasSuffix(gvk.Kind, "List") {
			continue
		}
		listGVK := gvk.GroupVersion().WithKind(gvk.Kind + "List")
		if _, ok := known[listGVK]; !ok {
			continue
		}
		obj, err := scheme.Scheme.New(gvk)
		if err != nil {
			t.Fatal(err)
		}
		list, err := scheme.Scheme.New(listGVK)
		if err != nil {
			t.Fatal(err)
		}
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		kinds = append(kinds, Kind{GVK: gvk, Resource: plural.Resource, Namespaced: true, Object: obj, List: list, Verbs: allVerbs, Subresources: []string{"status"}})
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].GVK.String() < kinds[j].GVK.String() })
	return kinds
}

// get fetches path from h with the Accept header accept.
func get(t *testing.T, h http.Handler, path, accept string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// getJSON fetches path as JSON and decodes it into a generic value.
func getJSON(t *testing.T, h http.Handler, path string) map[string]any {
	t.Helper()
	resp := get(t, h, path, "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return doc
}

// v3Index is the /openapi/v3 index of h.
func v3Index(t *testing.T, h http.Handler) handler3.OpenAPIV3Discovery {
	t.Helper()
	var index handler3.OpenAPIV3Discovery
	resp := get(t, h, "/openapi/v3", "")
	if err := json.NewDecoder(resp.Body).Decode(&index); err != nil {
		t.Fatalf("decoding the v3 index: %v", err)
	}
	return index
}

// danglingRefs are the $ref values in doc that name nothing: targets maps
// each reference prefix to the section it refers into.
func danglingRefs(doc any, targets map[string]map[string]any) []string {
	var dangling []string
	resolves := func(ref string) bool {
		for prefix, section := range targets {
			if name, ok := strings.CutPrefix(ref, prefix); ok {
				_, defined := section[name]
				return defined
			}
		}
		return false
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && !resolves(ref) {
				dangling = append(dangling, ref)
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	return dangling
}

// hasGVK reports whether definition def lists gvk in its
// x-kubernetes-group-version-kind.
func hasGVK(def map[string]any, gvk schema.GroupVersionKind) bool {
	list, _ := def["x-kubernetes-group-version-kind"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		if m["group"] == gvk.Group && m["version"] == gvk.Version && m["kind"] == gvk.Kind {
			return true
		}
	}
	return false
}

// TestEveryBuiltinKind builds the documents of every kind client-go knows
// and checks that each kind has its definition, marked with its
// group-version-kind, in the v2 document and its group-version's v3
// document, and that no reference in any document dangles.
func TestEveryBuiltinKind(t *testing.T) {
	kinds := schemeKinds(t)
	if len(kinds) < 100 {
		t.Fatalf("only %d kinds in client-go's scheme", len(kinds))
	}
	d, err := New(kinds)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := d.Handler()

	v2 := getJSON(t, h, "/openapi/v2")
	v2Defs := v2["definitions"].(map[string]any)
	v2Params := v2["parameters"].(map[string]any)
	targets := map[string]map[string]any{"#/definitions/": v2Defs, "#/parameters/": v2Params}
	if dangling := danglingRefs(v2, targets); len(dangling) > 0 {
		t.Errorf("v2 document: dangling references %v", dangling)
	}

	index := v3Index(t, h)
	v3Docs := map[string]map[string]any{}
	for gv, entry := range index.Paths {
		doc := getJSON(t, h, entry.ServerRelativeURL)
		schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
		if dangling := danglingRefs(doc, map[string]map[string]any{"#/components/schemas/": schemas}); len(dangling) > 0 {
			t.Errorf("v3 document %s: dangling references %v", gv, dangling)
		}
		v3Docs[gv] = schemas
	}

	for _, k := range kinds {
		name := definitionName(mustStruct(t, k.Object))
		if def, ok := v2Defs[name].(map[string]any); !ok || !hasGVK(def, k.GVK) {
			t.Errorf("v2 document: no definition %s marked as %v", name, k.GVK)
		}
		schemas, ok := v3Docs[groupVersionPath(k.GVK.GroupVersion())]
		if !ok {
			t.Errorf("v3 index lacks %s", groupVersionPath(k.GVK.GroupVersion()))
			continue
		}
		if def, ok := schemas[name].(map[string]any); !ok || !hasGVK(def, k.GVK) {
			t.Errorf("v3 document %s: no definition %s marked as %v", groupVersionPath(k.GVK.GroupVersion()), name, k.GVK)
		}
	}
}

func mustStruct(t *testing.T, obj any) reflect.Type {
	t.Helper()
	typ, err := structOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	return typ
}

// TestSchemas checks properties of definitions that kubectl and other
// clients rely on, in both dialects.
func TestSchemas(t *testing.T) {
	d, err := New(berthKinds())
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler()
	v2 := getJSON(t, h, "/openapi/v2")["definitions"].(map[string]any)
	core := getJSON(t, h, v3Index(t, h).Paths["api/v1"].ServerRelativeURL)["components"].(map[string]any)["schemas"].(map[string]any)

	tests := []struct {
		name string
		doc  map[string]any
		path string // definition name, then keys, slash-separated
		want string // JSON the value at path must equal
	}{
		{"quantity is a string", v2, "io.k8s.apimachinery.pkg.api.resource.Quantity/type", `"string"`},
		{"quantity in v3 is a string or number", core, "io.k8s.apimachinery.pkg.api.resource.Quantity/oneOf", `[{"type":"string"},{"type":"number"}]`},
		{"int-or-string", v2, "io.k8s.apimachinery.pkg.util.intstr.IntOrString/format", `"int-or-string"`},
		{"int-or-string type", v2, "io.k8s.apimachinery.pkg.util.intstr.IntOrString/type", `"string"`},
		{"int-or-string in v3", core, "io.k8s.apimachinery.pkg.util.intstr.IntOrString/oneOf", `[{"type":"integer"},{"type":"string"}]`},
		{"time", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.Time/format", `"date-time"`},
		{"micro time", core, "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime/format", `"date-time"`},
		{"raw extension", core, "io.k8s.apimachinery.pkg.runtime.RawExtension/type", `"object"`},
		{"fields v1", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1/type", `"object"`},
		{"pod gvk", v2, "io.k8s.api.core.v1.Pod/x-kubernetes-group-version-kind", `[{"group":"","kind":"Pod","version":"v1"}]`},
		{"type meta is inlined", v2, "io.k8s.api.core.v1.Pod/properties/apiVersion/type", `"string"`},
		{"volume source is inlined", v2, "io.k8s.api.core.v1.Volume/properties/configMap/$ref", `"#/definitions/io.k8s.api.core.v1.ConfigMapVolumeSource"`},
		{"v2 reference keeps its description beside it", v2, "io.k8s.api.core.v1.Pod/properties/spec/$ref", `"#/definitions/io.k8s.api.core.v1.PodSpec"`},
		{"v3 reference with a description is wrapped", core, "io.k8s.api.core.v1.Pod/properties/spec/allOf", `[{"$ref":"#/components/schemas/io.k8s.api.core.v1.PodSpec"}]`},
		{"v3 struct default", core, "io.k8s.api.core.v1.Pod/properties/metadata/default", `{}`},
		{"containers merge by name", v2, "io.k8s.api.core.v1.PodSpec/properties/containers/x-kubernetes-patch-merge-key", `"name"`},
		{"containers patch strategy", core, "io.k8s.api.core.v1.PodSpec/properties/containers/x-kubernetes-patch-strategy", `"merge"`},
		{"volumes keep retainKeys", v2, "io.k8s.api.core.v1.PodSpec/properties/volumes/x-kubernetes-patch-strategy", `"merge,retainKeys"`},
		{"containers are a list map", core, "io.k8s.api.core.v1.PodSpec/properties/containers/x-kubernetes-list-map-keys", `["name"]`},
		{"ports list map keys", v2, "io.k8s.api.core.v1.Container/properties/ports/x-kubernetes-list-map-keys", `["containerPort","protocol"]`},
		{"finalizers are a set", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta/properties/finalizers/x-kubernetes-list-type", `"set"`},
		{"args are atomic", core, "io.k8s.api.core.v1.Container/properties/args/x-kubernetes-list-type", `"atomic"`},
		{"label selector is atomic", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector/x-kubernetes-map-type", `"atomic"`},
		{"labels are a string map", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta/properties/labels/additionalProperties/type", `"string"`},
		{"container name is required", v2, "io.k8s.api.core.v1.Container/required", `["name"]`},
		{"pod spec requires containers", core, "io.k8s.api.core.v1.PodSpec/required", `["containers"]`},
		{"bytes are base64 strings", v2, "io.k8s.api.core.v1.Secret/properties/data/additionalProperties/format", `"byte"`},
		{"int64", v2, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta/properties/generation/format", `"int64"`},
		{"description from SwaggerDoc", v2, "io.k8s.api.core.v1.Container/properties/image/description", `"Container image name. More info: https://kubernetes.io/docs/concepts/containers/images This field is optional to allow higher level config management to default or override container images in workload controllers like Deployments and StatefulSets."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := lookup(tt.doc, strings.Split(tt.path, "/"))
			if !ok {
				t.Fatalf("%s: not found", tt.path)
			}
			if js := mustJSON(t, got); js != tt.want {
				t.Errorf("%s = %s, want %s", tt.path, js, tt.want)
			}
		})
	}
	if _, ok := lookup(v2, strings.Split("io.k8s.api.core.v1.Pod/properties/metadata/default", "/")); ok {
		t.Errorf("v2 document has defaults; upstream prunes them")
	}
}

// lookup follows path through nested maps.
func lookup(v any, path []string) (any, bool) {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPaths checks the operations kubectl looks up: the group-version-kind
// on the URLs of a resource, strategic merge patch and the fieldValidation
// parameter on patch, and the kinds of subresources.
func TestPaths(t *testing.T) {
	d, err := New(berthKinds())
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler()
	index := v3Index(t, h)
	apps := getJSON(t, h, index.Paths["apis/apps/v1"].ServerRelativeURL)["paths"].(map[string]any)
	core := getJSON(t, h, index.Paths["api/v1"].ServerRelativeURL)["paths"].(map[string]any)
	v2 := getJSON(t, h, "/openapi/v2")["paths"].(map[string]any)

	tests := []struct {
		doc  map[string]any
		path []string
		want string
	}{
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments", "get", "operationId"}, `"listAppsV1NamespacedDeployment"`},
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments", "get", "x-kubernetes-action"}, `"list"`},
		{apps, []string{"/apis/apps/v1/deployments", "get", "operationId"}, `"listAppsV1DeploymentForAllNamespaces"`},
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments", "post", "operationId"}, `"createAppsV1NamespacedDeployment"`},
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments", "delete", "operationId"}, `"deleteAppsV1CollectionNamespacedDeployment"`},
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "get", "operationId"}, `"readAppsV1NamespacedDeployment"`},
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "put", "operationId"}, `"replaceAppsV1NamespacedDeployment"`},
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch", "x-kubernetes-group-version-kind"}, `{"group":"apps","kind":"Deployment","version":"v1"}`},
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch", "requestBody", "content", "application/strategic-merge-patch+json", "schema", "$ref"}, `"#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"`},
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "get", "x-kubernetes-group-version-kind"}, `{"group":"autoscaling","kind":"Scale","version":"v1"}`},
		{apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", "patch", "operationId"}, `"patchAppsV1NamespacedDeploymentStatus"`},
		{apps, []string{"/apis/apps/v1/watch/namespaces/{namespace}/deployments", "get", "x-kubernetes-action"}, `"watchlist"`},
		{apps, []string{"/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}", "get", "operationId"}, `"watchAppsV1NamespacedDeployment"`},
		{core, []string{"/api/v1/nodes/{name}", "get", "operationId"}, `"readCoreV1Node"`},
		{core, []string{"/api/v1/namespaces/{name}/finalize", "put", "operationId"}, `"replaceCoreV1NamespaceFinalize"`},
		{core, []string{"/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post", "x-kubernetes-group-version-kind"}, `{"group":"policy","kind":"Eviction","version":"v1"}`},
		{core, []string{"/api/v1/namespaces/{namespace}/pods/{name}/exec", "post", "operationId"}, `"connectCoreV1PostNamespacedPodExec"`},
		{core, []string{"/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "responses", "200", "content", "text/plain", "schema", "type"}, `"string"`},
		{core, []string{"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", "post", "requestBody", "content", "*/*", "schema", "$ref"}, `"#/components/schemas/io.k8s.api.authentication.v1.TokenRequest"`},
		{core, []string{"/api/v1/", "get", "operationId"}, `"getCoreV1APIResources"`},
		{v2, []string{"/api/v1/namespaces/{namespace}/pods/{name}", "patch", "consumes"}, `["application/json-patch+json","application/merge-patch+json","application/strategic-merge-patch+json","application/apply-patch+yaml"]`},
		{v2, []string{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "get", "x-kubernetes-group-version-kind"}, `{"group":"apps","kind":"Deployment","version":"v1"}`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.path, " "), func(t *testing.T) {
			got, ok := lookup(tt.doc, tt.path)
			if !ok {
				t.Fatalf("not found")
			}
			if js := mustJSON(t, got); js != tt.want {
				t.Errorf("= %s, want %s", js, tt.want)
			}
		})
	}

	patch, _ := lookup(apps, []string{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch", "parameters"})
	if !strings.Contains(mustJSON(t, patch), `"name":"fieldValidation"`) {
		t.Errorf("patch of deployments lacks the fieldValidation parameter: %s", mustJSON(t, patch))
	}
	if _, ok := core["/api/v1/bindings"]; ok {
		t.Errorf("namespaced bindings are served cluster-wide")
	}
	if _, ok := lookup(core, []string{"/api/v1/namespaces/{namespace}/bindings", "get"}); ok {
		t.Errorf("bindings, which can only be created, can be listed")
	}
}

// TestV2Protobuf checks the protobuf form kubectl asks for: it decodes with
// gnostic, kubectl's model parser reads it, and its models validate objects
// as kubectl's client-side validation does.
func TestV2Protobuf(t *testing.T) {
	d, err := New(berthKinds())
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, d.Handler(), "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
	if got := resp.Header.Get("Content-Type"); got != "application/com.github.proto-openapi.spec.v2.v1.0+protobuf" {
		t.Errorf("Content-Type = %q", got)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc openapi_v2.Document
	if err := proto.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decoding the protobuf document: %v", err)
	}
	models, err := protomodels.NewOpenAPIData(&doc)
	if err != nil {
		t.Fatalf("kubectl's parser rejects the document: %v", err)
	}
	deployment := models.LookupModel("io.k8s.api.apps.v1.Deployment")
	if deployment == nil {
		t.Fatal("no Deployment model")
	}

	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"valid", deploymentYAML, ""},
		{"unknown field", strings.Replace(deploymentYAML, "replicas: 2", "replicas: 2\n  replica: 3", 1), `unknown field "replica"`},
		{"wrong type", strings.Replace(deploymentYAML, "replicas: 2", "replicas: two", 1), "replicas"},
		{"missing required", strings.Replace(deploymentYAML, "- name: web\n        image", "- image", 1), `missing required field "name"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(tt.yaml), &obj); err != nil {
				t.Fatal(err)
			}
			errs := protovalidation.ValidateModel(obj, deployment, "Deployment")
			switch {
			case tt.wantErr == "" && len(errs) > 0:
				t.Errorf("errors for a valid Deployment: %v", errs)
			case tt.wantErr != "" && !strings.Contains(strings.Join(errorStrings(errs), "\n"), tt.wantErr):
				t.Errorf("errors %v, want one containing %q", errs, tt.wantErr)
			}
		})
	}
}

func errorStrings(errs []error) []string {
	out := make([]string, len(errs))
	for i, err := range errs {
		out[i] = err.Error()
	}
	return out
}

// TestServing checks content negotiation and caching headers.
func TestServing(t *testing.T) {
	d, err := New(berthKinds())
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler()

	v2 := get(t, h, "/openapi/v2", "")
	etag := v2.Header.Get("Etag")
	if v2.StatusCode != http.StatusOK || v2.Header.Get("Content-Type") != "application/json" || etag == "" {
		t.Fatalf("GET /openapi/v2: %s, Content-Type %q, ETag %q", v2.Status, v2.Header.Get("Content-Type"), etag)
	}
	index := v3Index(t, h)
	appsURL := index.Paths["apis/apps/v1"].ServerRelativeURL
	if !strings.HasPrefix(appsURL, "/openapi/v3/apis/apps/v1?hash=") {
		t.Fatalf("apps/v1 is linked as %q", appsURL)
	}
	appsPath, hash, _ := strings.Cut(appsURL, "?hash=")

	tests := []struct {
		name       string
		method     string
		path       string
		header     []string
		wantStatus int
		wantHeader map[string]string
	}{
		{"v2 unchanged", http.MethodGet, "/openapi/v2", []string{"If-None-Match", etag}, http.StatusNotModified, nil},
		{"v2 protobuf", http.MethodGet, "/openapi/v2", []string{"Accept", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"}, http.StatusOK,
			map[string]string{"Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", "Etag": etag, "Vary": "Accept"}},
		{"v2 by preference", http.MethodGet, "/openapi/v2", []string{"Accept", "application/xml;q=1, application/json;q=0.5"}, http.StatusOK,
			map[string]string{"Content-Type": "application/json"}},
		{"v2 unacceptable", http.MethodGet, "/openapi/v2", []string{"Accept", "application/xml"}, http.StatusNotAcceptable, nil},
		{"v2 head", http.MethodHead, "/openapi/v2", nil, http.StatusOK, map[string]string{"Etag": etag}},
		{"v2 post", http.MethodPost, "/openapi/v2", nil, http.StatusMethodNotAllowed, nil},
		{"v3 current hash is immutable", http.MethodGet, appsURL, nil, http.StatusOK,
			map[string]string{"Content-Type": "application/json", "Cache-Control": "public, immutable", "Etag": `"` + hash + `"`}},
		{"v3 protobuf", http.MethodGet, appsURL, []string{"Accept", "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"}, http.StatusOK,
			map[string]string{"Content-Type": "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"}},
		{"v3 stale hash redirects", http.MethodGet, appsPath + "?hash=0123", nil, http.StatusMovedPermanently, map[string]string{"Location": appsURL}},
		{"v3 without hash", http.MethodGet, appsPath, nil, http.StatusOK, map[string]string{"Cache-Control": ""}},
		{"v3 unknown group-version", http.MethodGet, "/openapi/v3/apis/example.com/v1", nil, http.StatusNotFound, nil},
		{"unknown document", http.MethodGet, "/openapi/v4", nil, http.StatusNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("%s %s: status %d, want %d", tt.method, tt.path, rec.Code, tt.wantStatus)
			}
			for k, want := range tt.wantHeader {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestNewRejects checks that malformed kinds are refused with a message
// naming the kind and what is wrong.
func TestNewRejects(t *testing.T) {
	deployment := func(edit func(*Kind)) []Kind {
		k := Kind{GVK: appsv1.SchemeGroupVersion.WithKind("Deployment"), Resource: "deployments", Namespaced: true,
			Object: &appsv1.Deployment{}, List: &appsv1.DeploymentList{}, Verbs: allVerbs}
		edit(&k)
		return []Kind{k}
	}
	tests := []struct {
		name  string
		kinds []Kind
		want  string
	}{
		{"unknown verb", deployment(func(k *Kind) { k.Verbs = []string{"get", "frobnicate"} }), `apps/v1, Kind=Deployment: unknown verb "frobnicate"`},
		{"unknown subresource", deployment(func(k *Kind) { k.Subresources = []string{"rollback"} }), `unknown subresource "rollback"`},
		{"no object", deployment(func(k *Kind) { k.Object = nil }), "Object: want a pointer to a struct"},
		{"list verb without list", deployment(func(k *Kind) { k.List = nil }), "List: want a pointer to a struct"},
		{"no resource", deployment(func(k *Kind) { k.Resource = "" }), "needs a kind, a version and a plural resource name"},
		{"resource with slash", deployment(func(k *Kind) { k.Resource = "deployments/scale" }), "without slashes"},
		{"twice", append(deployment(func(*Kind) {}), deployment(func(*Kind) {})...), `resource "deployments" is registered twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.kinds)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// A kind that can only be created needs no list type.
	binding := Kind{GVK: corev1.SchemeGroupVersion.WithKind("Binding"), Resource: "bindings", Namespaced: true, Object: &corev1.Binding{}, Verbs: []string{"create"}}
	if _, err := New([]Kind{binding}); err != nil {
		t.Errorf("New(create-only kind): %v", err)
	}
}

// TestConcurrentFirstRequests checks that requests racing to encode the
// documents first all get the same answer.
func TestConcurrentFirstRequests(t *testing.T) {
	d, err := New(berthKinds())
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler()
	paths := []string{"/openapi/v3", "/openapi/v2", "/openapi/v3/apis/apps/v1"}
	const clients = 4
	bodies := make([][]string, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, p := range paths {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
				bodies[c] = append(bodies[c], fmt.Sprintf("%d %x", rec.Code, sha256.Sum256(rec.Body.Bytes())))
			}
		}()
	}
	wg.Wait()
	for c := 1; c < clients; c++ {
		if !slices.Equal(bodies[c], bodies[0]) {
			t.Errorf("client %d got %v, client 0 got %v", c, bodies[c], bodies[0])
		}
	}
	if !strings.HasPrefix(bodies[0][0], "200 ") {
		t.Errorf("answers: %v", bodies[0])
	}
}
