package envvars

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type fakeSource struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f fakeSource) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f fakeSource) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

var src = fakeSource{
	cms:     map[string]*corev1.ConfigMap{"ns/cfg": {Data: map[string]string{"a": "1", "b": "2"}}},
	secrets: map[string]*corev1.Secret{"ns/sec": {Data: map[string][]byte{"pw": []byte("s3cret")}}},
}

func testPod(env []corev1.EnvVar, from []corev1.EnvFromSource) Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "n1", ServiceAccountName: "robot", Containers: []corev1.Container{{Name: "c", Env: env, EnvFrom: from,
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}},
	}
	return Pod{Pod: p, PodIPs: []string{"10.244.0.5"}, HostIPs: []string{"192.0.2.1"}, Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}}
}

func field(path string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
}

func TestResolve(t *testing.T) {
	env := []corev1.EnvVar{
		{Name: "A", Value: "from env"},
		{Name: "X", Value: "x-$(A)-$(NOPE)-$$(A)"},
		{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "b"}}},
		{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "pw"}}},
		{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Key: "pw", Optional: new(true)}}},
		{Name: "NAME", ValueFrom: field("metadata.name")},
		{Name: "NS", ValueFrom: field("metadata.namespace")},
		{Name: "UID", ValueFrom: field("metadata.uid")},
		{Name: "APP", ValueFrom: field("metadata.labels['app']")},
		{Name: "IP", ValueFrom: field("status.podIP")},
		{Name: "HOST", ValueFrom: field("status.hostIP")},
		{Name: "NODE", ValueFrom: field("spec.nodeName")},
		{Name: "SA", ValueFrom: field("spec.serviceAccountName")},
		{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
		{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
	}
	from := []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
	p := testPod(env, from)
	got, err := Resolve(p, &p.Spec.Containers[0], src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Var{{"CFG_a", "1"}, {"CFG_b", "2"}, {"A", "from env"}, {"X", "x-from env-$(NOPE)-$(A)"}, {"CM", "2"}, {"PW", "s3cret"},
		{"NAME", "p"}, {"NS", "ns"}, {"UID", "uid-1"}, {"APP", "web"}, {"IP", "10.244.0.5"}, {"HOST", "192.0.2.1"}, {"NODE", "n1"}, {"SA", "robot"},
		{"MEM", "64"}, {"CPU", "2"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("env\n got %v\nwant %v", got, want)
	}
}

func TestResolveLaterDefinitionWins(t *testing.T) {
	p := testPod([]corev1.EnvVar{{Name: "CFG_a", Value: "override"}}, []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}})
	got, err := Resolve(p, &p.Spec.Containers[0], src, nil)
	if err != nil || fmt.Sprint(got) != "[{CFG_a override} {CFG_b 2}]" {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestResolveErrorsNameWhatIsMissing(t *testing.T) {
	tests := []struct {
		name string
		env  []corev1.EnvVar
		from []corev1.EnvFromSource
		want string
	}{
		{name: "missing configmap", env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}}},
			want: `container "c" env V: configmap ns/nope`},
		{name: "missing key", env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "k"}}}},
			want: `secret ns/sec has no key "k"`},
		{name: "missing envFrom secret", from: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}}}},
			want: `container "c" envFrom: secret ns/nope`},
		{name: "bad field path", env: []corev1.EnvVar{{Name: "V", ValueFrom: field("spec.nope")}}, want: "unsupported fieldPath"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPod(tc.env, tc.from)
			_, err := Resolve(p, &p.Spec.Containers[0], src, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	lookup := Lookup([]Var{{"A", "1"}, {"B", "two"}})
	for in, want := range map[string]string{
		"plain": "plain", "$(A)": "1", "$(A)$(B)": "1two", "$$(A)": "$(A)", "$(C)": "$(C)", "$(A": "$(A", "a$b": "a$b", "$": "$", "x$(B)y": "xtwoy",
	} {
		if got := Expand(in, lookup); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServiceLinks(t *testing.T) {
	svcs := []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web-api"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", Ports: []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "headless"}, Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 80}}}},
	}
	got := map[string]string{}
	for _, v := range ServiceLinks(svcs) {
		got[v.Name] = v.Value
	}
	want := map[string]string{
		"WEB_API_SERVICE_HOST": "10.96.0.20", "WEB_API_SERVICE_PORT": "80", "WEB_API_SERVICE_PORT_HTTP": "80", "WEB_API_SERVICE_PORT_DNS": "53",
		"WEB_API_PORT":        "tcp://10.96.0.20:80",
		"WEB_API_PORT_80_TCP": "tcp://10.96.0.20:80", "WEB_API_PORT_80_TCP_PROTO": "tcp", "WEB_API_PORT_80_TCP_PORT": "80", "WEB_API_PORT_80_TCP_ADDR": "10.96.0.20",
		"WEB_API_PORT_53_UDP": "udp://10.96.0.20:53", "WEB_API_PORT_53_UDP_PROTO": "udp", "WEB_API_PORT_53_UDP_PORT": "53", "WEB_API_PORT_53_UDP_ADDR": "10.96.0.20",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("service links\n got %v\nwant %v", got, want)
	}
}

func TestResolveWithServiceLinks(t *testing.T) {
	p := testPod([]corev1.EnvVar{{Name: "URL", Value: "http://$(DB_SERVICE_HOST):5432"}, {Name: "DB_SERVICE_PORT", Value: "own"}}, nil)
	links := []Var{{"DB_SERVICE_HOST", "10.96.0.9"}, {"DB_SERVICE_PORT", "5432"}}
	got, err := Resolve(p, &p.Spec.Containers[0], src, links)
	want := []Var{{"URL", "http://10.96.0.9:5432"}, {"DB_SERVICE_PORT", "own"}, {"DB_SERVICE_HOST", "10.96.0.9"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
}
