package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// rawRequest is one HTTP request sent past client-go's encoders.
type rawRequest struct {
	method, path string
	contentType  string
	accept       string
	body         []byte
	// streamed sends the body without a Content-Length.
	streamed bool
}

// rawResponse is what the server answered.
type rawResponse struct {
	code   int
	header http.Header
	body   []byte
}

// status decodes the body as the metav1.Status every error must be.
func (r rawResponse) status(t *testing.T) metav1.Status {
	t.Helper()
	var s metav1.Status
	if err := json.Unmarshal(r.body, &s); err != nil || s.Kind != "Status" || s.APIVersion != "v1" {
		t.Fatalf("want a v1 Status body, got %q (%v)", r.body, err)
	}
	if int(s.Code) != r.code {
		t.Fatalf("Status code %d differs from the HTTP code %d: %s", s.Code, r.code, r.body)
	}
	return s
}

// send makes req with the admin's credentials.
func (ts *testServer) send(t *testing.T, req rawRequest) rawResponse {
	t.Helper()
	client, err := rest.HTTPClientFor(ts.config)
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
		if req.streamed {
			body = io.MultiReader(body)
		}
	}
	r, err := http.NewRequestWithContext(ctxT(t), req.method, ts.URL+req.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if req.contentType != "" {
		r.Header.Set("Content-Type", req.contentType)
	}
	if req.accept != "" {
		r.Header.Set("Accept", req.accept)
	}
	resp, err := client.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.method, req.path, err)
	}
	return rawResponse{code: resp.StatusCode, header: resp.Header, body: data}
}

// configMapJSON is a ConfigMap body with extra top-level JSON members.
func configMapJSON(name, extra string) []byte {
	return []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"}` + extra + `}`)
}

func TestRejectedRequestsAnswerKubeStatusesAndStoreNothing(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ts.makeNamespace(t, "bad")
	if _, err := ts.client.CoreV1().Namespaces().Create(ctxT(t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "no-sa"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const cms = "/api/v1/namespaces/bad/configmaps"
	big := configMapJSON("big", `,"data":{"x":"`+strings.Repeat("a", 3<<20)+`"}`)
	mismatched := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"mismatch"},"spec":{"selector":{"matchLabels":{"app":"a"}},` +
		`"template":{"metadata":{"labels":{"app":"b"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"orphan"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`

	cases := []struct {
		name  string
		req   rawRequest
		code  int
		why   metav1.StatusReason
		says  string // a substring of the message
		field string // a cause's field, when the error names one
		// absent must answer 404 afterwards: nothing was stored.
		absent string
		// present names a ConfigMap made before the request that must be
		// unchanged after it.
		present string
	}{
		{name: "malformed JSON", req: rawRequest{method: "POST", path: cms, contentType: "application/json", body: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"malformed"`)},
			code: 400, why: metav1.StatusReasonBadRequest, absent: cms + "/malformed"},
		{name: "malformed YAML", req: rawRequest{method: "POST", path: cms, contentType: "application/yaml", body: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml\ndata: [unclosed\n")},
			code: 400, why: metav1.StatusReasonBadRequest, absent: cms + "/yaml"},
		{name: "unknown field with Strict validation", req: rawRequest{method: "POST", path: cms + "?fieldValidation=Strict", contentType: "application/json", body: configMapJSON("strict", `,"bogus":1`)},
			code: 400, why: metav1.StatusReasonBadRequest, says: `unknown field "bogus"`, absent: cms + "/strict"},
		{name: "duplicate field with Strict validation", req: rawRequest{method: "POST", path: cms + "?fieldValidation=Strict", contentType: "application/json", body: configMapJSON("dup", `,"data":{"a":"1"},"data":{"a":"2"}`)},
			code: 400, why: metav1.StatusReasonBadRequest, says: `duplicate field "data"`, absent: cms + "/dup"},
		{name: "unknown fieldValidation directive", req: rawRequest{method: "POST", path: cms + "?fieldValidation=Loud", contentType: "application/json", body: configMapJSON("loud", `,"bogus":1`)},
			code: 400, why: metav1.StatusReasonBadRequest, absent: cms + "/loud"},
		{name: "invalid object name", req: rawRequest{method: "POST", path: cms, contentType: "application/json", body: configMapJSON("Bad_Name", "")},
			code: 422, why: metav1.StatusReasonInvalid, says: `ConfigMap "Bad_Name" is invalid`, field: "metadata.name"},
		{name: "Deployment selector does not match the template labels", req: rawRequest{method: "POST", path: "/apis/apps/v1/namespaces/bad/deployments", contentType: "application/json", body: []byte(mismatched)},
			code: 422, why: metav1.StatusReasonInvalid, says: "`selector` does not match template `labels`", field: "spec.template.metadata.labels", absent: "/apis/apps/v1/namespaces/bad/deployments/mismatch"},
		{name: "body over 3 MiB", req: rawRequest{method: "POST", path: cms, contentType: "application/json", body: big},
			code: 413, why: metav1.StatusReasonRequestEntityTooLarge, says: "limit is 3145728", absent: cms + "/big"},
		{name: "body over 3 MiB without Content-Length", req: rawRequest{method: "POST", path: cms, contentType: "application/json", body: big, streamed: true},
			code: 413, why: metav1.StatusReasonRequestEntityTooLarge, says: "limit is 3145728", absent: cms + "/big"},
		{name: "object in a missing namespace", req: rawRequest{method: "POST", path: "/api/v1/namespaces/missing/configmaps", contentType: "application/json", body: configMapJSON("lost", "")},
			code: 404, why: metav1.StatusReasonNotFound, says: `namespaces "missing" not found`, absent: "/api/v1/namespaces/missing/configmaps/lost"},
		{name: "pod without its ServiceAccount", req: rawRequest{method: "POST", path: "/api/v1/namespaces/no-sa/pods", contentType: "application/json", body: []byte(pod)},
			code: 403, why: metav1.StatusReasonForbidden, says: `serviceaccount "default" not found`, absent: "/api/v1/namespaces/no-sa/pods/orphan"},
		{name: "kind in the body is not the collection's", req: rawRequest{method: "POST", path: cms, contentType: "application/json", body: []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"wrong-kind"}}`)},
			code: 400, why: metav1.StatusReasonBadRequest, absent: cms + "/wrong-kind"},
		{name: "apiVersion in the body is not the collection's", req: rawRequest{method: "POST", path: cms, contentType: "application/json", body: []byte(`{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"wrong-version"}}`)},
			code: 400, why: metav1.StatusReasonBadRequest, absent: cms + "/wrong-version"},
		{name: "unsupported Content-Type", req: rawRequest{method: "POST", path: cms, contentType: "text/plain", body: configMapJSON("plain", "")},
			code: 415, why: metav1.StatusReasonUnsupportedMediaType, absent: cms + "/plain"},
		{name: "unparsable Content-Type", req: rawRequest{method: "POST", path: cms, contentType: "application/json; charset", body: configMapJSON("unparsable", "")},
			code: 400, why: metav1.StatusReasonBadRequest, absent: cms + "/unparsable"},
		{name: "bad label selector", req: rawRequest{method: "GET", path: cms + "?labelSelector=a%3D%3D%3Db"},
			code: 400, why: metav1.StatusReasonBadRequest},
		{name: "unsupported field selector", req: rawRequest{method: "GET", path: cms + "?fieldSelector=spec.foo%3Dx"},
			code: 400, why: metav1.StatusReasonBadRequest, says: "spec.foo"},
		{name: "unsupported field selector on delete collection", req: rawRequest{method: "DELETE", path: cms + "?fieldSelector=spec.foo%3Dx"},
			code: 400, why: metav1.StatusReasonBadRequest, says: "spec.foo"},
		{name: "XML is not served", req: rawRequest{method: "GET", path: cms, accept: "application/xml"},
			code: 406, why: metav1.StatusReasonNotAcceptable},
		{name: "limit that is not a number", req: rawRequest{method: "GET", path: cms + "?limit=abc"},
			code: 400, why: metav1.StatusReasonBadRequest},
		{name: "unknown resourceVersionMatch", req: rawRequest{method: "GET", path: cms + "?resourceVersion=1&resourceVersionMatch=Bogus"},
			code: 422, why: metav1.StatusReasonInvalid, says: `Unsupported value: "Bogus"`, field: "resourceVersionMatch"},
		{name: "resourceVersionMatch without resourceVersion", req: rawRequest{method: "GET", path: cms + "?resourceVersionMatch=NotOlderThan"},
			code: 422, why: metav1.StatusReasonInvalid, field: "resourceVersionMatch"},
		{name: "unknown dryRun value", req: rawRequest{method: "POST", path: cms + "?dryRun=Bogus", contentType: "application/json", body: configMapJSON("typo-dry", "")},
			code: 422, why: metav1.StatusReasonInvalid, says: `Unsupported value: ["Bogus"]`, field: "dryRun", absent: cms + "/typo-dry"},
		{name: "create on an object's URL", req: rawRequest{method: "POST", path: cms + "/named", contentType: "application/json", body: configMapJSON("named", "")},
			code: 405, why: metav1.StatusReasonMethodNotAllowed, absent: cms + "/named"},
		{name: "unknown propagationPolicy", req: rawRequest{method: "DELETE", path: cms + "/kept-delete?propagationPolicy=Bogus"},
			code: 422, why: metav1.StatusReasonInvalid, says: `Unsupported value: "Bogus"`, field: "propagationPolicy", present: "kept-delete"},
		{name: "apply without a fieldManager", req: rawRequest{method: "PATCH", path: cms + "/kept-apply", contentType: "application/apply-patch+yaml", body: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept-apply}\ndata: {k: changed}\n")},
			code: 422, why: metav1.StatusReasonInvalid, field: "fieldManager", present: "kept-apply"},
		{name: "update of an object re-created since (other uid)", req: rawRequest{method: "PUT", path: cms + "/kept-uid", contentType: "application/json", body: []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"kept-uid","uid":"00000000-0000-0000-0000-000000000000"},"data":{"k":"changed"}}`)},
			code: 409, why: metav1.StatusReasonConflict, says: "Precondition failed: UID in precondition", present: "kept-uid"},
		{name: "apply in another namespace", req: rawRequest{method: "PATCH", path: cms + "/kept-apply-ns?fieldManager=m", contentType: "application/apply-patch+yaml", body: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept-apply-ns, namespace: other}\ndata: {k: v}\n")},
			code: 400, why: metav1.StatusReasonBadRequest, says: "does not match the namespace sent on the request", present: "kept-apply-ns"},
		{name: "patch that renames the object", req: rawRequest{method: "PATCH", path: cms + "/kept-patch", contentType: "application/merge-patch+json", body: []byte(`{"metadata":{"name":"renamed"},"data":{"k":"changed"}}`)},
			code: 400, why: metav1.StatusReasonBadRequest, says: "does not match the name on the URL", absent: cms + "/renamed", present: "kept-patch"},
	}
	kept := map[string]string{} // name → resourceVersion
	for _, tc := range cases {
		if tc.present == "" {
			continue
		}
		cm, err := ts.client.CoreV1().ConfigMaps("bad").Create(ctxT(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: tc.present}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		kept[cm.Name] = cm.ResourceVersion
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.send(t, tc.req)
			if resp.code != tc.code {
				t.Fatalf("want %d, got %d: %s", tc.code, resp.code, resp.body)
			}
			status := resp.status(t)
			if status.Status != metav1.StatusFailure || status.Reason != tc.why {
				t.Errorf("want reason %s, got %q (%s)", tc.why, status.Reason, status.Message)
			}
			if !strings.Contains(status.Message, tc.says) {
				t.Errorf("message %q does not say %q", status.Message, tc.says)
			}
			if tc.field != "" && !hasCause(status, tc.field) {
				t.Errorf("no cause names %s: %+v", tc.field, status.Details)
			}
			if tc.absent != "" {
				if got := ts.send(t, rawRequest{method: "GET", path: tc.absent}); got.code != http.StatusNotFound {
					t.Errorf("GET %s after the rejected request: want 404, got %d: %s", tc.absent, got.code, got.body)
				}
			}
			if tc.present != "" {
				cm, err := ts.client.CoreV1().ConfigMaps("bad").Get(ctxT(t), tc.present, metav1.GetOptions{})
				if err != nil || cm.ResourceVersion != kept[tc.present] || cm.DeletionTimestamp != nil {
					t.Errorf("the rejected request changed ConfigMap %s: %v %+v", tc.present, err, cm)
				}
			}
		})
	}
	ctx := ctxT(t)
	if left, err := ts.client.CoreV1().ConfigMaps("bad").List(ctx, metav1.ListOptions{}); err != nil || len(left.Items) != len(kept) {
		t.Fatalf("rejected requests stored ConfigMaps: %v %v", err, names(left.Items))
	}
	if left, err := ts.client.CoreV1().Secrets("bad").List(ctx, metav1.ListOptions{}); err != nil || len(left.Items) != 0 {
		t.Fatalf("a ConfigMap request stored a Secret: %v %d", err, len(left.Items))
	}
}

func hasCause(s metav1.Status, field string) bool {
	if s.Details == nil {
		return false
	}
	for _, c := range s.Details.Causes {
		if c.Field == field {
			return true
		}
	}
	return false
}

func names(cms []corev1.ConfigMap) []string {
	var out []string
	for _, cm := range cms {
		out = append(out, cm.Name)
	}
	return out
}

func TestUnknownFieldsAreStoredWithAWarningByDefault(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ts.makeNamespace(t, "warn")
	const cms = "/api/v1/namespaces/warn/configmaps"
	cases := []struct {
		name, query string
		warns       bool
	}{
		{name: "default", warns: true},
		{name: "warn", query: "?fieldValidation=Warn", warns: true},
		{name: "ignore", query: "?fieldValidation=Ignore"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.send(t, rawRequest{method: "POST", path: cms + tc.query, contentType: "application/json", body: configMapJSON(tc.name, `,"data":{"k":"v"},"bogus":{"nested":true}`)})
			if resp.code != http.StatusCreated {
				t.Fatalf("want 201, got %d: %s", resp.code, resp.body)
			}
			warning := strings.Join(resp.header.Values("Warning"), "\n")
			if tc.warns != strings.Contains(warning, `299 - "unknown field \"bogus\""`) {
				t.Errorf("warns %v, Warning headers %q", tc.warns, warning)
			}
			got, err := ts.client.CoreV1().ConfigMaps("warn").Get(ctxT(t), tc.name, metav1.GetOptions{})
			if err != nil || got.Data["k"] != "v" {
				t.Fatalf("the object was not stored: %v %+v", err, got)
			}
		})
	}
}

func TestPodBindingSetsTheNodeOnce(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "bind")
	pods := ts.client.CoreV1().Pods("bind")
	if _, err := pods.Create(ctx, testPod("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind := func(node string) error {
		return pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
	}
	if err := bind("node-1"); err != nil {
		t.Fatalf("first binding: %v", err)
	}
	got, err := pods.Get(ctx, "web", metav1.GetOptions{})
	if err != nil || got.Spec.NodeName != "node-1" {
		t.Fatalf("after binding: %v nodeName %q", err, got.Spec.NodeName)
	}
	if !podScheduled(got) {
		t.Errorf("no PodScheduled=True condition: %+v", got.Status.Conditions)
	}
	err = bind("node-2")
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `already assigned to node "node-1"`) {
		t.Fatalf("second binding: want 409 Conflict naming node-1, got %v", err)
	}
	if again, _ := pods.Get(ctx, "web", metav1.GetOptions{}); again.Spec.NodeName != "node-1" || again.ResourceVersion != got.ResourceVersion {
		t.Fatalf("the refused binding changed the pod: node %q rv %s→%s", again.Spec.NodeName, got.ResourceVersion, again.ResourceVersion)
	}
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "missing"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("binding a missing pod: want NotFound, got %v", err)
	}
}

func podScheduled(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}},
	}
}

func TestPodDeletionIsGracefulOnlyOnANode(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "graceful")
	pods := ts.client.CoreV1().Pods("graceful")
	running := testPod("running")
	running.Spec.NodeName = "node-1"
	for _, p := range []*corev1.Pod{running, testPod("pending")} {
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	if err := pods.Delete(ctx, "pending", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "pending", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("an unscheduled pod must go at once: want NotFound, got %v", err)
	}

	if err := pods.Delete(ctx, "running", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Get(ctx, "running", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("a pod on a node must stay until its kubelet confirms: %v", err)
	}
	if got.DeletionTimestamp == nil || got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != corev1.DefaultTerminationGracePeriodSeconds {
		t.Fatalf("want deletionTimestamp and a %ds grace period, got %v %v", corev1.DefaultTerminationGracePeriodSeconds, got.DeletionTimestamp, got.DeletionGracePeriodSeconds)
	}
	// The kubelet's final delete has a zero grace period.
	if err := pods.Delete(ctx, "running", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "running", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after a zero grace period delete: want NotFound, got %v", err)
	}
}

func TestFinalizersKeepAnObjectUntilRemoved(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "final")
	cms := ts.client.CoreV1().ConfigMaps("final")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cms.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := cms.Get(ctx, "held", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil {
		t.Fatalf("a finalized object must stay with a deletionTimestamp: %v %+v", err, got)
	}
	adding := got.DeepCopy()
	adding.Finalizers = append(adding.Finalizers, "example.com/more")
	if _, err := cms.Update(ctx, adding, metav1.UpdateOptions{}); err == nil {
		t.Fatal("a new finalizer was accepted on an object being deleted")
	}
	got.Finalizers = nil
	if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("removing the finalizer: %v", err)
	}
	if _, err := cms.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after the last finalizer went: want NotFound, got %v", err)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "dry")
	dry := []string{metav1.DryRunAll}
	cms := ts.client.CoreV1().ConfigMaps("dry")

	out, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ghost"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{DryRun: dry})
	if err != nil || out.Name != "ghost" || out.Data["k"] != "v" {
		t.Fatalf("dry-run create: %v %+v", err, out)
	}
	if _, err := cms.Get(ctx, "ghost", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry-run create stored the object: %v", err)
	}

	real, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "real"}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	changed := real.DeepCopy()
	changed.Data["k"] = "dry"
	out, err = cms.Update(ctx, changed, metav1.UpdateOptions{DryRun: dry})
	if err != nil || out.Data["k"] != "dry" {
		t.Fatalf("dry-run update: %v %+v", err, out)
	}
	if _, err := cms.Patch(ctx, "real", types.MergePatchType, []byte(`{"data":{"k":"patched"}}`), metav1.PatchOptions{DryRun: dry}); err != nil {
		t.Fatalf("dry-run patch: %v", err)
	}
	if err := cms.Delete(ctx, "real", metav1.DeleteOptions{DryRun: dry}); err != nil {
		t.Fatalf("dry-run delete: %v", err)
	}
	got, err := cms.Get(ctx, "real", metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" || got.ResourceVersion != real.ResourceVersion {
		t.Fatalf("dry runs changed the object: %v data %v rv %s→%s", err, got.Data, real.ResourceVersion, got.ResourceVersion)
	}

	// A dry-run Service reserves neither its ClusterIP nor its NodePort.
	svc := nodePortService("dry-svc", "10.96.50.50", 30050)
	if _, err := ts.client.CoreV1().Services("dry").Create(ctx, svc, metav1.CreateOptions{DryRun: dry}); err != nil {
		t.Fatalf("dry-run Service create: %v", err)
	}
	svc.Name = "wet-svc"
	if _, err := ts.client.CoreV1().Services("dry").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the dry run kept its ClusterIP or NodePort: %v", err)
	}
}

func nodePortService(name, clusterIP string, nodePort int32) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeNodePort,
			ClusterIP: clusterIP,
			Selector:  map[string]string{"app": name},
			Ports:     []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080), NodePort: nodePort}},
		},
	}
}

func TestServicesGetAddressesFromTheirRanges(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "svc")
	services := ts.client.CoreV1().Services("svc")
	_, serviceCIDR, _ := net.ParseCIDR("10.96.0.0/16")

	created, err := services.Create(ctx, nodePortService("web", "", 0), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ip := net.ParseIP(created.Spec.ClusterIP)
	if ip == nil || !serviceCIDR.Contains(ip) || len(created.Spec.ClusterIPs) != 1 || created.Spec.ClusterIPs[0] != created.Spec.ClusterIP {
		t.Fatalf("ClusterIP %q (ClusterIPs %v) not from 10.96.0.0/16", created.Spec.ClusterIP, created.Spec.ClusterIPs)
	}
	if port := created.Spec.Ports[0].NodePort; port < 30000 || port > 32767 {
		t.Fatalf("NodePort %d not in 30000-32767", port)
	}

	_, err = services.Create(ctx, nodePortService("copy", created.Spec.ClusterIP, 0), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Fatalf("a second Service on %s: want 422 provided IP is already allocated, got %v", created.Spec.ClusterIP, err)
	}
	if status, ok := err.(apierrors.APIStatus); !ok || !hasCause(status.Status(), "spec.clusterIPs") {
		t.Errorf("the error names no spec.clusterIPs cause: %v", err)
	}
	_, err = services.Create(ctx, nodePortService("same-port", "", created.Spec.Ports[0].NodePort), metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided port is already allocated") {
		t.Fatalf("a second Service on NodePort %d: want 422 provided port is already allocated, got %v", created.Spec.Ports[0].NodePort, err)
	}
	for _, name := range []string{"copy", "same-port"} {
		if _, err := services.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("refused Service %s was stored: %v", name, err)
		}
	}

	// Deleting the Service gives its ClusterIP back.
	if err := services.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := services.Create(ctx, nodePortService("reuse", created.Spec.ClusterIP, created.Spec.Ports[0].NodePort), metav1.CreateOptions{}); err != nil {
		t.Fatalf("re-using the released ClusterIP and NodePort: %v", err)
	}
}

// testDeployment is an apps/v1 Deployment of one nginx container.
func testDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}},
			},
		},
	}
}

func TestScaleSubresourceRejectsBadScales(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "scale")
	if _, err := ts.client.AppsV1().Deployments("scale").Create(ctx, testDeployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const scale = "/apis/apps/v1/namespaces/scale/deployments/web/scale"
	cases := []struct {
		name  string
		body  string
		code  int
		why   metav1.StatusReason
		field string
	}{
		{"negative replicas", `{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web","namespace":"scale"},"spec":{"replicas":-1}}`,
			422, metav1.StatusReasonInvalid, "spec.replicas"},
		{"another object's name", `{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"other","namespace":"scale"},"spec":{"replicas":5}}`,
			400, metav1.StatusReasonBadRequest, ""},
		{"a Deployment instead of a Scale", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"scale"},"spec":{"replicas":5}}`,
			400, metav1.StatusReasonBadRequest, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, err := ts.client.AppsV1().Deployments("scale").Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			resp := ts.send(t, rawRequest{method: "PUT", path: scale, contentType: "application/json", body: []byte(tc.body)})
			if resp.code != tc.code {
				t.Fatalf("want %d, got %d: %s", tc.code, resp.code, resp.body)
			}
			if status := resp.status(t); status.Reason != tc.why || (tc.field != "" && !hasCause(status, tc.field)) {
				t.Errorf("want reason %s naming %q, got %s %+v", tc.why, tc.field, status.Reason, status.Details)
			}
			got, err := ts.client.AppsV1().Deployments("scale").Get(ctx, "web", metav1.GetOptions{})
			if err != nil || got.ResourceVersion != before.ResourceVersion {
				t.Fatalf("the refused scale changed the Deployment: %v replicas %d→%d", err, *before.Spec.Replicas, *got.Spec.Replicas)
			}
		})
	}
}

func TestTerminatingNamespaceRefusesNewObjectsUntilFinalized(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "ending")
	namespaces := ts.client.CoreV1().Namespaces()
	if err := namespaces.Delete(ctx, "ending", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := namespaces.Get(ctx, "ending", metav1.GetOptions{})
	if err != nil || ns.DeletionTimestamp == nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("a deleted namespace waits for its finalizer as Terminating: %v %+v", err, ns)
	}
	_, err = ts.client.CoreV1().ConfigMaps("ending").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "because it is being terminated") {
		t.Fatalf("create in a terminating namespace: want 403 Forbidden, got %v", err)
	}
	if _, err := ts.client.CoreV1().ConfigMaps("ending").Get(ctx, "late", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the refused object was stored: %v", err)
	}
	// The namespace controller empties spec.finalizers through finalize.
	ns.Spec.Finalizers = nil
	if _, err := namespaces.Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("finalize: %v", err)
	}
	if _, err := namespaces.Get(ctx, "ending", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a finalized terminating namespace must be gone: %v", err)
	}
}

func TestStatusIsWrittenApartFromSpec(t *testing.T) {
	ts := startTestServer(t, freeOptions())
	ctx := ctxT(t)
	ts.makeNamespace(t, "status")
	deployments := ts.client.AppsV1().Deployments("status")
	created, err := deployments.Create(ctx, testDeployment("web", 1), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Generation != 1 {
		t.Fatalf("a new object starts at generation 1, got %d", created.Generation)
	}

	// A write to the object keeps the stored status.
	next := created.DeepCopy()
	next.Status.Replicas = 7
	next.Spec.Replicas = ptr.To[int32](2)
	updated, err := deployments.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Status.Replicas != 0 || *updated.Spec.Replicas != 2 || updated.Generation != 2 {
		t.Fatalf("update: status.replicas %d (want 0), spec.replicas %d (want 2), generation %d (want 2)", updated.Status.Replicas, *updated.Spec.Replicas, updated.Generation)
	}

	// A write to status keeps the stored spec and the generation.
	next = updated.DeepCopy()
	next.Status.Replicas = 2
	next.Status.ObservedGeneration = updated.Generation
	next.Spec.Replicas = ptr.To[int32](9)
	status, err := deployments.UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if status.Status.Replicas != 2 || *status.Spec.Replicas != 2 || status.Generation != 2 {
		t.Fatalf("status update: status.replicas %d (want 2), spec.replicas %d (want 2), generation %d (want 2)", status.Status.Replicas, *status.Spec.Replicas, status.Generation)
	}

	// Metadata changes do not move the generation.
	labelled, err := deployments.Patch(ctx, "web", types.MergePatchType, []byte(`{"metadata":{"labels":{"extra":"yes"}}}`), metav1.PatchOptions{})
	if err != nil || labelled.Generation != 2 || labelled.Status.Replicas != 2 {
		t.Fatalf("label patch: %v generation %d status.replicas %d", err, labelled.Generation, labelled.Status.Replicas)
	}
}
