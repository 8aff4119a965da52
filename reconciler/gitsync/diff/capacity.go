package diff

import (
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/berth-io/berth/reconciler/scheduler/nodeinfo"
	"github.com/berth-io/berth/reconciler/scheduler/placement"
)

// Capacity is what the workload changes request: pods × pod requests, as
// the scheduler counts them (k8s.io/component-helpers/resource).
type Capacity struct {
	// Workloads are the workloads whose requests change.
	Workloads []WorkloadChange `json:"workloads"`
	// CPU and Memory are the total change of requests ("+1500m",
	// "-256Mi"); MilliCPU and MemoryBytes the same as numbers.
	CPU         string `json:"cpu"`
	Memory      string `json:"memory"`
	MilliCPU    int64  `json:"milliCPU"`
	MemoryBytes int64  `json:"memoryBytes"`
	// Cluster is how the new pods fit on the live cluster's nodes
	// (Live only).
	Cluster *ClusterFit `json:"cluster,omitempty"`
}

// WorkloadChange is one workload's change of requests.
type WorkloadChange struct {
	// Object is "Deployment demo/hello".
	Object string `json:"object"`
	// PodsBefore and PodsAfter are its pods (replicas, a Job's
	// parallelism, 1 for a Pod); 0 when it does not exist.
	PodsBefore int32 `json:"podsBefore"`
	PodsAfter  int32 `json:"podsAfter"`
	// PodCPU and PodMemory are what one pod requests after the change
	// (before, for a deleted workload).
	PodCPU    string `json:"podCPU"`
	PodMemory string `json:"podMemory"`
	// CPU and Memory are the change of the workload's requests.
	CPU         string `json:"cpu"`
	Memory      string `json:"memory"`
	MilliCPU    int64  `json:"milliCPU"`
	MemoryBytes int64  `json:"memoryBytes"`

	// newPods are the pods the change creates, for ClusterFit; pod is
	// one of them.
	newPods int32
	pod     *corev1.Pod
}

// ClusterFit is how the new pods fit on the cluster's schedulable nodes
// (what the scheduler's filters say: resources, taints, node selectors
// and affinity).
type ClusterFit struct {
	Nodes int `json:"nodes"`
	// FreeCPU and FreeMemory are the allocatable not yet requested on all
	// nodes, before the change.
	FreeCPU    string `json:"freeCPU"`
	FreeMemory string `json:"freeMemory"`
	// NewPods counts the pods the change creates; Unfit those that would
	// fit on no node, by workload.
	NewPods int        `json:"newPods"`
	Unfit   []UnfitPod `json:"unfit"`
}

// UnfitPod is a workload's pods that would not fit.
type UnfitPod struct {
	Object string `json:"object"`
	Pods   int32  `json:"pods"`
	// Reason is the scheduler's ("0/3 nodes are available: 3 Insufficient
	// cpu.").
	Reason string `json:"reason"`
}

// capacityOf is the change of requests from before to after.
func capacityOf(before, after side) Capacity {
	var pairs []*pair
	for k, a := range after {
		if b := before[k]; b == nil || !b.sameAs(a) {
			pairs = append(pairs, &pair{before: b, after: a})
		}
	}
	for k, b := range before {
		if after[k] == nil {
			pairs = append(pairs, &pair{before: b})
		}
	}
	sortPairs(pairs)
	c := Capacity{Workloads: []WorkloadChange{}}
	var cpu, mem int64
	for _, p := range pairs {
		var b, a k8sruntime.Object
		if p.before != nil {
			b = p.before.typed
		}
		if p.after != nil {
			a = p.after.typed
		}
		w, ok := workloadChange(p.one().key.String(), b, a)
		if !ok {
			continue
		}
		c.Workloads = append(c.Workloads, w)
		cpu += w.MilliCPU
		mem += w.MemoryBytes
	}
	c.MilliCPU, c.MemoryBytes = cpu, mem
	c.CPU, c.Memory = signedCPU(cpu), signedMemory(mem)
	return c
}

// workloadChange is the change of requests of a workload from before to
// after (either may be nil); false when neither is a workload or nothing
// changes.
func workloadChange(name string, before, after k8sruntime.Object) (WorkloadChange, bool) {
	nb, pb := podsOf(before)
	na, pa := podsOf(after)
	if pb == nil && pa == nil {
		return WorkloadChange{}, false
	}
	rb, ra := requestsOf(pb), requestsOf(pa)
	cpu := int64(na)*ra.Cpu().MilliValue() - int64(nb)*rb.Cpu().MilliValue()
	mem := int64(na)*ra.Memory().Value() - int64(nb)*rb.Memory().Value()
	w := WorkloadChange{Object: name, PodsBefore: nb, PodsAfter: na, MilliCPU: cpu, MemoryBytes: mem, CPU: signedCPU(cpu), Memory: signedMemory(mem)}
	per := ra
	if pa == nil {
		per = rb
	}
	w.PodCPU, w.PodMemory = per.Cpu().String(), per.Memory().String()
	switch {
	case pa == nil:
	case pb == nil || !equality.Semantic.DeepEqual(rb, ra) || !equality.Semantic.DeepEqual(pb.Spec, pa.Spec):
		w.newPods, w.pod = na, pa // a new template replaces every pod
	case na > nb:
		w.newPods, w.pod = na-nb, pa
	}
	if cpu == 0 && mem == 0 && w.newPods == 0 {
		return WorkloadChange{}, false
	}
	return w, true
}

// podsOf is how many pods obj runs and one of them; 0, nil when obj is no
// workload.
func podsOf(obj k8sruntime.Object) (int32, *corev1.Pod) {
	template := func(ns string, t corev1.PodTemplateSpec) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: *t.ObjectMeta.DeepCopy(), Spec: *t.Spec.DeepCopy()}
		p.Namespace = ns
		return p
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		return 1, o
	case *appsv1.Deployment:
		return replicas(o.Spec.Replicas), template(o.Namespace, o.Spec.Template)
	case *appsv1.ReplicaSet:
		return replicas(o.Spec.Replicas), template(o.Namespace, o.Spec.Template)
	case *appsv1.StatefulSet:
		return replicas(o.Spec.Replicas), template(o.Namespace, o.Spec.Template)
	case *batchv1.Job:
		n := replicas(o.Spec.Parallelism)
		if o.Spec.Completions != nil && *o.Spec.Completions < n {
			n = *o.Spec.Completions
		}
		if o.Spec.Suspend != nil && *o.Spec.Suspend {
			n = 0
		}
		return n, template(o.Namespace, o.Spec.Template)
	}
	return 0, nil
}

func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

func requestsOf(p *corev1.Pod) corev1.ResourceList {
	if p == nil {
		return corev1.ResourceList{}
	}
	return resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
}

func signedCPU(milli int64) string {
	return signed(milli, resource.NewMilliQuantity(abs(milli), resource.DecimalSI))
}

func signedMemory(bytes int64) string {
	return signed(bytes, resource.NewQuantity(abs(bytes), resource.BinarySI))
}

func signed(n int64, q *resource.Quantity) string {
	switch {
	case n > 0:
		return "+" + q.String()
	case n < 0:
		return "-" + q.String()
	}
	return "0"
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// fit places the new pods of workloads on nodes (running pods) one by one
// with the scheduler's filters, and names those that fit on no node.
func fit(nodes []corev1.Node, pods []corev1.Pod, namespaces []corev1.Namespace, workloads []WorkloadChange) (*ClusterFit, error) {
	infos := map[string]*nodeinfo.NodeInfo{}
	var list []*nodeinfo.NodeInfo
	for i := range nodes {
		n := nodeinfo.New(&nodes[i])
		infos[nodes[i].Name] = n
		list = append(list, n)
	}
	for i := range pods {
		p := &pods[i]
		n := infos[p.Spec.NodeName]
		if n == nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		info, _ := nodeinfo.NewPodInfo(p)
		n.AddPod(info)
	}
	out := &ClusterFit{Nodes: len(nodes), Unfit: []UnfitPod{}}
	var freeCPU, freeMem int64
	for _, n := range list {
		if n.Unschedulable {
			continue
		}
		freeCPU += max(0, n.Allocatable.MilliCPU-n.Requested.MilliCPU)
		freeMem += max(0, n.Allocatable.Memory-n.Requested.Memory)
	}
	out.FreeCPU = resource.NewMilliQuantity(freeCPU, resource.DecimalSI).String()
	out.FreeMemory = resource.NewQuantity(freeMem, resource.BinarySI).String()
	nsLabels := map[string]labels.Set{}
	for _, ns := range namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	snap := nodeinfo.NewSnapshot(list, nsLabels)
	placer := placement.NewPlacer(placement.Options{Parallelism: 1})
	for _, w := range workloads {
		var unfit int32
		reason := ""
		for i := range w.newPods {
			pod := w.pod.DeepCopy()
			pod.Name = fmt.Sprintf("diff-%d", i)
			pod.UID = types.UID("diff-" + w.Object + "-" + pod.Name)
			info, err := nodeinfo.NewPodInfo(pod)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", w.Object, err)
			}
			out.NewPods++
			d, err := placer.Place(info, snap)
			var fe *placement.FitError
			switch {
			case errors.As(err, &fe):
				unfit++
				reason = fe.Error()
				continue
			case err != nil:
				return nil, fmt.Errorf("%s: %w", w.Object, err)
			}
			snap.Get(d.Node).AddPod(info)
		}
		if unfit > 0 {
			out.Unfit = append(out.Unfit, UnfitPod{Object: w.Object, Pods: unfit, Reason: reason})
		}
	}
	return out, nil
}
