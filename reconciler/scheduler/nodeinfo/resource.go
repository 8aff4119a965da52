// Package nodeinfo is the scheduler's view of the cluster: each node with
// the pods assigned to it, what they request, the host ports they hold and
// which of them carry inter-pod affinity terms, and a Snapshot of all nodes
// that one scheduling attempt reads without locks.
//
// Pod requests are counted as kube-scheduler counts them, with
// k8s.io/component-helpers/resource (init containers, sidecars, pod-level
// resources and overhead included).
package nodeinfo

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Default requests that scoring assumes for a container that requests no
// cpu or memory, so that best-effort pods still spread (kube-scheduler's
// DefaultMilliCPURequest and DefaultMemoryRequest).
const (
	DefaultMilliCPURequest int64 = 100
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// nonZeroDefaults fills in the defaults above for containers without requests.
var nonZeroDefaults = corev1.ResourceList{
	corev1.ResourceCPU:    *resource.NewMilliQuantity(DefaultMilliCPURequest, resource.DecimalSI),
	corev1.ResourceMemory: *resource.NewQuantity(DefaultMemoryRequest, resource.BinarySI),
}

// Resource is an amount of the resources the scheduler counts: cpu in
// millicores, memory and ephemeral storage in bytes, a number of pods
// (meaningful for allocatable only) and extended resources by name.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	Pods             int64
	// Scalar holds extended resources (example.com/gpu), hugepages and
	// other domain-prefixed resources; nil when there are none.
	Scalar map[corev1.ResourceName]int64
}

// NewResource converts a ResourceList (requests or allocatable).
// Resources the scheduler does not count (storage, ...) are ignored.
func NewResource(list corev1.ResourceList) Resource {
	var r Resource
	for name, q := range list {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU = q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory = q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage = q.Value()
		case corev1.ResourcePods:
			r.Pods = q.Value()
		default:
			if IsScalarResourceName(name) {
				if r.Scalar == nil {
					r.Scalar = map[corev1.ResourceName]int64{}
				}
				r.Scalar[name] = q.Value()
			}
		}
	}
	return r
}

// IsScalarResourceName says whether the scheduler counts name as a scalar
// resource: extended and other domain-prefixed resources, hugepages and
// attachable volumes.
func IsScalarResourceName(name corev1.ResourceName) bool {
	s := string(name)
	return strings.Contains(s, "/") ||
		strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) ||
		strings.HasPrefix(s, corev1.ResourceAttachableVolumesPrefix)
}

// Add adds o to r (Pods included).
func (r *Resource) Add(o Resource) { r.addScaled(o, 1) }

// Sub subtracts o from r (Pods included).
func (r *Resource) Sub(o Resource) { r.addScaled(o, -1) }

func (r *Resource) addScaled(o Resource, sign int64) {
	r.MilliCPU += sign * o.MilliCPU
	r.Memory += sign * o.Memory
	r.EphemeralStorage += sign * o.EphemeralStorage
	r.Pods += sign * o.Pods
	for name, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[name] += sign * v
	}
}

// Clone returns a copy that shares nothing with r.
func (r Resource) Clone() Resource {
	if r.Scalar != nil {
		scalar := make(map[corev1.ResourceName]int64, len(r.Scalar))
		for k, v := range r.Scalar {
			scalar[k] = v
		}
		r.Scalar = scalar
	}
	return r
}

// PodRequests is what pod requests as the scheduler counts it: the larger
// of its containers' sum and any init container's request, plus overhead.
func PodRequests(pod *corev1.Pod) Resource {
	return NewResource(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
}

// PodNonZeroRequests is PodRequests with DefaultMilliCPURequest and
// DefaultMemoryRequest in place of each container's missing cpu and memory
// request; only the cpu and memory fields are set. Scores use it.
func PodNonZeroRequests(pod *corev1.Pod) Resource {
	list := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{NonMissingContainerRequests: nonZeroDefaults})
	cpu, mem := list[corev1.ResourceCPU], list[corev1.ResourceMemory]
	return Resource{MilliCPU: cpu.MilliValue(), Memory: mem.Value()}
}
