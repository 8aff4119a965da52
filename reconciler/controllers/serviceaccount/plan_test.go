package serviceaccount

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlan(t *testing.T) {
	const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	active := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	now := metav1.Now()
	terminating := active.DeepCopy()
	terminating.DeletionTimestamp = &now
	terminating.Status.Phase = corev1.NamespaceTerminating
	published := func(data map[string]string, annotated bool) *corev1.ConfigMap {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: RootCAConfigMap, Namespace: "team", ResourceVersion: "7"}, Data: data}
		if annotated {
			cm.Annotations = map[string]string{descriptionAnnotation: description}
		}
		return cm
	}
	deleting := published(map[string]string{RootCAKey: "old"}, true)
	deleting.DeletionTimestamp = &now

	tests := []struct {
		name       string
		ns         *corev1.Namespace
		haveSA     bool
		cm         *corev1.ConfigMap
		rootCA     string
		wantSA     bool
		wantCreate bool
		wantUpdate bool
	}{
		{name: "new namespace gets both", ns: active, rootCA: ca, wantSA: true, wantCreate: true},
		{name: "complete namespace needs nothing", ns: active, haveSA: true, cm: published(map[string]string{RootCAKey: ca}, true), rootCA: ca},
		{name: "deleted ServiceAccount comes back", ns: active, cm: published(map[string]string{RootCAKey: ca}, true), rootCA: ca, wantSA: true},
		{name: "terminating namespace gets nothing", ns: terminating, rootCA: ca},
		{name: "no CA publishes no ConfigMap", ns: active, haveSA: true},
		{name: "stale CA is replaced", ns: active, haveSA: true, cm: published(map[string]string{RootCAKey: "old"}, true), rootCA: ca, wantUpdate: true},
		{name: "extra keys are dropped", ns: active, haveSA: true, cm: published(map[string]string{RootCAKey: ca, "x": "y"}, true), rootCA: ca, wantUpdate: true},
		{name: "missing description is restored", ns: active, haveSA: true, cm: published(map[string]string{RootCAKey: ca}, false), rootCA: ca, wantUpdate: true},
		{name: "ConfigMap being deleted waits to be recreated", ns: active, haveSA: true, cm: deleting, rootCA: ca},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.cm.DeepCopy()
			a := plan(tt.ns, tt.haveSA, tt.cm, []byte(tt.rootCA))
			if !apiequality.Semantic.DeepEqual(before, tt.cm) {
				t.Errorf("plan changed the cached ConfigMap: %v", tt.cm)
			}
			if a.createServiceAccount != tt.wantSA {
				t.Errorf("createServiceAccount = %v, want %v", a.createServiceAccount, tt.wantSA)
			}
			if (a.createConfigMap != nil) != tt.wantCreate {
				t.Errorf("createConfigMap = %v, want one: %v", a.createConfigMap, tt.wantCreate)
			}
			if (a.updateConfigMap != nil) != tt.wantUpdate {
				t.Errorf("updateConfigMap = %v, want one: %v", a.updateConfigMap, tt.wantUpdate)
			}
			for _, cm := range []*corev1.ConfigMap{a.createConfigMap, a.updateConfigMap} {
				if cm == nil {
					continue
				}
				if cm.Namespace != "team" || cm.Name != RootCAConfigMap || len(cm.Data) != 1 || cm.Data[RootCAKey] != ca || cm.Annotations[descriptionAnnotation] == "" {
					t.Errorf("published ConfigMap %s/%s has data %v, annotations %v", cm.Namespace, cm.Name, cm.Data, cm.Annotations)
				}
			}
			if a.updateConfigMap != nil && a.updateConfigMap.ResourceVersion != "7" {
				t.Errorf("the update must carry the resourceVersion it read, got %q", a.updateConfigMap.ResourceVersion)
			}
		})
	}
}
