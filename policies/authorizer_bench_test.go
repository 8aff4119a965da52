package policies

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// benchSources are the bootstrap policy plus 500 namespaces, each with
// view, edit and admin RoleBindings to a group and a user, and a
// deployer ServiceAccount with a Role of its own.
func benchSources() []Source {
	var text strings.Builder
	for i := range 500 {
		ns := fmt.Sprintf("team-%d", i)
		for _, r := range []string{"view", "edit", "admin"} {
			fmt.Fprintf(&text, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: %s, namespace: %s}\n"+
				"roleRef: {kind: ClusterRole, name: %s}\nsubjects: [{kind: Group, name: %s-%s}, {kind: User, name: %s-%s}]\n", r, ns, r, ns, r, ns, r)
		}
		fmt.Fprintf(&text, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: deployer, namespace: %s}\n"+
			"rules: [{apiGroups: [apps], resources: [deployments], verbs: [get, update, patch]}]\n", ns)
		fmt.Fprintf(&text, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: deployer, namespace: %s}\n"+
			"roleRef: {kind: Role, name: deployer}\nsubjects: [{kind: ServiceAccount, name: deployer}]\n", ns)
	}
	return []Source{Bootstrap(), {Name: "bench", FS: fstest.MapFS{"teams.yaml": {Data: []byte(text.String())}}}}
}

func benchSet(b *testing.B) *Set {
	set, err := LoadSources(benchSources()...)
	if err != nil {
		b.Fatal(err)
	}
	return set
}

func BenchmarkAuthorize(b *testing.B) {
	az := NewAuthorizer(benchSet(b))
	authed := []string{"system:authenticated"}
	cases := []struct {
		name  string
		attrs Attributes
		want  bool
	}{
		{"masters", res("admin", []string{"system:masters", "system:authenticated"}, "list", "", "pods", "", ""), true},
		{"node/ClusterRoleBinding", res("system:node:n1", []string{"system:nodes", "system:authenticated"}, "get", "", "secrets", "team-7", "s"), true},
		{"scheduler/subresource", res("system:kube-scheduler", authed, "create", "", "pods/binding", "team-7", "p"), true},
		{"group/RoleBinding", res("jo", []string{"team-250-edit", "system:authenticated"}, "update", "apps", "deployments/scale", "team-250", "d"), true},
		{"serviceaccount/Role", res("system:serviceaccount:team-499:deployer", []string{"system:serviceaccounts", "system:serviceaccounts:team-499", "system:authenticated"}, "patch", "apps", "deployments", "team-499", "d"), true},
		{"discovery", nonRes("jo", authed, "get", "/apis/apps/v1"), true},
		{"denied/other namespace", res("jo", []string{"team-250-edit", "team-3-view", "team-9-admin", "system:authenticated"}, "delete", "", "pods", "team-400", "p"), false},
		{"denied/anonymous", res("system:anonymous", []string{"system:unauthenticated"}, "list", "", "secrets", "", ""), false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if ok, reason := az.Authorize(c.attrs); ok != c.want {
				b.Fatalf("Authorize = %v (%s), want %v", ok, reason, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				az.Authorize(c.attrs)
			}
		})
	}
}

// BenchmarkNewAuthorizer is the indexing part of a reload of the bench
// policy (2,500 RoleBindings).
func BenchmarkNewAuthorizer(b *testing.B) {
	set := benchSet(b)
	b.ReportAllocs()
	for b.Loop() {
		NewAuthorizer(set)
	}
}

// BenchmarkLoad is the reading, decoding and validating part of a reload of
// the bench policy.
func BenchmarkLoad(b *testing.B) {
	sources := benchSources()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := LoadSources(sources...); err != nil {
			b.Fatal(err)
		}
	}
}
