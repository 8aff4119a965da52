package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var allVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// berthKinds are kinds as an API server like berth's serves them.
func berthKinds() []Kind {
	core := corev1.SchemeGroupVersion
	apps := appsv1.SchemeGroupVersion
	batch := batchv1.SchemeGroupVersion
	rbac := rbacv1.SchemeGroupVersion
	return []Kind{
		{GVK: core.WithKind("Pod"), Resource: "pods", Namespaced: true, Object: &corev1.Pod{}, List: &corev1.PodList{}, Verbs: allVerbs,
			Subresources: []string{"status", "binding", "eviction", "log", "exec", "attach", "portforward", "ephemeralcontainers", "resize"}},
		{GVK: core.WithKind("Service"), Resource: "services", Namespaced: true, Object: &corev1.Service{}, List: &corev1.ServiceList{}, Verbs: allVerbs, Subresources: []string{"status"}},
		{GVK: core.WithKind("ConfigMap"), Resource: "configmaps", Namespaced: true, Object: &corev1.ConfigMap{}, List: &corev1.ConfigMapList{}, Verbs: allVerbs},
		{GVK: core.WithKind("Secret"), Resource: "secrets", Namespaced: true, Object: &corev1.Secret{}, List: &corev1.SecretList{}, Verbs: allVerbs},
		{GVK: core.WithKind("Namespace"), Resource: "namespaces", Object: &corev1.Namespace{}, List: &corev1.NamespaceList{},
			Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}, Subresources: []string{"status", "finalize"}},
		{GVK: core.WithKind("Node"), Resource: "nodes", Object: &corev1.Node{}, List: &corev1.NodeList{}, Verbs: allVerbs, Subresources: []string{"status"}},
		{GVK: core.WithKind("ServiceAccount"), Resource: "serviceaccounts", Namespaced: true, Object: &corev1.ServiceAccount{}, List: &corev1.ServiceAccountList{}, Verbs: allVerbs, Subresources: []string{"token"}},
		{GVK: core.WithKind("Event"), Resource: "events", Namespaced: true, Object: &corev1.Event{}, List: &corev1.EventList{}, Verbs: allVerbs},
		{GVK: core.WithKind("Endpoints"), Resource: "endpoints", Namespaced: true, Object: &corev1.Endpoints{}, List: &corev1.EndpointsList{}, Verbs: allVerbs},
		{GVK: core.WithKind("Binding"), Resource: "bindings", Namespaced: true, Object: &corev1.Binding{}, Verbs: []string{"create"}},
		{GVK: apps.WithKind("Deployment"), Resource: "deployments", Namespaced: true, Object: &appsv1.Deployment{}, List: &appsv1.DeploymentList{}, Verbs: allVerbs, Subresources: []string{"status", "scale"}},
		{GVK: apps.WithKind("ReplicaSet"), Resource: "replicasets", Namespaced: true, Object: &appsv1.ReplicaSet{}, List: &appsv1.ReplicaSetList{}, Verbs: allVerbs, Subresources: []string{"status", "scale"}},
		{GVK: apps.WithKind("StatefulSet"), Resource: "statefulsets", Namespaced: true, Object: &appsv1.StatefulSet{}, List: &appsv1.StatefulSetList{}, Verbs: allVerbs, Subresources: []string{"status", "scale"}},
		{GVK: apps.WithKind("DaemonSet"), Resource: "daemonsets", Namespaced: true, Object: &appsv1.DaemonSet{}, List: &appsv1.DaemonSetList{}, Verbs: allVerbs, Subresources: []string{"status"}},
		{GVK: batch.WithKind("Job"), Resource: "jobs", Namespaced: true, Object: &batchv1.Job{}, List: &batchv1.JobList{}, Verbs: allVerbs, Subresources: []string{"status"}},
		{GVK: batch.WithKind("CronJob"), Resource: "cronjobs", Namespaced: true, Object: &batchv1.CronJob{}, List: &batchv1.CronJobList{}, Verbs: allVerbs, Subresources: []string{"status"}},
		{GVK: rbac.WithKind("Role"), Resource: "roles", Namespaced: true, Object: &rbacv1.Role{}, List: &rbacv1.RoleList{}, Verbs: allVerbs},
		{GVK: rbac.WithKind("ClusterRole"), Resource: "clusterroles", Object: &rbacv1.ClusterRole{}, List: &rbacv1.ClusterRoleList{}, Verbs: allVerbs},
		{GVK: coordinationv1.SchemeGroupVersion.WithKind("Lease"), Resource: "leases", Namespaced: true, Object: &coordinationv1.Lease{}, List: &coordinationv1.LeaseList{}, Verbs: allVerbs},
	}
}

// fixture is a plain HTTP server with the discovery documents of its kinds,
// the OpenAPI handler, and canned objects by URL path; everything else is a
// 404 Status. It records the requests it gets.
type fixture struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func newFixture(t *testing.T, kinds []Kind, objects map[string]any) *fixture {
	t.Helper()
	doc, err := New(kinds)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	docs := discovery(kinds)
	for path, obj := range objects {
		docs[path] = obj
	}
	f := &fixture{}
	openapi := doc.Handler()
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/openapi/") {
			openapi.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		body, ok := docs[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
			body = &metav1.Status{
				TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status:   metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound,
				Message: r.URL.Path + " not found",
			}
		}
		if err := json.NewEncoder(w).Encode(body); err != nil {
			t.Errorf("encoding %s: %v", r.URL.Path, err)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// requested reports whether the fixture got a request whose method and
// URI start with prefix.
func (f *fixture) requested(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

// kubeconfig writes a kubeconfig for the fixture into dir and returns its
// path.
func (f *fixture) kubeconfig(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "kubeconfig")
	config := `apiVersion: v1
kind: Config
clusters:
- name: fixture
  cluster:
    server: ` + f.URL + `
contexts:
- name: fixture
  context:
    cluster: fixture
    namespace: default
current-context: fixture
`
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// discovery is the legacy discovery documents of kinds by URL path.
func discovery(kinds []Kind) map[string]any {
	docs := map[string]any{}
	lists := map[schema.GroupVersion]*metav1.APIResourceList{}
	groups := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, k := range kinds {
		gv := k.GVK.GroupVersion()
		list, ok := lists[gv]
		if !ok {
			list = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
			lists[gv] = list
			docs["/"+groupVersionPath(gv)] = list
			if gv.Group != "" {
				version := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
				groups.Groups = append(groups.Groups, metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{version}, PreferredVersion: version})
			}
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: k.Resource, Kind: k.GVK.Kind, Namespaced: k.Namespaced, Verbs: k.Verbs,
			SingularName: strings.ToLower(k.GVK.Kind),
		})
		for _, sub := range k.Subresources {
			list.APIResources = append(list.APIResources, metav1.APIResource{Name: k.Resource + "/" + sub, Kind: k.GVK.Kind, Namespaced: k.Namespaced, Verbs: []string{"get"}})
		}
	}
	sort.Slice(groups.Groups, func(i, j int) bool { return groups.Groups[i].Name < groups.Groups[j].Name })
	docs["/api"] = &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}}
	docs["/apis"] = groups
	return docs
}
