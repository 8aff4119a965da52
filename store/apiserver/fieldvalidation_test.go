package apiserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/berth-io/berth/store/servertest"
)

// answer is what the server said to one raw request.
type answer struct {
	code     int
	warnings []string
	body     map[string]any
}

// raw sends a request past client-go's encoders, as kubectl --raw would.
func raw(t *testing.T, s *servertest.Server, method, path, contentType, body string) answer {
	t.Helper()
	client, err := rest.HTTPClientFor(s.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.AdminConfig.Host+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{code: resp.StatusCode, warnings: resp.Header.Values("Warning")}
	if err := json.Unmarshal(data, &a.body); err != nil {
		t.Fatalf("%s %s answered %d with a body that is not JSON: %q", method, path, resp.StatusCode, data)
	}
	return a
}

// message is the Status message of a, failing unless a is a Status with
// the HTTP code and reason given.
func (a answer) status(t *testing.T, code int, reason metav1.StatusReason) string {
	t.Helper()
	if a.code != code || a.body["kind"] != "Status" || a.body["reason"] != string(reason) {
		t.Fatalf("answered %d %v, want a %d %s Status", a.code, a.body, code, reason)
	}
	msg, _ := a.body["message"].(string)
	return msg
}

const apply = "application/apply-patch+yaml"

// deployment is an applied Deployment named name whose container has the
// extra YAML flow members given, and whose spec the extra block lines.
func deployment(name, container, spec string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx` + container + `}]}
` + spec
}

// TestServerSideApplyOfAnInvalidConfigurationIsABadRequest: an applied
// configuration the kind's schema or types refuse is the client's error:
// 400 with the field named (kube-apiserver's message; kube answers 500,
// kubernetes/kubernetes#139253), whatever fieldValidation says, and
// nothing is stored.
func TestServerSideApplyOfAnInvalidConfigurationIsABadRequest(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("apps")
	deploys, cms, gits := "/apis/apps/v1/namespaces/apps/deployments/", "/api/v1/namespaces/apps/configmaps/", "/apis/berth.io/v1alpha1/namespaces/apps/gitsources/"
	for _, tc := range []struct {
		name, path, body string
		says             string
	}{
		{name: "wrong type", path: deploys + "replicas", body: deployment("replicas", "", "  replicas: three\n"),
			says: ".spec.replicas: expected numeric (int or float), got string"},
		{name: "unknown field in a list element", path: deploys + "bogus", body: deployment("bogus", ", bogus: x", ""),
			says: `.spec.template.spec.containers[name="c"].bogus: field not declared in schema`},
		{name: "bad quantity", path: deploys + "cpu", body: deployment("cpu", `, resources: {limits: {cpu: "lots"}}`, ""),
			says: "spec.template.spec.containers[0].resources.limits[cpu]: quantities must match the regular expression"},
		{name: "list elements with one key", path: deploys + "twice", body: deployment("twice", "}, {name: c, image: nginx", ""),
			says: `.spec.template.spec.containers: duplicate entries for key [name="c"]`},
		{name: "ConfigMap unknown field", path: cms + "typo", body: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndataa: {a: b}\n",
			says: ".dataa: field not declared in schema"},
		{name: "ConfigMap wrong type", path: cms + "number", body: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: number}\ndata: [a]\n",
			says: ".data: expected map"},
		{name: "GitSource wrong type", path: gits + "url", body: "apiVersion: berth.io/v1alpha1\nkind: GitSource\nmetadata: {name: url}\nspec: {url: 5}\n",
			says: "spec.url"},
		{name: "GitSource bad duration", path: gits + "interval", body: "apiVersion: berth.io/v1alpha1\nkind: GitSource\nmetadata: {name: interval}\nspec: {url: /srv/site, interval: soon}\n",
			says: `spec.interval: time: invalid duration "soon"`},
	} {
		for _, directive := range []string{"", "Strict", "Warn", "Ignore"} {
			t.Run(tc.name+"/"+directive, func(t *testing.T) {
				msg := raw(t, s, "PATCH", tc.path+"?fieldManager=test&fieldValidation="+directive, apply, tc.body).status(t, http.StatusBadRequest, metav1.StatusReasonBadRequest)
				if !strings.Contains(msg, tc.says) || !strings.HasPrefix(msg, "failed to create typed patch object (apps/") {
					t.Errorf("message %q does not say %q", msg, tc.says)
				}
				raw(t, s, "GET", tc.path, "", "").status(t, http.StatusNotFound, metav1.StatusReasonNotFound)
			})
		}
	}
}

// TestServerSideApplyDuplicateKeys: a key given twice in the applied YAML
// is what fieldValidation governs for apply, as in kube-apiserver: Strict
// refuses it, Warn (the default) warns, Ignore keeps the last one.
func TestServerSideApplyDuplicateKeys(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("apps")
	body := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dup}\ndata: {a: b}\ndata: {c: d}\n"
	path := "/api/v1/namespaces/apps/configmaps/dup?fieldManager=test&fieldValidation="
	msg := raw(t, s, "PATCH", path+"Strict", apply, body).status(t, http.StatusBadRequest, metav1.StatusReasonBadRequest)
	if !strings.Contains(msg, `line 5: key "data" already set in map`) {
		t.Errorf("Strict: message %q does not name the duplicate", msg)
	}
	for directive, warns := range map[string]bool{"": true, "Warn": true, "Ignore": false} {
		a := raw(t, s, "PATCH", path+directive, apply, body)
		if a.code != http.StatusOK && a.code != http.StatusCreated {
			t.Fatalf("%q: answered %d %v", directive, a.code, a.body)
		}
		if got := strings.Join(a.warnings, "\n"); warns != strings.Contains(got, `line 5: key \"data\" already set in map`) {
			t.Errorf("%q: warnings %q", directive, got)
		}
		if data, _ := a.body["data"].(map[string]any); len(data) != 1 || data["c"] != "d" {
			t.Errorf("%q: data %v, want the last one given", directive, a.body["data"])
		}
	}
}

// TestGitSourceFieldValidation: berth's own kinds (JSON, no schema)
// handle fields they do not declare as the built-in ones do. Created,
// updated or patched: Strict refuses them with the field named, Warn (the
// default) warns, Ignore is silent, and they are never stored. Applied:
// refused with the field named whatever fieldValidation says, and neither
// the object nor its managedFields keep them.
func TestGitSourceFieldValidation(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("apps")
	const gits = "/apis/berth.io/v1alpha1/namespaces/apps/gitsources"
	const unknown = `unknown field "spec.intervall"`
	object := func(name string) string {
		return `{"apiVersion":"berth.io/v1alpha1","kind":"GitSource","metadata":{"name":"` + name + `"},"spec":{"url":"/srv/site","intervall":"5m"}}`
	}
	stored := func(t *testing.T, name string) map[string]any {
		t.Helper()
		a := raw(t, s, "GET", gits+"/"+name, "", "")
		if a.code != http.StatusOK {
			t.Fatalf("GET %s: %d %v", name, a.code, a.body)
		}
		spec, _ := a.body["spec"].(map[string]any)
		if _, ok := spec["intervall"]; ok {
			t.Errorf("%s: the unknown field was stored: %v", name, spec)
		}
		if spec["url"] != "/srv/site" {
			t.Errorf("%s: spec %v lost the known fields", name, spec)
		}
		return a.body
	}
	writes := []struct {
		verb  string
		write func(t *testing.T, name, directive string) answer
	}{
		{"create", func(t *testing.T, name, directive string) answer {
			return raw(t, s, "POST", gits+"?fieldValidation="+directive, "application/json", object(name))
		}},
		{"update", func(t *testing.T, name, directive string) answer {
			if a := raw(t, s, "POST", gits, "application/json", `{"apiVersion":"berth.io/v1alpha1","kind":"GitSource","metadata":{"name":"`+name+`"},"spec":{"url":"/srv/site"}}`); a.code != http.StatusCreated {
				t.Fatalf("create: %d %v", a.code, a.body)
			}
			return raw(t, s, "PUT", gits+"/"+name+"?fieldValidation="+directive, "application/json", object(name))
		}},
		{"merge-patch", func(t *testing.T, name, directive string) answer {
			if a := raw(t, s, "POST", gits, "application/json", `{"apiVersion":"berth.io/v1alpha1","kind":"GitSource","metadata":{"name":"`+name+`"},"spec":{"url":"/srv/site"}}`); a.code != http.StatusCreated {
				t.Fatalf("create: %d %v", a.code, a.body)
			}
			return raw(t, s, "PATCH", gits+"/"+name+"?fieldValidation="+directive, "application/merge-patch+json", `{"spec":{"intervall":"5m"}}`)
		}},
	}
	for _, w := range writes {
		for i, directive := range []string{"", "Strict", "Warn", "Ignore"} {
			t.Run(w.verb+"/"+directive, func(t *testing.T) {
				name := w.verb + "-" + strings.ToLower(directive) + string(rune('a'+i))
				a := w.write(t, name, directive)
				if directive == "Strict" {
					if msg := a.status(t, http.StatusBadRequest, metav1.StatusReasonBadRequest); !strings.Contains(msg, unknown) {
						t.Errorf("message %q does not name the field", msg)
					}
					return
				}
				if a.code != http.StatusOK && a.code != http.StatusCreated {
					t.Fatalf("answered %d %v", a.code, a.body)
				}
				warned := strings.Contains(strings.Join(a.warnings, "\n"), `unknown field \"spec.intervall\"`)
				if warned != (directive != "Ignore") {
					t.Errorf("warnings %q", a.warnings)
				}
				stored(t, name)
			})
		}
	}

	// Applied, on a new object and on an existing one.
	if a := raw(t, s, "PATCH", gits+"/site?fieldManager=kubectl", apply, "apiVersion: berth.io/v1alpha1\nkind: GitSource\nmetadata: {name: site}\nspec: {url: /srv/site}\n"); a.code != http.StatusCreated {
		t.Fatalf("apply: %d %v", a.code, a.body)
	}
	for _, directive := range []string{"", "Strict", "Warn", "Ignore"} {
		for _, name := range []string{"site", "new"} {
			body := "apiVersion: berth.io/v1alpha1\nkind: GitSource\nmetadata: {name: " + name + "}\nspec: {url: /srv/site, intervall: 5m}\n"
			a := raw(t, s, "PATCH", gits+"/"+name+"?fieldManager=kubectl&fieldValidation="+directive, apply, body)
			if msg := a.status(t, http.StatusBadRequest, metav1.StatusReasonBadRequest); !strings.Contains(msg, unknown) {
				t.Errorf("apply %s %q: message %q does not name the field", name, directive, msg)
			}
		}
	}
	raw(t, s, "GET", gits+"/new", "", "").status(t, http.StatusNotFound, metav1.StatusReasonNotFound)
	managed, _ := json.Marshal(stored(t, "site")["metadata"].(map[string]any)["managedFields"])
	if strings.Contains(string(managed), "intervall") || !strings.Contains(string(managed), `"f:url"`) {
		t.Errorf("managedFields %s", managed)
	}
}

// TestCreateNamesTheRefusedValue: a value whose type parses it (a
// quantity) is named by its path when refused, which its own error does
// not say.
func TestCreateNamesTheRefusedValue(t *testing.T) {
	s := servertest.Start(t)
	s.Namespace("apps")
	body := deployment("cpu", `, resources: {limits: {cpu: "lots"}}`, "")
	msg := raw(t, s, "POST", "/apis/apps/v1/namespaces/apps/deployments", "application/yaml", body).status(t, http.StatusBadRequest, metav1.StatusReasonBadRequest)
	if want := "spec.template.spec.containers[0].resources.limits[cpu]: quantities must match"; !strings.Contains(msg, want) {
		t.Errorf("message %q does not say %q", msg, want)
	}
}
