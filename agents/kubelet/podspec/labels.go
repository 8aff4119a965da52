// Package podspec translates a Pod's spec into the CRI configs of its
// sandbox and containers: pure functions, no I/O. The labels and
// annotations it puts on them let the kubelet rebuild its view of every
// pod from the runtime alone after a restart.
package podspec

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"
)

// Labels and annotations on the sandboxes and containers the kubelet makes
// (the names kubelet uses, so crictl users feel at home).
const (
	// LabelManaged marks every sandbox and container berth's kubelet made;
	// its value is the node name, so two agents on one runtime keep apart.
	LabelManaged = "berth.io/node"
	// LabelPodName, LabelPodNamespace and LabelPodUID name the pod.
	LabelPodName      = "io.kubernetes.pod.name"
	LabelPodNamespace = "io.kubernetes.pod.namespace"
	LabelPodUID       = "io.kubernetes.pod.uid"
	// LabelContainerName is the container's name in the pod spec.
	LabelContainerName = "io.kubernetes.container.name"
	// LabelContainerKind is "init" for init containers, "app" otherwise.
	LabelContainerKind = "berth.io/container-kind"

	// AnnotationRestartCount is the container's restart count when made.
	AnnotationRestartCount = "io.kubernetes.container.restartCount"
	// AnnotationHash is Hash of the container spec it was made from.
	AnnotationHash = "io.kubernetes.container.hash"
	// AnnotationGracePeriod is the pod's terminationGracePeriodSeconds.
	AnnotationGracePeriod = "io.kubernetes.pod.terminationGracePeriod"
)

// Container kinds (LabelContainerKind).
const (
	KindInit = "init"
	KindApp  = "app"
)

// SandboxLabels are the labels of pod's sandboxes on node.
func SandboxLabels(pod *corev1.Pod, node string) map[string]string {
	l := make(map[string]string, len(pod.Labels)+4)
	for k, v := range pod.Labels {
		l[k] = v
	}
	l[LabelManaged] = node
	l[LabelPodName] = pod.Name
	l[LabelPodNamespace] = pod.Namespace
	l[LabelPodUID] = string(pod.UID)
	return l
}

// ContainerLabels are the labels of container c of pod on node; kind is
// KindInit or KindApp.
func ContainerLabels(pod *corev1.Pod, node, name, kind string) map[string]string {
	return map[string]string{
		LabelManaged:       node,
		LabelPodName:       pod.Name,
		LabelPodNamespace:  pod.Namespace,
		LabelPodUID:        string(pod.UID),
		LabelContainerName: name,
		LabelContainerKind: kind,
	}
}

// ContainerAnnotations are the annotations of container c of pod made
// for its restartCount-th run.
func ContainerAnnotations(pod *corev1.Pod, c *corev1.Container, restartCount int) map[string]string {
	a := map[string]string{
		AnnotationRestartCount: strconv.Itoa(restartCount),
		AnnotationHash:         Hash(c),
	}
	if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
		a[AnnotationGracePeriod] = strconv.FormatInt(*g, 10)
	}
	return a
}

// Hash is a short digest of a container's spec: when the spec of a
// running container changes (its image, the one mutable field), the
// kubelet replaces the container.
func Hash(c *corev1.Container) string {
	b, err := json.Marshal(c)
	if err != nil {
		// A corev1.Container always marshals; keep a stable fallback.
		b = []byte(c.Name + c.Image)
	}
	h := fnv.New32a()
	_, _ = h.Write(b)
	return fmt.Sprintf("%08x", h.Sum32())
}
