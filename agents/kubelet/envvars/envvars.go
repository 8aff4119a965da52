// Package envvars computes a container's environment as kubelet does:
// envFrom, then env (values with $(VAR) expansion, ConfigMap and Secret
// keys, the downward API and container resources).
package envvars

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/kubectl/pkg/util/fieldpath"
	kuberesource "k8s.io/kubectl/pkg/util/resource"
)

// Source reads the objects that env refers to.
type Source interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// Pod is what the downward API reads beside the pod object: addresses
// known only to the node, and the node's allocatable resources (the value
// of a resource limit the container does not set).
type Pod struct {
	*corev1.Pod
	PodIPs      []string
	HostIPs     []string
	Allocatable corev1.ResourceList
}

// Var is one environment variable.
type Var struct{ Name, Value string }

// Resolve is the environment of container c, in order, each name once
// (later definitions win, as in kubelet), followed by the service links
// (ServiceLinks) it does not define itself; $(VAR) may name those too. A
// missing non-optional reference is an error naming the container,
// variable and object.
func Resolve(p Pod, c *corev1.Container, src Source, links []Var) ([]Var, error) {
	var out []Var
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			out[i].Value = value
			return
		}
		index[name] = len(out)
		out = append(out, Var{name, value})
	}
	linked := Lookup(links)
	lookup := func(name string) (string, bool) {
		if i, ok := index[name]; ok {
			return out[i].Value, true
		}
		return linked(name)
	}
	ns := p.Namespace
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, err := src.ConfigMap(ns, from.ConfigMapRef.Name)
			if err != nil {
				if optional(from.ConfigMapRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("container %q envFrom: configmap %s/%s: %w", c.Name, ns, from.ConfigMapRef.Name, err)
			}
			for _, k := range sortedKeys(cm.Data) {
				set(from.Prefix+k, cm.Data[k])
			}
		case from.SecretRef != nil:
			s, err := src.Secret(ns, from.SecretRef.Name)
			if err != nil {
				if optional(from.SecretRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, fmt.Errorf("container %q envFrom: secret %s/%s: %w", c.Name, ns, from.SecretRef.Name, err)
			}
			for _, k := range sortedKeys(s.Data) {
				set(from.Prefix+k, string(s.Data[k]))
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, Expand(e.Value, lookup))
			continue
		}
		v, ok, err := valueFrom(p, c, e, src)
		if err != nil {
			return nil, fmt.Errorf("container %q env %s: %w", c.Name, e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	for _, l := range links {
		if _, ok := index[l.Name]; !ok {
			set(l.Name, l.Value)
		}
	}
	return out, nil
}

// valueFrom reads one env valueFrom; ok is false for a missing optional key.
func valueFrom(p Pod, c *corev1.Container, e corev1.EnvVar, src Source) (string, bool, error) {
	ns := p.Namespace
	from := e.ValueFrom
	switch {
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := src.ConfigMap(ns, ref.Name)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %s/%s: %w", ns, ref.Name, err)
		}
		if v, ok := cm.Data[ref.Key]; ok {
			return v, true, nil
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("configmap %s/%s has no key %q", ns, ref.Name, ref.Key)
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := src.Secret(ns, ref.Name)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %s/%s: %w", ns, ref.Name, err)
		}
		if v, ok := s.Data[ref.Key]; ok {
			return string(v), true, nil
		}
		if optional(ref.Optional) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("secret %s/%s has no key %q", ns, ref.Name, ref.Key)
	case from.FieldRef != nil:
		v, err := FieldValue(p, from.FieldRef.FieldPath)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := ResourceValue(p, c, from.ResourceFieldRef)
		return v, err == nil, err
	}
	return "", false, fmt.Errorf("valueFrom names no source")
}

// FieldValue is the downward API value of fieldPath for p.
func FieldValue(p Pod, path string) (string, error) {
	switch path {
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return first(p.HostIPs), nil
	case "status.hostIPs":
		return strings.Join(p.HostIPs, ","), nil
	case "status.podIP":
		return first(p.PodIPs), nil
	case "status.podIPs":
		return strings.Join(p.PodIPs, ","), nil
	}
	return fieldpath.ExtractFieldPathAsString(p.Pod, path)
}

// ResourceValue is the value of a resourceFieldRef for container c (the
// node's allocatable amount where the container sets no limit).
func ResourceValue(p Pod, c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	if ref.ContainerName != "" || c == nil {
		c = findContainer(p.Pod, ref.ContainerName)
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef: no container %q", ref.ContainerName)
		}
	}
	withDefaults := c.DeepCopy()
	if withDefaults.Resources.Limits == nil {
		withDefaults.Resources.Limits = corev1.ResourceList{}
	}
	for name, q := range p.Allocatable {
		if _, ok := withDefaults.Resources.Limits[name]; !ok {
			withDefaults.Resources.Limits[name] = q
		}
	}
	return kuberesource.ExtractContainerResourceValue(ref, withDefaults)
}

// Expand replaces $(NAME) in s with lookup(NAME) where it is defined;
// $$ is a literal $, and unknown references stay as written, as in
// Kubernetes (its expansion package lives in k8s.io/kubernetes, which
// berth does not import).
func Expand(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// Lookup is a lookup function for Expand over vars.
func Lookup(vars []Var) func(string) (string, bool) {
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.Name] = v.Value
	}
	return func(n string) (string, bool) { v, ok := m[n]; return v, ok }
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func optional(b *bool) bool { return b != nil && *b }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
