package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const tokenFile = `# token,user,uid,groups
alice-token,alice,1001,"devs"
bob-token,bob,1002
`

const devsCanReadPods = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs-read-pods, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: Group, name: devs}
`

const bobMayImpersonateAlice = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonate-alice}
rules:
- apiGroups: [""]
  resources: [users]
  resourceNames: [alice]
  verbs: [impersonate]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bob-impersonates-alice}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: impersonate-alice}
subjects:
- {kind: User, name: bob}
`

// startRBACServer runs a server with a token file and a watched policy dir.
func startRBACServer(t *testing.T) (*testServer, string) {
	t.Helper()
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	policyDir := filepath.Join(dir, "policies")
	must(t, os.WriteFile(tokens, []byte(tokenFile), 0o600))
	must(t, os.MkdirAll(policyDir, 0o755))
	must(t, os.WriteFile(filepath.Join(policyDir, "team.yaml"), []byte(devsCanReadPods), 0o644))
	opts := freeOptions()
	opts.TokenAuthFile, opts.PolicyDirs = tokens, []string{policyDir}
	ts := startTestServer(t, opts)
	ts.makeNamespace(t, "team")
	return ts, policyDir
}

func (ts *testServer) clientFor(t *testing.T, token string, impersonate string) kubernetes.Interface {
	t.Helper()
	cfg := rest.AnonymousClientConfig(ts.config)
	cfg.BearerToken = token
	cfg.Impersonate.UserName = impersonate
	return kubernetes.NewForConfigOrDie(cfg)
}

func TestRBACFromPolicyFiles(t *testing.T) {
	ts, policyDir := startRBACServer(t)
	ctx := ctxT(t)
	alice := ts.clientFor(t, "alice-token", "")
	bob := ts.clientFor(t, "bob-token", "")

	if _, err := alice.CoreV1().Pods("team").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("alice (group devs) may list pods in team: %v", err)
	}
	_, err := alice.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `User "alice" cannot list resource "pods" in API group "" in the namespace "default"`) {
		t.Fatalf("alice in default: want a 403 naming user, verb and namespace, got %v", err)
	}
	if _, err := alice.CoreV1().Pods("team").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("alice may not create pods: got %v", err)
	}
	if _, err := bob.CoreV1().Pods("team").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("bob has no binding: want 403, got %v", err)
	}

	anonymous := kubernetes.NewForConfigOrDie(rest.AnonymousClientConfig(ts.config))
	if _, err := anonymous.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("anonymous list: want 403, got %v", err)
	}
	if _, err := ts.clientFor(t, "wrong-token", "").CoreV1().Pods("team").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Fatalf("bad token: want 401, got %v", err)
	}

	// Impersonation is checked by RBAC: bob may not impersonate alice yet.
	_, err = ts.clientFor(t, "bob-token", "alice").CoreV1().Pods("team").List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "bob") || !strings.Contains(err.Error(), "impersonate") {
		t.Fatalf("bob impersonating alice without the right: want 403 about impersonation, got %v", err)
	}

	// Hot reload: a new policy file takes effect within seconds. The
	// impersonated user is alice without her groups (none were asked for),
	// so her team binding (to group devs) does not apply.
	must(t, os.WriteFile(filepath.Join(policyDir, "impersonation.yaml"), []byte(bobMayImpersonateAlice), 0o644))
	waitFor(t, "the new policy file to be loaded", func() bool {
		_, err := ts.clientFor(t, "bob-token", "alice").CoreV1().Pods("team").List(ctx, metav1.ListOptions{})
		return apierrors.IsForbidden(err) && strings.Contains(err.Error(), `User "alice" cannot list resource "pods"`)
	})
	who, err := ts.clientFor(t, "bob-token", "alice").AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || who.Status.UserInfo.Username != "alice" {
		t.Fatalf("bob impersonating alice is alice: %v %+v", err, who)
	}
	generation := ts.Policies.Status().Generation

	// A broken file keeps the last good set in force and says where it is broken.
	must(t, os.WriteFile(filepath.Join(policyDir, "team.yaml"), []byte(strings.Replace(devsCanReadPods, "verbs: [get, list, watch]", "verbs: [get, list, watch]\n  bogusField: true", 1)), 0o644))
	waitFor(t, "the broken file to be reported", func() bool { return len(ts.Policies.Status().Errors) > 0 })
	problem := ts.Policies.Status().Errors[0].String()
	if !strings.Contains(problem, "team.yaml:") || !strings.Contains(problem, "bogusField") {
		t.Fatalf("the error should name file:line and the field, got %q", problem)
	}
	if got := ts.Policies.Status().Generation; got != generation {
		t.Fatalf("a broken file replaced the policy: generation %d → %d", generation, got)
	}
	if _, err := alice.CoreV1().Pods("team").List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("the last good policy must stay in force: %v", err)
	}
	status, err := ts.rawGet(t, "/debug/policies")
	if err != nil || !strings.Contains(status, "bogusField") {
		t.Fatalf("admins see the policy errors at /debug/policies: %v %s", err, status)
	}
}

func TestRBACObjectsAreServedReadOnly(t *testing.T) {
	ts, _ := startRBACServer(t)
	ctx := ctxT(t)
	roles, err := ts.client.RbacV1().Roles("team").List(ctx, metav1.ListOptions{})
	if err != nil || len(roles.Items) != 1 || roles.Items[0].Name != "pod-reader" {
		t.Fatalf("roles from the policy dir: %v %+v", err, roles)
	}
	if _, err := ts.client.RbacV1().ClusterRoles().Get(ctx, "cluster-admin", metav1.GetOptions{}); err != nil {
		t.Fatalf("bootstrap cluster-admin: %v", err)
	}
	_, err = ts.client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "sneaky"}}, metav1.CreateOptions{})
	if !apierrors.IsMethodNotSupported(err) || !strings.Contains(err.Error(), "policy files") {
		t.Fatalf("RBAC writes: want 405 pointing at the policy files, got %v", err)
	}
}

func TestAccessReviews(t *testing.T) {
	ts, _ := startRBACServer(t)
	ctx := ctxT(t)
	alice := ts.clientFor(t, "alice-token", "")
	review, err := alice.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "team", Verb: "list", Resource: "pods"}},
	}, metav1.CreateOptions{})
	if err != nil || !review.Status.Allowed {
		t.Fatalf("alice can list pods in team: %v %+v", err, review)
	}
	sar, err := ts.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: "bob", ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "team", Verb: "list", Resource: "pods"}},
	}, metav1.CreateOptions{})
	if err != nil || sar.Status.Allowed {
		t.Fatalf("bob cannot list pods: %v %+v", err, sar)
	}
	rules, err := alice.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "team"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rules.Status.ResourceRules {
		for _, res := range r.Resources {
			found = found || res == "pods"
		}
	}
	if !found {
		t.Fatalf("alice's rules in team should include pods: %+v", rules.Status.ResourceRules)
	}
}

func (ts *testServer) rawGet(t *testing.T, path string) (string, error) {
	t.Helper()
	client, err := rest.HTTPClientFor(ts.config)
	if err != nil {
		return "", err
	}
	resp, err := client.Get(ts.URL + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != http.StatusOK {
		return b.String(), apierrors.NewGenericServerResponse(resp.StatusCode, "get", rbacv1.Resource(""), "", b.String(), 0, false)
	}
	return b.String(), nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
