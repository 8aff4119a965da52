package policies

import (
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
)

const testPolicy = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: pod-reader}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: status-writer}
rules:
- {apiGroups: [""], resources: [pods/status], verbs: [update, patch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: scaler}
rules:
- {apiGroups: [apps], resources: ["*/scale"], verbs: [update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: apps-reader}
rules:
- {apiGroups: [apps], resources: ["*"], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: configmap-anything}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: ["*"]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: app-config}
rules:
- {apiGroups: [""], resources: [configmaps], resourceNames: [app-config], verbs: [get, update]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: any-group}
rules:
- {apiGroups: ["*"], resources: [leases], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: health}
rules:
- {nonResourceURLs: [/healthz, /logs/*], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: secret-reader, namespace: team-a}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-secrets, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: secret-reader}
subjects: [{kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs-pods, namespace: team-a}
roleRef: {kind: ClusterRole, name: pod-reader}
subjects: [{kind: Group, name: devs}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: builder-pods, namespace: team-a}
roleRef: {kind: ClusterRole, name: pod-reader}
subjects: [{kind: ServiceAccount, name: builder}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: frank-health, namespace: team-a}
roleRef: {kind: ClusterRole, name: health}
subjects: [{kind: User, name: frank}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ctrl-status}
roleRef: {kind: ClusterRole, name: status-writer}
subjects: [{kind: ServiceAccount, name: ctrl, namespace: kube-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: scalers}
roleRef: {kind: ClusterRole, name: scaler}
subjects: [{kind: User, name: scaler}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: erin-apps}
roleRef: {kind: ClusterRole, name: apps-reader}
subjects: [{kind: User, name: erin}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: dave-configmaps}
roleRef: {kind: ClusterRole, name: configmap-anything}
subjects: [{kind: User, name: dave}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: carol-app-config}
roleRef: {kind: ClusterRole, name: app-config}
subjects: [{kind: User, name: carol}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: gina-leases}
roleRef: {kind: ClusterRole, name: any-group}
subjects: [{kind: User, name: gina}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: authenticated-health}
roleRef: {kind: ClusterRole, name: health}
subjects: [{kind: Group, name: system:authenticated}]
`

// res is a resource request by user (with groups) for verb on
// group/resource[/subresource] in namespace ns, object name.
func res(user string, groups []string, verb, group, resource, ns, name string) Attributes {
	resource, sub, _ := strings.Cut(resource, "/")
	return Attributes{User: user, Groups: groups, Verb: verb, APIGroup: group, Resource: resource,
		Subresource: sub, Namespace: ns, Name: name, ResourceRequest: true}
}

// nonRes is a non-resource request.
func nonRes(user string, groups []string, verb, p string) Attributes {
	return Attributes{User: user, Groups: groups, Verb: verb, Path: p}
}

func TestAuthorize(t *testing.T) {
	az := NewAuthorizer(mustLoad(t, map[string]string{"policy.yaml": testPolicy}))
	authed := []string{"system:authenticated"}
	devs := []string{"devs", "system:authenticated"}
	const builderA, builderB = "system:serviceaccount:team-a:builder", "system:serviceaccount:team-b:builder"
	const ctrl = "system:serviceaccount:kube-system:ctrl"
	tests := []struct {
		name  string
		attrs Attributes
		want  bool
	}{
		{"Role in its namespace", res("alice", authed, "get", "", "secrets", "team-a", "s"), true},
		{"Role not in another namespace", res("alice", authed, "get", "", "secrets", "team-b", "s"), false},
		{"Role not cluster-wide", res("alice", authed, "get", "", "secrets", "", ""), false},
		{"Role verb not granted", res("alice", authed, "list", "", "secrets", "team-a", ""), false},
		{"RoleBinding to ClusterRole, group, in its namespace", res("bob", devs, "list", "", "pods", "team-a", ""), true},
		{"RoleBinding to ClusterRole not in another namespace", res("bob", devs, "list", "", "pods", "team-b", ""), false},
		{"RoleBinding to ClusterRole not across namespaces", res("bob", devs, "list", "", "pods", "", ""), false},
		{"resource does not grant its subresources", res("bob", devs, "get", "", "pods/log", "team-a", "p"), false},
		{"group not a member of", res("bob", authed, "list", "", "pods", "team-a", ""), false},
		{"ServiceAccount subject defaults to the binding namespace", res(builderA, nil, "watch", "", "pods", "team-a", ""), true},
		{"ServiceAccount of another namespace", res(builderB, nil, "watch", "", "pods", "team-a", ""), false},
		{"user named like the ServiceAccount", res("builder", nil, "watch", "", "pods", "team-a", ""), false},
		{"ClusterRoleBinding ServiceAccount, subresource anywhere", res(ctrl, nil, "update", "", "pods/status", "team-z", "p"), true},
		{"subresource does not grant its resource", res(ctrl, nil, "update", "", "pods", "team-z", "p"), false},
		{"*/scale matches deployments/scale", res("scaler", nil, "update", "apps", "deployments/scale", "x", "d"), true},
		{"*/scale matches replicasets/scale", res("scaler", nil, "update", "apps", "replicasets/scale", "x", "r"), true},
		{"*/scale does not match the resource", res("scaler", nil, "update", "apps", "deployments", "x", "d"), false},
		{"*/scale only in its API group", res("scaler", nil, "update", "", "replicationcontrollers/scale", "x", "r"), false},
		{"* matches resources", res("erin", nil, "get", "apps", "deployments", "x", "d"), true},
		{"* matches subresources", res("erin", nil, "get", "apps", "deployments/status", "x", "d"), true},
		{"* only in its API group", res("erin", nil, "get", "", "pods", "x", "p"), false},
		{"apiGroups * matches any group", res("gina", nil, "get", "coordination.k8s.io", "leases", "x", "l"), true},
		{"apiGroups * matches core", res("gina", nil, "get", "", "leases", "x", "l"), true},
		{"verbs * matches any verb", res("dave", nil, "deletecollection", "", "configmaps", "x", ""), true},
		{"verbs * only on its resources", res("dave", nil, "get", "", "secrets", "x", "s"), false},
		{"resourceNames allow the named object", res("carol", nil, "update", "", "configmaps", "x", "app-config"), true},
		{"resourceNames deny other objects", res("carol", nil, "get", "", "configmaps", "x", "other"), false},
		{"resourceNames deny list", res("carol", nil, "list", "", "configmaps", "x", ""), false},
		{"nonResourceURL exact", nonRes("someone", authed, "get", "/healthz"), true},
		{"nonResourceURL exact is not a prefix", nonRes("someone", authed, "get", "/healthz/etcd"), false},
		{"nonResourceURL prefix", nonRes("someone", authed, "get", "/logs/kubelet.log"), true},
		{"nonResourceURL prefix keeps its slash", nonRes("someone", authed, "get", "/logs"), false},
		{"nonResourceURL verb", nonRes("someone", authed, "post", "/healthz"), false},
		{"nonResourceURL for other groups", nonRes("system:anonymous", []string{"system:unauthenticated"}, "get", "/healthz"), false},
		{"nonResourceURL not granted by a RoleBinding", nonRes("frank", nil, "get", "/healthz"), false},
		{"nonResource rule does not match resources", res("someone", authed, "get", "", "healthz", "", ""), false},
		{"system:masters may do anything", res("root", []string{"system:masters"}, "escalate", "rbac.authorization.k8s.io", "clusterroles", "", "x"), true},
		{"system:masters any path", nonRes("root", []string{"system:masters"}, "delete", "/anything"), true},
		{"unknown user", res("mallory", nil, "get", "", "pods", "team-a", "p"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := az.Authorize(tt.attrs)
			if got != tt.want {
				t.Fatalf("Authorize(%+v) = %v (%s), want %v", tt.attrs, got, reason, tt.want)
			}
			if !got && reason != DeniedReason {
				t.Errorf("denied with reason %q, want %q", reason, DeniedReason)
			}
		})
	}
}

func TestAuthorizeReasonNamesTheBinding(t *testing.T) {
	az := NewAuthorizer(mustLoad(t, map[string]string{"policy.yaml": testPolicy}))
	for _, tt := range []struct {
		attrs Attributes
		want  string
	}{
		{res("alice", nil, "get", "", "secrets", "team-a", "s"), `RBAC: allowed by RoleBinding "team-a/alice-secrets" of Role "secret-reader" to User "alice"`},
		{res("system:serviceaccount:team-a:builder", nil, "get", "", "pods", "team-a", "p"), `RBAC: allowed by RoleBinding "team-a/builder-pods" of ClusterRole "pod-reader" to ServiceAccount "team-a/builder"`},
		{nonRes("x", []string{"system:authenticated"}, "get", "/healthz"), `RBAC: allowed by ClusterRoleBinding "authenticated-health" of ClusterRole "health" to Group "system:authenticated"`},
	} {
		if _, reason := az.Authorize(tt.attrs); reason != tt.want {
			t.Errorf("reason = %q, want %q", reason, tt.want)
		}
	}
}

func TestAuthorizeMissingRoleGrantsNothing(t *testing.T) {
	set := mustLoad(t, map[string]string{"b.yaml": `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: dangling}
roleRef: {kind: ClusterRole, name: not-there}
subjects: [{kind: User, name: alice}]
`})
	if ok, _ := NewAuthorizer(set).Authorize(res("alice", nil, "get", "", "pods", "x", "p")); ok {
		t.Error("a binding to a missing role allowed a request")
	}
}

func TestRulesFor(t *testing.T) {
	az := NewAuthorizer(mustLoad(t, map[string]string{"policy.yaml": testPolicy}))
	tests := []struct {
		name       string
		user       string
		groups     []string
		namespace  string
		wantRes    []string // "verbs apiGroups resources resourceNames"
		wantNonRes []string // "verbs urls"
	}{
		{
			name: "RoleBindings of the namespace and ClusterRoleBindings", user: "alice",
			groups: []string{"devs", "system:authenticated"}, namespace: "team-a",
			wantRes:    []string{"get  secrets ", "get,list,watch  pods "},
			wantNonRes: []string{"get /healthz,/logs/*"},
		},
		{
			name: "another namespace", user: "alice",
			groups: []string{"devs", "system:authenticated"}, namespace: "team-b",
			wantNonRes: []string{"get /healthz,/logs/*"},
		},
		{
			name: "a ClusterRole bound by a RoleBinding grants no paths", user: "frank", namespace: "team-a",
		},
		{
			name: "resource names", user: "carol", namespace: "x",
			wantRes: []string{"get,update  configmaps app-config"},
		},
		{
			name: "system:masters", user: "root", groups: []string{"system:masters"},
			wantRes: []string{"* * * "}, wantNonRes: []string{"* *"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotRes, gotNonRes := az.RulesFor(tt.user, tt.groups, tt.namespace)
			var res, nonRes []string
			for _, r := range gotRes {
				res = append(res, strings.Join([]string{join(r.Verbs), join(r.APIGroups), join(r.Resources), join(r.ResourceNames)}, " "))
			}
			for _, r := range gotNonRes {
				nonRes = append(nonRes, join(r.Verbs)+" "+join(r.NonResourceURLs))
			}
			if !slices.Equal(res, tt.wantRes) || !slices.Equal(nonRes, tt.wantNonRes) {
				t.Errorf("RulesFor = %q %q, want %q %q", res, nonRes, tt.wantRes, tt.wantNonRes)
			}
		})
	}
}

func TestRulesForAreTheCallers(t *testing.T) {
	az := NewAuthorizer(mustLoad(t, map[string]string{"policy.yaml": testPolicy}))
	rules, _ := az.RulesFor("alice", nil, "team-a")
	rules[0].Verbs[0] = "delete"
	var again []authorizationv1.ResourceRule
	again, _ = az.RulesFor("alice", nil, "team-a")
	if again[0].Verbs[0] != "get" {
		t.Error("modifying RulesFor's result changed the policy")
	}
}

func join(s []string) string { return strings.Join(s, ",") }
