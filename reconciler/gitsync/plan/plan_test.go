package plan

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(apiVersion, kind, ns, name string, annotations ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	if len(annotations) == 2 {
		u.SetAnnotations(map[string]string{annotations[0]: annotations[1]})
	}
	return u
}

func names(desired []*unstructured.Unstructured, steps [][]int) [][]string {
	var out [][]string
	for _, s := range steps {
		var step []string
		for _, i := range s {
			step = append(step, RefOf(desired[i]).String())
		}
		out = append(out, step)
	}
	return out
}

func TestMakeOrdersAndPrunes(t *testing.T) {
	deploy := obj("apps/v1", "Deployment", "web", "hello")
	svc := obj("v1", "Service", "web", "hello")
	cm := obj("v1", "ConfigMap", "web", "conf")
	secret := obj("v1", "Secret", "web", "creds")
	ns := obj("v1", "Namespace", "", "web")
	ns2 := obj("v1", "Namespace", "", "a")
	sa := obj("v1", "ServiceAccount", "web", "app")
	job := obj("batch/v1", "Job", "web", "migrate")
	crd := obj("example.com/v1", "Widget", "web", "w")
	pv := obj("v1", "PersistentVolume", "", "disk")
	early := obj("apps/v1", "Deployment", "web", "db", WaveAnnotation, "-1")
	late := obj("v1", "ConfigMap", "web", "after", WaveAnnotation, "2")

	cases := []struct {
		name    string
		desired []*unstructured.Unstructured
		live    []Ref
		prune   bool
		steps   [][]string
		pruned  []string
	}{
		{
			name:    "kinds in dependency order, names sorted within a step",
			desired: []*unstructured.Unstructured{deploy, crd, job, svc, cm, secret, ns, sa, pv, ns2},
			steps: [][]string{{"Namespace a", "Namespace web"}, {"PersistentVolume disk"}, {"ServiceAccount web/app"},
				{"ConfigMap web/conf", "Secret web/creds"}, {"Service web/hello"}, {"Deployment web/hello"}, {"Job web/migrate"}, {"Widget web/w"}},
		},
		{
			name:    "waves come before kinds",
			desired: []*unstructured.Unstructured{late, deploy, ns, early},
			steps:   [][]string{{"Deployment web/db"}, {"Namespace web"}, {"Deployment web/hello"}, {"ConfigMap web/after"}},
		},
		{
			name:    "objects that left git are pruned, workloads first, namespaces last",
			desired: []*unstructured.Unstructured{cm},
			live:    []Ref{RefOf(ns), RefOf(cm), RefOf(deploy), RefOf(svc), RefOf(deploy)},
			prune:   true,
			steps:   [][]string{{"ConfigMap web/conf"}},
			pruned:  []string{"Deployment web/hello", "Service web/hello", "Namespace web"},
		},
		{
			name:    "another version of the same object is the same object",
			desired: []*unstructured.Unstructured{obj("apps/v1", "Deployment", "web", "hello")},
			live:    []Ref{RefOf(obj("apps/v1beta1", "Deployment", "web", "hello"))},
			prune:   true,
			steps:   [][]string{{"Deployment web/hello"}},
		},
		{
			name:    "prune disabled",
			desired: []*unstructured.Unstructured{cm},
			live:    []Ref{RefOf(deploy)},
			prune:   false,
			steps:   [][]string{{"ConfigMap web/conf"}},
		},
		{
			name:   "an empty commit prunes everything",
			live:   []Ref{RefOf(cm)},
			prune:  true,
			pruned: []string{"ConfigMap web/conf"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, errs := Make(c.desired, c.live, c.prune)
			if len(errs) != 0 {
				t.Fatal(errs)
			}
			if got := names(c.desired, p.Steps); !reflect.DeepEqual(got, c.steps) {
				t.Errorf("steps:\n got %v\nwant %v", got, c.steps)
			}
			var pruned []string
			for _, r := range p.Prune {
				pruned = append(pruned, r.String())
			}
			if !reflect.DeepEqual(pruned, c.pruned) {
				t.Errorf("prune:\n got %v\nwant %v", pruned, c.pruned)
			}
		})
	}
}

func TestMakeRejectsABadWave(t *testing.T) {
	bad := obj("v1", "ConfigMap", "web", "c", WaveAnnotation, "first")
	_, errs := Make([]*unstructured.Unstructured{obj("v1", "Namespace", "", "web"), bad}, nil, true)
	if len(errs) != 1 || errs[0].Index != 1 || errs[0].Field != "metadata.annotations[berth.io/sync-wave]" {
		t.Fatalf("errors: %+v", errs)
	}
}
