package policies

import (
	"slices"
	"testing"
	"testing/fstest"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/validation"
)

func TestBootstrapLoadsCleanly(t *testing.T) {
	set, err := LoadSources(Bootstrap())
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Warnings) > 0 {
		t.Errorf("warnings: %v", set.Warnings)
	}
	want := []string{
		"admin", "berth:gitsync", "cluster-admin", "edit", "system:basic-user", "system:discovery",
		"system:kube-controller-manager", "system:kube-scheduler", "system:node", "system:node-proxier",
		"system:public-info-viewer", "view",
	}
	var got []string
	for _, cr := range set.ClusterRoles {
		got = append(got, cr.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ClusterRoles = %v, want %v", got, want)
	}
}

// TestBootstrapUserRolesNest checks that the rules written out in each of
// view, edit and admin keep upstream's nesting: edit can do all view can,
// admin all edit can.
func TestBootstrapUserRolesNest(t *testing.T) {
	set, err := LoadSources(Bootstrap())
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string][]rbacv1.PolicyRule{}
	for _, cr := range set.ClusterRoles {
		rules[cr.Name] = cr.Rules
	}
	for _, pair := range [][2]string{{"edit", "view"}, {"admin", "edit"}, {"cluster-admin", "admin"}} {
		if ok, missing := validation.Covers(rules[pair[0]], rules[pair[1]]); !ok {
			t.Errorf("%s does not cover %s: missing %v", pair[0], pair[1], missing)
		}
	}
}

// userRoleBindings bind the bootstrap admin, edit and view roles in team-a,
// as a user's policy directory would.
const userRoleBindings = `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewers, namespace: team-a}
roleRef: {kind: ClusterRole, name: view}
subjects: [{kind: User, name: viewer}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: editors, namespace: team-a}
roleRef: {kind: ClusterRole, name: edit}
subjects: [{kind: User, name: editor}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: admins, namespace: team-a}
roleRef: {kind: ClusterRole, name: admin}
subjects: [{kind: User, name: owner}]
`

func TestBootstrapRoles(t *testing.T) {
	set, err := LoadSources(Bootstrap(), Source{Name: "user", FS: fstest.MapFS{"b.yaml": {Data: []byte(userRoleBindings)}}})
	if err != nil {
		t.Fatal(err)
	}
	az := NewAuthorizer(set)
	authed := func(groups ...string) []string { return append(groups, "system:authenticated") }
	const (
		scheduler = "system:kube-scheduler"
		kcm       = "system:kube-controller-manager"
		proxy     = "system:kube-proxy"
		gitsync   = "berth:gitsync"
		node      = "system:node:n1"
	)
	nodes := authed("system:nodes")
	anonymous := []string{"system:unauthenticated"}
	tests := []struct {
		name  string
		attrs Attributes
		want  bool
	}{
		// The scheduler places pods and touches nothing else.
		{"scheduler lists pods", res(scheduler, authed(), "list", "", "pods", "", ""), true},
		{"scheduler watches nodes", res(scheduler, authed(), "watch", "", "nodes", "", ""), true},
		{"scheduler binds pods", res(scheduler, authed(), "create", "", "pods/binding", "app", "p"), true},
		{"scheduler reports unschedulable pods", res(scheduler, authed(), "patch", "", "pods/status", "app", "p"), true},
		{"scheduler reads replicasets", res(scheduler, authed(), "list", "apps", "replicasets", "", ""), true},
		{"scheduler records events", res(scheduler, authed(), "create", "events.k8s.io", "events", "app", ""), true},
		{"scheduler renews its lease", res(scheduler, authed(), "update", "coordination.k8s.io", "leases", "kube-system", "kube-scheduler"), true},
		{"scheduler may not take another lease", res(scheduler, authed(), "update", "coordination.k8s.io", "leases", "kube-system", "kube-controller-manager"), false},
		{"scheduler may not write secrets", res(scheduler, authed(), "create", "", "secrets", "app", ""), false},
		{"scheduler may not update secrets", res(scheduler, authed(), "update", "", "secrets", "app", "s"), false},
		{"scheduler may not read secrets", res(scheduler, authed(), "get", "", "secrets", "app", "s"), false},
		{"scheduler may not delete pods", res(scheduler, authed(), "delete", "", "pods", "app", "p"), false},
		{"scheduler may not change nodes", res(scheduler, authed(), "update", "", "nodes", "", "n1"), false},
		{"scheduler reads discovery", nonRes(scheduler, authed(), "get", "/apis/apps/v1"), true},

		// The controller manager runs the workload, node and cleanup loops.
		{"controllers create pods", res(kcm, authed(), "create", "", "pods", "app", ""), true},
		{"controllers create replicasets", res(kcm, authed(), "create", "apps", "replicasets", "app", ""), true},
		{"controllers update deployment status", res(kcm, authed(), "update", "apps", "deployments/status", "app", "d"), true},
		{"controllers update job status", res(kcm, authed(), "update", "batch", "jobs/status", "app", "j"), true},
		{"controllers create endpointslices", res(kcm, authed(), "create", "discovery.k8s.io", "endpointslices", "app", ""), true},
		{"controllers create default serviceaccounts", res(kcm, authed(), "create", "", "serviceaccounts", "app", ""), true},
		{"controllers mark nodes unreachable", res(kcm, authed(), "patch", "", "nodes/status", "", "n1"), true},
		{"controllers finalize namespaces", res(kcm, authed(), "update", "", "namespaces/finalize", "app", "app"), true},
		{"garbage collector deletes any kind", res(kcm, authed(), "delete", "berth.io", "gitsources", "app", "g"), true},
		{"controllers create leases", res(kcm, authed(), "create", "coordination.k8s.io", "leases", "kube-system", ""), true},
		{"controllers may not create secrets", res(kcm, authed(), "create", "", "secrets", "app", ""), false},
		{"controllers may not mint tokens", res(kcm, authed(), "create", "", "serviceaccounts/token", "app", "default"), false},
		{"controllers may not impersonate", res(kcm, authed(), "impersonate", "", "users", "", "admin"), false},
		{"controllers may not escalate", res(kcm, authed(), "escalate", "rbac.authorization.k8s.io", "clusterroles", "", "x"), false},

		// Kubelets.
		{"node registers itself", res(node, nodes, "create", "", "nodes", "", ""), true},
		{"node reports its status", res(node, nodes, "patch", "", "nodes/status", "", "n1"), true},
		{"node watches pods", res(node, nodes, "watch", "", "pods", "", ""), true},
		{"node reports pod status", res(node, nodes, "update", "", "pods/status", "app", "p"), true},
		{"node finishes graceful deletion", res(node, nodes, "delete", "", "pods", "app", "p"), true},
		{"node evicts pods", res(node, nodes, "create", "", "pods/eviction", "app", "p"), true},
		{"node reads secrets", res(node, nodes, "get", "", "secrets", "app", "s"), true},
		{"node reads configmaps", res(node, nodes, "list", "", "configmaps", "", ""), true},
		{"node requests tokens", res(node, nodes, "create", "", "serviceaccounts/token", "app", "default"), true},
		{"node renews its lease", res(node, nodes, "update", "coordination.k8s.io", "leases", "kube-node-lease", "n1"), true},
		{"node lease only in kube-node-lease", res(node, nodes, "update", "coordination.k8s.io", "leases", "kube-system", "kube-scheduler"), false},
		{"node may not create pods", res(node, nodes, "create", "", "pods", "app", ""), false},
		{"node may not write secrets", res(node, nodes, "update", "", "secrets", "app", "s"), false},
		{"node may not delete nodes", res(node, nodes, "delete", "", "nodes", "", "n2"), false},

		// The proxy.
		{"proxy watches endpointslices", res(proxy, authed(), "watch", "discovery.k8s.io", "endpointslices", "", ""), true},
		{"proxy lists services", res(proxy, authed(), "list", "", "services", "", ""), true},
		{"proxy reads nodes", res(proxy, authed(), "get", "", "nodes", "", "n1"), true},
		{"proxy records events", res(proxy, authed(), "create", "", "events", "default", ""), true},
		{"proxy may not read secrets", res(proxy, authed(), "get", "", "secrets", "app", "s"), false},
		{"proxy may not list pods", res(proxy, authed(), "list", "", "pods", "", ""), false},

		// gitsync reads everything and writes through impersonation.
		{"gitsync reads secrets for drift", res(gitsync, authed(), "list", "", "secrets", "", ""), true},
		{"gitsync watches gitsources", res(gitsync, authed(), "watch", "berth.io", "gitsources", "", ""), true},
		{"gitsync reports status", res(gitsync, authed(), "update", "berth.io", "gitsources/status", "app", "g"), true},
		{"gitsync impersonates serviceaccounts", res(gitsync, authed(), "impersonate", "", "serviceaccounts", "app", "deployer"), true},
		{"gitsync holds its lease", res(gitsync, authed(), "get", "coordination.k8s.io", "leases", "berth-system", "berth-gitsync"), true},
		{"gitsync may not impersonate users", res(gitsync, authed(), "impersonate", "", "users", "", "admin"), false},
		{"gitsync may not impersonate groups", res(gitsync, authed(), "impersonate", "", "groups", "", "system:masters"), false},
		{"gitsync may not write with its own identity", res(gitsync, authed(), "create", "apps", "deployments", "app", ""), false},
		{"gitsync may not change a gitsource spec", res(gitsync, authed(), "update", "berth.io", "gitsources", "app", "g"), false},

		// Everyone, and no one.
		{"anonymous health", nonRes("system:anonymous", anonymous, "get", "/healthz"), true},
		{"anonymous version", nonRes("system:anonymous", anonymous, "get", "/version"), true},
		{"anonymous no discovery", nonRes("system:anonymous", anonymous, "get", "/api"), false},
		{"anonymous no resources", res("system:anonymous", anonymous, "list", "", "pods", "", ""), false},
		{"authenticated discovery", nonRes("someone", authed(), "get", "/apis/apps/v1"), true},
		{"authenticated openapi", nonRes("someone", authed(), "get", "/openapi/v3/apis/apps/v1"), true},
		{"authenticated may not post to discovery", nonRes("someone", authed(), "post", "/api"), false},
		{"authenticated can-i", res("someone", authed(), "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", ""), true},
		{"authenticated can-i --list", res("someone", authed(), "create", "authorization.k8s.io", "selfsubjectrulesreviews", "", ""), true},
		{"authenticated whoami", res("someone", authed(), "create", "authentication.k8s.io", "selfsubjectreviews", "", ""), true},
		{"authenticated nothing else", res("someone", authed(), "list", "", "namespaces", "", ""), false},
		{"masters anything", res("admin", []string{"system:masters", "system:authenticated"}, "delete", "", "nodes", "", "n1"), true},

		// view, edit and admin bound in one namespace.
		{"view reads pods", res("viewer", authed(), "get", "", "pods", "team-a", "p"), true},
		{"view reads logs", res("viewer", authed(), "get", "", "pods/log", "team-a", "p"), true},
		{"view reads deployments", res("viewer", authed(), "list", "apps", "deployments", "team-a", ""), true},
		{"view reads gitsources", res("viewer", authed(), "get", "berth.io", "gitsources", "team-a", "g"), true},
		{"view may not read secrets", res("viewer", authed(), "get", "", "secrets", "team-a", "s"), false},
		{"view may not write", res("viewer", authed(), "update", "", "pods", "team-a", "p"), false},
		{"view only in its namespace", res("viewer", authed(), "get", "", "pods", "team-b", "p"), false},
		{"edit writes secrets", res("editor", authed(), "create", "", "secrets", "team-a", ""), true},
		{"edit scales", res("editor", authed(), "update", "apps", "deployments/scale", "team-a", "d"), true},
		{"edit runs jobs", res("editor", authed(), "create", "batch", "jobs", "team-a", ""), true},
		{"edit impersonates serviceaccounts", res("editor", authed(), "impersonate", "", "serviceaccounts", "team-a", "default"), true},
		{"edit may not write endpointslices", res("editor", authed(), "create", "discovery.k8s.io", "endpointslices", "team-a", ""), false},
		{"edit may not read rbac", res("editor", authed(), "list", "rbac.authorization.k8s.io", "rolebindings", "team-a", ""), false},
		{"admin reads rbac", res("owner", authed(), "list", "rbac.authorization.k8s.io", "rolebindings", "team-a", ""), true},
		{"admin reviews access", res("owner", authed(), "create", "authorization.k8s.io", "localsubjectaccessreviews", "team-a", ""), true},
		{"admin writes workloads", res("owner", authed(), "delete", "apps", "deployments", "team-a", "d"), true},
		{"admin may not write rbac", res("owner", authed(), "create", "rbac.authorization.k8s.io", "roles", "team-a", ""), false},
		{"admin only in its namespace", res("owner", authed(), "delete", "apps", "deployments", "team-b", "d"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, reason := az.Authorize(tt.attrs); got != tt.want {
				t.Errorf("Authorize(%+v) = %v (%s), want %v", tt.attrs, got, reason, tt.want)
			}
		})
	}
}
