package yamlpath

import (
	"fmt"
	"reflect"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Segment
	}{
		{"", nil},
		{"spec.replicas", []Segment{Key("spec"), Key("replicas")}},
		{"rules[0].verbs", []Segment{Key("rules"), {Index: 0}, Key("verbs")}},
		{"spec.containers[12].ports[0]", []Segment{Key("spec"), Key("containers"), {Index: 12}, Key("ports"), {Index: 0}}},
		{"metadata.labels[app.kubernetes.io/name]", []Segment{Key("metadata"), Key("labels"), Key("app.kubernetes.io/name")}},
		{"a[-1]", []Segment{Key("a"), Key("-1")}},
		{"a[unclosed", []Segment{Key("a"), Key("unclosed")}},
		{".a..b.", []Segment{Key("a"), Key("b")}},
	} {
		if got := Parse(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

const doc = `metadata:
  name: x
  labels:
    app.kubernetes.io/name: web
rules:
- verbs: [get]
- resources: [pods]
  verbs: get
- verbs: list
base: &base
  image: nginx
  ports: {http: 80, admin: "x"}
merged:
  <<: *base
  name: m
alias: *base
`

// mark is where Locate or LocateFound points, as "line:column".
func mark(n *yamlv3.Node) string { return fmt.Sprintf("%d:%d", n.Line, n.Column) }

func root(t *testing.T) *yamlv3.Node {
	t.Helper()
	var n yamlv3.Node
	if err := yamlv3.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	return n.Content[0]
}

func TestLocate(t *testing.T) {
	n := root(t)
	for _, tc := range []struct {
		path string
		want string
	}{
		{"", "1:1"},
		{"metadata.name", "2:3"},
		{"metadata.labels[app.kubernetes.io/name]", "4:5"},
		{"rules[1].verbs", "8:3"},
		{"rules[1]", "7:3"},
		{"rules[7].verbs", "5:1"},                // no such element: the list's key
		{"metadata.namespace", "1:1"},            // missing: the parent's key
		{"rules.resources", "7:3"},               // a key applied to a list: the first element that has it
		{"merged.image", "11:3"},                 // from the merged mapping
		{"merged.name", "15:3"},                  // its own key
		{"alias.ports", "12:3"},                  // through the alias
		{"metadata.name.first", "2:3"},           // below a scalar: the scalar's key
		{"rules.missing.deeper", "5:1"},          // in no element: the list's key
		{"base.ports[admin]", "12:21"},           // a map key in brackets
		{"spec.template.spec.containers", "1:1"}, // nothing of it: the top
	} {
		if got := mark(Locate(n, Parse(tc.path), n)); got != tc.want {
			t.Errorf("Locate(%q) = %s, want %s", tc.path, got, tc.want)
		}
	}
}

func TestLocateFound(t *testing.T) {
	n := root(t)
	kind := func(k yamlv3.Kind) func(*yamlv3.Node) bool {
		return func(n *yamlv3.Node) bool { return n.Kind == k }
	}
	isString := func(n *yamlv3.Node) bool { return n.Kind == yamlv3.ScalarNode && n.Tag == "!!str" }
	for _, tc := range []struct {
		name  string
		path  string
		want  func(*yamlv3.Node) bool
		mark  string
		found bool
	}{
		{"no want", "metadata.name", nil, "2:3", true},
		{"first element want accepts", "rules.verbs", kind(yamlv3.ScalarNode), "8:3", true},
		{"else the first that has the field", "rules.verbs", kind(yamlv3.MappingNode), "6:3", false},
		{"missing everywhere", "rules.nothing", nil, "5:1", false},
		{"a map names the key whose value want accepts", "base.ports", isString, "12:21", true},
		{"a map none of whose values want accepts", "base.ports", kind(yamlv3.SequenceNode), "12:3", false},
		{"a merged key only when want accepts it", "merged.image", kind(yamlv3.MappingNode), "13:1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, found := LocateFound(n, Parse(tc.path), n, tc.want)
			if mark(m) != tc.mark || found != tc.found {
				t.Errorf("LocateFound(%q) = %s, %v; want %s, %v", tc.path, mark(m), found, tc.mark, tc.found)
			}
		})
	}
}

// A key applied to a list prefers an element where the field is present
// but rejected over an earlier element that has only part of the path.
func TestLocateFoundPrefersRejectedOverPartial(t *testing.T) {
	var d yamlv3.Node
	if err := yamlv3.Unmarshal([]byte("- a: {}\n- a: {b: 1}\n"), &d); err != nil {
		t.Fatal(err)
	}
	n := d.Content[0]
	reject := func(*yamlv3.Node) bool { return false }
	m, found := LocateFound(n, Parse("a.b"), n, reject)
	if mark(m) != "2:7" || found {
		t.Errorf("LocateFound = %s, %v; want 2:7, false", mark(m), found)
	}
	if m := Locate(n, Parse("a.c"), n); mark(m) != "1:3" {
		t.Errorf("Locate(a.c) = %s, want 1:3 (the first element's a)", mark(m))
	}
}

func TestDeref(t *testing.T) {
	n := root(t)
	alias := n.Content[len(n.Content)-1]
	if alias.Kind != yamlv3.AliasNode {
		t.Fatalf("last value is %v, want an alias", alias.Kind)
	}
	if got := Deref(alias); got.Kind != yamlv3.MappingNode || got.Line != 10 {
		t.Errorf("Deref = kind %v line %d, want the mapping anchored at line 10", got.Kind, got.Line)
	}
	if got := Deref(n); got != n {
		t.Errorf("Deref of a non-alias is not the node itself")
	}
}

func TestYAML11Bool(t *testing.T) {
	for _, tc := range []struct {
		in        string
		value, ok bool
	}{
		{"yes", true, true}, {"Y", true, true}, {"ON", true, true}, {"On", true, true},
		{"no", false, true}, {"N", false, true}, {"off", false, true}, {"OFF", false, true},
		{"true", false, false}, {"yEs", false, false}, {"", false, false}, {"nope", false, false},
	} {
		if v, ok := YAML11Bool(tc.in); v != tc.value || ok != tc.ok {
			t.Errorf("YAML11Bool(%q) = %v, %v; want %v, %v", tc.in, v, ok, tc.value, tc.ok)
		}
	}
}

func TestTypeWord(t *testing.T) {
	for _, tc := range []struct {
		t    reflect.Type
		want string
	}{
		{nil, "a value"},
		{reflect.TypeFor[[]string](), "a list"},
		{reflect.TypeFor[[2]int](), "a list"},
		{reflect.TypeFor[map[string]string](), "an object"},
		{reflect.TypeFor[struct{ A int }](), "an object"},
		{reflect.TypeFor[string](), "a string"},
		{reflect.TypeFor[bool](), "a boolean"},
		{reflect.TypeFor[int32](), "an integer"},
		{reflect.TypeFor[uint8](), "an integer"},
		{reflect.TypeFor[float64](), "a number"},
		{reflect.TypeFor[*int64](), "an integer"},
		{reflect.TypeFor[resource.Quantity](), "a number or a string"},
		{reflect.TypeFor[intstr.IntOrString](), "a number or a string"},
		{reflect.TypeFor[*metav1.Time](), "a timestamp string"},
		{reflect.TypeFor[metav1.MicroTime](), "a timestamp string"},
		{reflect.TypeFor[func()](), "a func()"},
	} {
		if got := TypeWord(tc.t); got != tc.want {
			t.Errorf("TypeWord(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
}
