package apiserver

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"

	"github.com/berth-io/berth/store/defaults"
)

// TestSharingConvertorKeepsManagedFields: field managers built on
// sharingConvertor produce exactly what those built on the scheme (which
// copies) do, for creates, updates and applies of representative objects,
// and leave the objects they are given as they were.
func TestSharingConvertorKeepsManagedFields(t *testing.T) {
	reg := fuzzRegistry(t)
	scheme := reg.Scheme()
	gvr := func(group, version, resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
	}
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "apps", Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"a": "b"}},
		Spec: corev1.PodSpec{NodeSelector: map[string]string{"os": "linux"}, Containers: []corev1.Container{{
			Name: "app", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
			Env:       []corev1.EnvVar{{Name: "A", Value: "1"}},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
	updatedPod := pod.DeepCopy()
	updatedPod.Labels["tier"] = "front"
	updatedPod.Spec.Containers[0].Image = "nginx:2"
	deployment := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: pod.Spec}}}
	applied := func(json string) runtime.Object {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON([]byte(json)); err != nil {
			t.Fatal(err)
		}
		return u
	}
	appliedDeployment := applied(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"apps","labels":{"src":"git"}},` +
		`"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"nginx:3","env":[{"name":"B","value":"2"}]}]}}}}`)
	appliedConfigMap := applied(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg","namespace":"apps"},"data":{"key":"value"}}`)
	configMap := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "apps"}}
	gitSource := applied(`{"apiVersion":"berth.io/v1alpha1","kind":"GitSource","metadata":{"name":"site","namespace":"apps"},"spec":{"url":"/srv/site"}}`)

	// Each step writes next over live (nil: apply) as manager.
	for _, tc := range []struct {
		name        string
		kind        schema.GroupVersionResource
		subresource string
		live        runtime.Object
		next        runtime.Object
		applied     runtime.Object
	}{
		{name: "create pod", kind: gvr("", "v1", "pods"), live: &corev1.Pod{}, next: pod},
		{name: "update pod", kind: gvr("", "v1", "pods"), live: created(t, scheme, pod), next: updatedPod},
		{name: "update pod status", kind: gvr("", "v1", "pods"), subresource: "status", live: created(t, scheme, pod), next: updatedPod},
		{name: "create deployment", kind: gvr("apps", "v1", "deployments"), live: &appsv1.Deployment{}, next: deployment},
		{name: "apply new deployment", kind: gvr("apps", "v1", "deployments"), live: &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"}}, applied: appliedDeployment},
		{name: "apply to deployment", kind: gvr("apps", "v1", "deployments"), live: created(t, scheme, deployment), applied: appliedDeployment},
		{name: "apply new configmap", kind: gvr("", "v1", "configmaps"), live: configMap, applied: appliedConfigMap},
		{name: "apply new gitsource", kind: gvr("berth.io", "v1alpha1", "gitsources"), live: fuzzKind(t, reg, gvr("berth.io", "v1alpha1", "gitsources")).New(), applied: gitSource},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := fuzzKind(t, reg, tc.kind)
			results := map[string]runtime.Object{}
			for name, convertor := range map[string]runtime.ObjectConvertor{"copying": scheme, "sharing": sharingConvertor{scheme}} {
				converter := managedfields.NewDeducedTypeConverter()
				if (&fieldManagers{converter: typeConverterOf(scheme), typed: map[schema.GroupVersionKind]bool{}}).hasSchema(k) {
					converter = typeConverterOf(scheme)
				}
				fm, err := managedfields.NewDefaultFieldManager(converter, convertor, defaulterFunc(defaults.Default), scheme, k.GVK, k.GVK.GroupVersion(), tc.subresource, resetFields(k, tc.subresource))
				if err != nil {
					t.Fatal(err)
				}
				live := tc.live.DeepCopyObject()
				var out runtime.Object
				if tc.applied != nil {
					applied := tc.applied.DeepCopyObject()
					if out, err = fm.Apply(live, applied, "berth-gitsync", true); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					if !equality.Semantic.DeepEqual(applied, tc.applied) {
						t.Errorf("%s: the applied object changed", name)
					}
				} else {
					next := tc.next.DeepCopyObject()
					out = fm.UpdateNoErrors(live, next, "kubectl")
				}
				if !equality.Semantic.DeepEqual(live, tc.live) {
					t.Errorf("%s: the live object changed: %v", name, live)
				}
				results[name] = withoutTimes(t, out)
			}
			if !equality.Semantic.DeepEqual(results["copying"], results["sharing"]) {
				t.Errorf("results differ:\ncopying %+v\nsharing %+v", results["copying"], results["sharing"])
			}
			a, _ := meta.Accessor(results["sharing"])
			if len(a.GetManagedFields()) == 0 {
				t.Errorf("no managedFields: %+v", results["sharing"])
			}
		})
	}
}

// created is obj as stored after a create by "kubectl": with its
// managedFields and a UID.
func created(t *testing.T, scheme *runtime.Scheme, obj runtime.Object) runtime.Object {
	t.Helper()
	gvk := obj.GetObjectKind().GroupVersionKind()
	fm, err := managedfields.NewDefaultFieldManager(typeConverterOf(scheme), scheme, defaulterFunc(defaults.Default), scheme, gvk, gvk.GroupVersion(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := scheme.New(gvk)
	out := fm.UpdateNoErrors(empty, obj.DeepCopyObject(), "kubectl")
	a, _ := meta.Accessor(out)
	a.SetUID("uid-1")
	a.SetResourceVersion("7")
	return out
}

// typeConverterOf is client-go's schema of the built-in kinds, as the
// server's field managers use it.
func typeConverterOf(scheme *runtime.Scheme) managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(scheme)
}

// withoutTimes is obj with its managedFields' times cleared (they are
// the clock's, to the second).
func withoutTimes(t *testing.T, obj runtime.Object) runtime.Object {
	t.Helper()
	a, err := meta.Accessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	fields := a.GetManagedFields()
	for i := range fields {
		fields[i].Time = nil
	}
	a.SetManagedFields(fields)
	return obj
}
