package published_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/policies/published"
	"github.com/berth-io/berth/store/server"
	"github.com/berth-io/berth/store/servertest"
)

const grant = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team-a}
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: pod-readers, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
`

func TestKeys(t *testing.T) {
	for _, p := range []string{"policies/team-a.yaml", "policies/sub dir/x_y.yaml", "a/b/c.json", ""} {
		k, err := published.Key("apps/web.v2", p)
		if err != nil {
			t.Fatal(err)
		}
		source, back, err := published.ParseKey(k)
		if err != nil || source != "apps/web.v2" || back != p {
			t.Errorf("%q → %q → %q, %q, %v", p, k, source, back, err)
		}
	}
	if k, _ := published.Key("apps/web", "policies/team-a.yaml"); k != "apps.web_policies_2fteam-a.yaml" {
		t.Errorf("key %q", k)
	}
	for _, bad := range []string{"web", "Apps/web", "apps/web_1"} {
		if _, err := published.Key(bad, "p.yaml"); err == nil {
			t.Errorf("source %q accepted", bad)
		}
	}
	for _, bad := range []string{"apps", "apps.web", "apps.web_x_zz.yaml", "apps.web_x_2"} {
		if _, _, err := published.ParseKey(bad); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

// TestPublishedPoliciesGovernEveryServer: gitsync publishes a Role and
// RoleBinding; within seconds both API servers of one etcd let alice list
// pods. A broken file changes nothing and is reported; removing the
// binding revokes the grant.
func TestPublishedPoliciesGovernEveryServer(t *testing.T) {
	first := servertest.Start(t)
	second := servertest.Start(t, func(o *server.Options) { o.Etcd.Endpoints = first.Etcd.Endpoints() })
	first.Namespace("team-a")
	first.Namespace("apps")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Only the files of a GitSource that exists are in force.
	sources := dynamic.NewForConfigOrDie(first.AdminConfig).Resource(berthv1alpha1.GitSourcesResource).Namespace("apps")
	gitSource := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": berthv1alpha1.SchemeGroupVersion.String(), "kind": "GitSource",
		"metadata": map[string]any{"name": "web", "namespace": "apps"},
		"spec":     map[string]any{"url": "/srv/git/web"},
	}}
	if _, err := sources.Create(ctx, gitSource, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gitsync := first.ClientAs(server.GitSyncUser)
	alice := []kubernetes.Interface{first.ClientAs("alice"), second.ClientAs("alice")}
	canList := func(c kubernetes.Interface) bool {
		_, err := c.CoreV1().Pods("team-a").List(ctx, metav1.ListOptions{})
		return err == nil
	}
	waitFor := func(what string, want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for i, c := range alice {
			for canList(c) != want {
				if time.Now().After(deadline) {
					t.Fatalf("server %d: not within 5s: %s", i+1, what)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	if canList(alice[0]) {
		t.Fatal("alice may list pods before any policy")
	}

	start := time.Now()
	if err := published.Publish(ctx, gitsync, published.SourceName("apps", "web"), map[string][]byte{"policies/team-a.yaml": []byte(grant)}); err != nil {
		t.Fatal(err)
	}
	waitFor("the published grant takes effect", true)
	t.Logf("published policy in force on both servers after %v", time.Since(start))

	// A broken file: nothing changes, the problem is in /debug/policies.
	broken := strings.Replace(grant, "verbs: [\"list\"]", "verbs: [\"list\"]\n  bogus: true", 1)
	if err := published.Publish(ctx, gitsync, published.SourceName("apps", "web"), map[string][]byte{"policies/team-a.yaml": []byte(broken)}); err != nil {
		t.Fatal(err)
	}
	for i, s := range []*servertest.Server{first, second} {
		deadline := time.Now().Add(5 * time.Second)
		for {
			st := status(t, ctx, s)
			if len(st.Sources) == 1 && len(st.Sources[0].Errors) > 0 {
				if got := st.Sources[0].Errors[0].String(); !strings.HasPrefix(got, "policies/team-a.yaml:8: ") || st.Sources[0].Name != "gitsource apps/web" {
					t.Errorf("server %d reports %q in %q", i+1, got, st.Sources[0].Name)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d does not report the broken file: %+v", i+1, st)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("the broken update keeps the grant", true)

	// Only the binding removed: the grant goes.
	role, _, _ := strings.Cut(grant, "---\n")
	if err := published.Publish(ctx, gitsync, published.SourceName("apps", "web"), map[string][]byte{"policies/team-a.yaml": []byte(role)}); err != nil {
		t.Fatal(err)
	}
	waitFor("removing the binding revokes the grant", false)

	// Only gitsync (and admins) may publish.
	if err := published.Publish(ctx, alice[0], published.SourceName("apps", "web"), map[string][]byte{"policies/team-a.yaml": []byte(grant)}); err == nil {
		t.Error("alice could publish policy")
	}
	if _, err := gitsync.CoreV1().ConfigMaps(published.Namespace).Update(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "extension-apiserver-authentication", Namespace: published.Namespace}}, metav1.UpdateOptions{}); err == nil {
		t.Error("gitsync could update another kube-system ConfigMap")
	}

	// Deleting the GitSource withdraws its policy, even before gitsync
	// unpublishes it.
	if err := published.Publish(ctx, gitsync, published.SourceName("apps", "web"), map[string][]byte{"policies/team-a.yaml": []byte(grant)}); err != nil {
		t.Fatal(err)
	}
	waitFor("the grant again", true)
	if err := sources.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("deleting the GitSource revokes its grant", false)

	if err := published.Unpublish(ctx, gitsync, published.SourceName("apps", "web")); err != nil {
		t.Fatal(err)
	}
	cm, err := first.Admin.CoreV1().ConfigMaps(published.Namespace).Get(ctx, published.Name, metav1.GetOptions{})
	if err != nil || len(cm.Data) != 0 {
		t.Errorf("after Unpublish: %v, %v", cm.Data, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(status(t, ctx, second).Sources) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the unpublished source is still loaded")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func status(t *testing.T, ctx context.Context, s *servertest.Server) policies.Status {
	t.Helper()
	raw, err := s.Admin.CoreV1().RESTClient().Get().AbsPath("/debug/policies").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var st policies.Status
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
