package policies

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	rbacv1 "k8s.io/api/rbac/v1"
)

// loadProblems loads dir and returns its errors as strings with dir
// stripped from the file names.
func loadProblems(t *testing.T, dir string) []string {
	t.Helper()
	_, err := Load(dir)
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load = %v, want a *LoadError", err)
	}
	var out []string
	for _, p := range le.Problems {
		out = append(out, strings.TrimPrefix(p.String(), dir+string(filepath.Separator)))
	}
	return out
}

func TestLoadErrorsNameFileLineObjectAndField(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string
	}{
		{
			name: "malformed YAML",
			file: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: x\nrules:\n- verbs: [get\n",
			want: []string{`p.yaml:6: invalid YAML: did not find expected ',' or ']'`},
		},
		{
			name: "bad indentation in the second document",
			file: "kind: ClusterRole\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: x\n labels: {}\n",
			want: []string{
				`p.yaml:1: apiVersion: Unsupported value: "": supported values: "rbac.authorization.k8s.io/v1" (a policy directory holds only RBAC objects)`,
				`p.yaml:7: invalid YAML: did not find expected key`,
			},
		},
		{
			name: "duplicate key",
			file: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: x\n  name: y\n",
			want: []string{`p.yaml:5: invalid YAML: key "name" already set in map`},
		},
		{
			name: "unknown field, in the second document",
			file: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ok}
---
# a comment
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: typo
  lables: {a: b}
rules:
- apiGroups: [""]
  resources: [pods]
  verb: [get]
`,
			want: []string{
				`p.yaml:10: ClusterRole "typo": metadata.lables: unknown field`,
				`p.yaml:14: ClusterRole "typo": rules[0].verb: unknown field`,
			},
		},
		{
			name: "wrong type",
			file: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\nrules:\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get]\n- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: get\n",
			want: []string{`p.yaml:10: ClusterRole "x": rules.verbs: must be a list, not string`},
		},
		{
			name: "YAML 1.1 boolean where a string belongs",
			file: "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: ClusterRole, name: view}\nsubjects:\n- {kind: User, name: u}\n- {kind: ServiceAccount, name: s, namespace: no}\n",
			want: []string{`p.yaml:7: ClusterRoleBinding "b": subjects.namespace: must be a string, not bool (quote values such as "n", "no", "on" or "off", which YAML reads as booleans)`},
		},
		{
			name: "not an RBAC kind",
			file: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Rolebinding\nmetadata: {name: x}\n",
			want: []string{
				`p.yaml:1: apiVersion: Unsupported value: "v1": supported values: "rbac.authorization.k8s.io/v1" (a policy directory holds only RBAC objects)`,
				`p.yaml:6: kind: Unsupported value: "Rolebinding": supported values: "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"`,
			},
		},
		{
			name: "not an object",
			file: "- a\n- b\n",
			want: []string{`p.yaml:1: a document must be an object with apiVersion and kind, found a list`},
		},
		{
			name: "invalid roles",
			file: `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: no-namespace
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: []
- nonResourceURLs: [/healthz]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: bad/name
  namespace: default
rules:
- resources: [pods]
  verbs: [get]
- apiGroups: [""]
  resources: [pods]
  nonResourceURLs: [/x]
  verbs: [get]
`,
			want: []string{
				`p.yaml:3: Role "no-namespace": metadata.namespace: Required value`,
				`p.yaml:8: Role "no-namespace": rules[0].verbs: Required value: verbs must contain at least one value`,
				`p.yaml:9: Role "no-namespace": rules[1].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs`,
				`p.yaml:15: ClusterRole "default/bad/name": metadata.name: Invalid value: "bad/name": may not contain '/'`,
				`p.yaml:16: ClusterRole "default/bad/name": metadata.namespace: Forbidden: not allowed on this type`,
				`p.yaml:18: ClusterRole "default/bad/name": rules[0].apiGroups: Required value: resource rules must supply at least one api group`,
				`p.yaml:22: ClusterRole "default/bad/name": rules[1].nonResourceURLs: Invalid value: ["/x"]: rules cannot apply to both regular resources and non-resource URLs`,
			},
		},
		{
			name: "invalid bindings",
			file: `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef:
  apiGroup: example.com
  kind: Role
  name: reader
subjects:
- kind: ServiceAccount
  name: builder
- kind: Robot
  name: r2
- kind: User
- kind: Group
  apiGroup: example.com
  name: devs
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: team-a}
roleRef: {kind: ClusterRole}
subjects:
- {kind: ServiceAccount, name: Not_Valid}
`,
			want: []string{
				`p.yaml:5: ClusterRoleBinding "crb": roleRef.apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"`,
				`p.yaml:6: ClusterRoleBinding "crb": roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`,
				`p.yaml:9: ClusterRoleBinding "crb": subjects[0].namespace: Required value: a ServiceAccount subject of a ClusterRoleBinding needs a namespace`,
				`p.yaml:11: ClusterRoleBinding "crb": subjects[1].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group"`,
				`p.yaml:13: ClusterRoleBinding "crb": subjects[2].name: Required value`,
				`p.yaml:15: ClusterRoleBinding "crb": subjects[3].apiGroup: Unsupported value: "example.com": supported values: "rbac.authorization.k8s.io"`,
				`p.yaml:21: RoleBinding "team-a/rb": roleRef.name: Required value`,
				`p.yaml:23: RoleBinding "team-a/rb": subjects[0].name: Invalid value: "Not_Valid": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"p.yaml": tt.file})
			got := loadProblems(t, dir)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestLoadCollectsErrorsOfEveryFile(t *testing.T) {
	dir := t.TempDir()
	role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n"
	writeFiles(t, dir, map[string]string{
		"a.yaml":          role,
		"b/nested.yml":    "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n",
		"c/deeper/x.json": `{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",` + "\n" + ` "metadata": {"name": "reader"}}`,
		"d.yaml":          "# comment only\n---\n---\n" + role,
	})
	want := []string{
		`b/nested.yml:3: Role "r": metadata.namespace: Required value`,
		`c/deeper/x.json:2: ClusterRole "reader": metadata.name: duplicate: already defined at ` + filepath.Join(dir, "a.yaml") + `:1`,
		`d.yaml:7: ClusterRole "reader": metadata.name: duplicate: already defined at ` + filepath.Join(dir, "a.yaml") + `:1`,
	}
	if got := loadProblems(t, dir); !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestLoadReadsPolicyFilesOnlyInOrder(t *testing.T) {
	dir := t.TempDir()
	role := func(name string) string {
		return "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: " + name + "}\n"
	}
	writeFiles(t, dir, map[string]string{
		"z.yaml":              role("z"),
		"a/b.YML":             role("b") + "---\n" + role("a"),
		"c.json":              `{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c"}}`,
		"README.md":           "not: [yaml",
		"notes.txt":           "not: [yaml",
		".hidden.yaml":        "not: [yaml",
		".git/config.yaml":    "not: [yaml",
		"..2024_01_01/x.yaml": "not: [yaml",
		"empty.yaml":          "",
	})
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cr := range set.ClusterRoles {
		names = append(names, cr.Name+"@"+strings.TrimPrefix(cr.Annotations[SourceAnnotation], dir+"/"))
	}
	want := []string{"a@a/b.YML:5", "b@a/b.YML:1", "c@c.json:1", "z@z.yaml:1"}
	if !slices.Equal(names, want) {
		t.Errorf("ClusterRoles = %q, want %q", names, want)
	}
}

func TestLoadFollowsFileSymlinks(t *testing.T) {
	// A mounted ConfigMap: files are links into a hidden, versioned
	// directory, which is not read twice.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"..v1/r.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n"})
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "r.yaml"), filepath.Join(dir, "r.yaml")); err != nil {
		t.Fatal(err)
	}
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.ClusterRoles) != 1 || set.ClusterRoles[0].Name != "r" {
		t.Errorf("ClusterRoles = %v, want just r", set.ClusterRoles)
	}
}

func TestLoadMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	want := []string{dir + ": cannot read: no such file or directory"}
	_, err := Load(dir)
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) != 1 || le.Problems[0].String() != want[0] {
		t.Errorf("Load(missing) = %v, want %q", err, want)
	}
}

func TestLoadWarnings(t *testing.T) {
	set := mustLoad(t, map[string]string{"w.yaml": `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: team-a}
roleRef:
  kind: Role
  name: missing
subjects: [{kind: Group, name: devs}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
rules:
- apiGroups: [""]
  resources: [pods, pods/*]
  verbs: [get]
- nonResourceURLs: [healthz, /logs/*/x]
  verbs: [get]
`})
	var got []string
	for _, w := range set.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		`test/w.yaml:14: ClusterRole "r": rules[0].resources[1]: Invalid value: "pods/*": matches no request: only "*" and "*/<subresource>" are wildcards; list subresources such as "pods/status" one by one`,
		`test/w.yaml:16: ClusterRole "r": rules[1].nonResourceURLs[0]: Invalid value: "healthz": matches no request: a non-resource URL is a path starting with "/", optionally ending in "*"`,
		`test/w.yaml:16: ClusterRole "r": rules[1].nonResourceURLs[1]: Invalid value: "/logs/*/x": matches no request: a non-resource URL is a path starting with "/", optionally ending in "*"`,
		`test/w.yaml:6: RoleBinding "team-a/rb": roleRef.name: Role "team-a/missing" not found; the binding grants nothing until it exists`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestLoadDefaultsAPIGroups(t *testing.T) {
	set := mustLoad(t, map[string]string{"b.yaml": `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {kind: ClusterRole, name: view}
subjects:
- {kind: User, name: u}
- {kind: Group, name: g}
- {kind: ServiceAccount, name: s, namespace: ns}
`})
	b := set.ClusterRoleBindings[0]
	if b.RoleRef.APIGroup != rbacv1.GroupName {
		t.Errorf("roleRef.apiGroup = %q", b.RoleRef.APIGroup)
	}
	for i, want := range []string{rbacv1.GroupName, rbacv1.GroupName, ""} {
		if b.Subjects[i].APIGroup != want {
			t.Errorf("subjects[%d].apiGroup = %q, want %q", i, b.Subjects[i].APIGroup, want)
		}
	}
}

func TestLoadAggregatesClusterRoles(t *testing.T) {
	set := mustLoad(t, map[string]string{"agg.yaml": `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {aggregate-to-monitoring: "true"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: metrics-reader
  labels: {aggregate-to-monitoring: "true"}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {aggregate-to-metrics: "true"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: pod-metrics
  labels: {aggregate-to-metrics: "true"}
rules:
- {apiGroups: [metrics.k8s.io], resources: [pods], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: logs
  labels: {aggregate-to-monitoring: "true"}
rules:
- {apiGroups: [""], resources: [pods/log], verbs: [get]}
- {apiGroups: [metrics.k8s.io], resources: [pods], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: monitoring}
roleRef: {kind: ClusterRole, name: monitoring}
subjects: [{kind: User, name: prometheus}]
`})
	az := NewAuthorizer(set)
	for _, resource := range []string{"pods/log", "metrics.k8s.io:pods"} {
		group, r, ok := strings.Cut(resource, ":")
		if !ok {
			group, r = "", resource
		}
		if allowed, _ := az.Authorize(res("prometheus", nil, "get", group, r, "x", "p")); !allowed {
			t.Errorf("aggregated role does not allow get %s", resource)
		}
	}
	var monitoring *rbacv1.ClusterRole
	for _, cr := range set.ClusterRoles {
		if cr.Name == "monitoring" {
			monitoring = cr
		}
	}
	if len(monitoring.Rules) != 2 {
		t.Errorf("monitoring has %d rules, want 2 (deduplicated): %v", len(monitoring.Rules), monitoring.Rules)
	}
}

func TestLoadRejectsRedefiningABootstrapRole(t *testing.T) {
	user := Source{Name: "user", FS: fstest.MapFS{"view.yaml": {Data: []byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: view}\n")}}}
	_, err := LoadSources(Bootstrap(), user)
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) != 1 ||
		!strings.HasPrefix(le.Problems[0].String(), `user/view.yaml:3: ClusterRole "view": metadata.name: duplicate: already defined at (builtin)/view.yaml:`) {
		t.Errorf("LoadSources = %v, want a duplicate error naming the builtin file", err)
	}
}
