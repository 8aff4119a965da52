package apiserver

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestPlainJSONIsReadAsYAMLWouldBe: an applied configuration plainJSON
// takes as its own JSON form decodes to the very object its YAML reading
// gives; what YAML would read differently (integral floats, escapes, tabs,
// non-ASCII, keys given twice) or is not a JSON object goes the YAML way.
func TestPlainJSONIsReadAsYAMLWouldBe(t *testing.T) {
	var pod bytes.Buffer
	enc := json.NewEncoder(&pod)
	enc.SetEscapeHTML(false) // as clients send it: "&" itself, not \u0026
	err := enc.Encode(&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web", "on": "yes"}, Annotations: map[string]string{"n": "1", "empty": ""}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27", Args: []string{"--a=b: c", "# not a comment", "&anchor", "*alias", "null", "true", "0x10", "1e3"},
			Ports:     []corev1.ContainerPort{{ContainerPort: 8080}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1.5")}}}},
			ActiveDeadlineSeconds: new(int64(-9223372036854775808))}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		body  string
		plain bool
	}{
		{"gitsync ConfigMap", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"app-0001-env","namespace":"bench-apps-1","labels":{"berth.io/source":"bench"}},"data":{"key":"value"}}`, true},
		{"gitsync Deployment", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"a","namespace":"n"},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"app","image":"r/a:v1","envFrom":[{"configMapRef":{"name":"a-env"}}]}]}}}}`, true},
		{"pod", pod.String(), true},
		{"whitespace and nulls", "\r\n {\n  \"apiVersion\": \"v1\", \"kind\": \"ConfigMap\",\r\n  \"metadata\": {\"name\": \"x\", \"labels\": null}, \"data\": {}, \"binaryData\": null, \"immutable\": false\n}\n", true},
		{"integral float", `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":1.0}}`, false},
		{"exponent", `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":1e1}}`, false},
		{"fraction", `{"apiVersion":"v1","kind":"X","spec":{"f":0.5}}`, false},
		{"beyond int64", `{"apiVersion":"v1","kind":"X","spec":{"f":18446744073709551616}}`, false},
		{"escaped slash", `{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"x\/y"}}`, false},
		{"unicode escape", `{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"\ud83d\ude00"}}`, false},
		{"tab", "{\t\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\"}", false},
		{"non-ASCII", `{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"é"}}`, false},
		{"key twice", `{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"b"},"data":{"c":"d"}}`, false},
		{"YAML", "apiVersion: v1\nkind: ConfigMap\n", false},
		{"YAML flow map that is not JSON", "{apiVersion: v1, kind: ConfigMap}", false},
		{"list", `[{"apiVersion":"v1"}]`, false},
		{"two documents", `{"apiVersion":"v1"} {"kind":"ConfigMap"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := plainJSON([]byte(tc.body)); got != tc.plain {
				t.Fatalf("plainJSON = %v, want %v", got, tc.plain)
			}
			if !tc.plain {
				return
			}
			viaYAML, err := yaml.YAMLToJSONStrict([]byte(tc.body))
			if err != nil {
				t.Fatalf("YAML reading: %v", err)
			}
			want, got := &unstructured.Unstructured{}, &unstructured.Unstructured{}
			if err := want.UnmarshalJSON(viaYAML); err != nil {
				t.Fatal(err)
			}
			if err := got.UnmarshalJSON([]byte(tc.body)); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Object, want.Object) {
				t.Errorf("read as JSON %#v\nread as YAML %#v", got.Object, want.Object)
			}
		})
	}
}

// FuzzPlainJSON: whatever body plainJSON takes as its own JSON form reads
// as YAML without error and to the same object.
func FuzzPlainJSON(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}`,
		`{"a":[1,-2,{"b":null,"c":true}],"d":"e: f # g","h":{}}`,
		`{"n":-0,"m":9223372036854775807}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !plainJSON(body) {
			return
		}
		viaYAML, err := yaml.YAMLToJSONStrict(body)
		if err != nil {
			t.Fatalf("plain JSON %q does not read as YAML: %v", body, err)
		}
		want, got := &unstructured.Unstructured{}, &unstructured.Unstructured{}
		wantErr, gotErr := want.UnmarshalJSON(viaYAML), got.UnmarshalJSON(body)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%q: read as JSON: %v, as YAML: %v", body, gotErr, wantErr)
		}
		if wantErr == nil && !reflect.DeepEqual(got.Object, want.Object) {
			t.Fatalf("%q: read as JSON %#v, as YAML %#v", body, got.Object, want.Object)
		}
	})
}
