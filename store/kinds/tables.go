package kinds

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// columns builds column definitions from "Name" or "Name:wide" specs;
// wide columns show only with -o wide (priority 1).
func columns(specs ...string) []metav1.TableColumnDefinition {
	out := make([]metav1.TableColumnDefinition, len(specs))
	for i, s := range specs {
		name, wide := strings.CutSuffix(s, ":wide")
		out[i] = metav1.TableColumnDefinition{Name: name, Type: "string", Format: formatFor(name)}
		if wide {
			out[i].Priority = 1
		}
	}
	return out
}

func formatFor(column string) string {
	if column == "Name" {
		return "name"
	}
	return ""
}

// Age is how kubectl shows a timestamp: 5s, 3m, 2d4h.
func Age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

func boolString(b bool) string { return strconv.FormatBool(b) }

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func namespaceTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Status", "Age"), func(o runtime.Object) []any {
		n := o.(*corev1.Namespace)
		return []any{n.Name, string(n.Status.Phase), Age(n.CreationTimestamp)}
	}
}

func podTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Ready", "Status", "Restarts", "Age", "IP:wide", "Node:wide", "Nominated Node:wide", "Readiness Gates:wide"), func(o runtime.Object) []any {
		p := o.(*corev1.Pod)
		ready, restarts := 0, int32(0)
		var lastRestart time.Time
		for _, c := range p.Status.ContainerStatuses {
			if c.Ready {
				ready++
			}
			restarts += c.RestartCount
			if t := c.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(lastRestart) {
				lastRestart = t.FinishedAt.Time
			}
		}
		restartCell := strconv.Itoa(int(restarts))
		if !lastRestart.IsZero() {
			restartCell += " (" + duration.HumanDuration(time.Since(lastRestart)) + " ago)"
		}
		gates := "<none>"
		if n := len(p.Spec.ReadinessGates); n > 0 {
			gates = fmt.Sprintf("0/%d", n)
		}
		return []any{p.Name, fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers)), PodStatusReason(p), restartCell,
			Age(p.CreationTimestamp), orNone(p.Status.PodIP), orNone(p.Spec.NodeName), orNone(p.Status.NominatedNodeName), gates}
	}
}

// PodStatusReason is the STATUS column of kubectl get pods: the phase, or
// the reason a container is waiting or terminated, or Terminating.
func PodStatusReason(p *corev1.Pod) string {
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	for i, c := range p.Status.InitContainerStatuses {
		if t := c.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		switch {
		case c.State.Terminated != nil && c.State.Terminated.Reason != "":
			reason = "Init:" + c.State.Terminated.Reason
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + c.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		return reason
	}
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			reason = c.State.Waiting.Reason
		case c.State.Terminated != nil && c.State.Terminated.Reason != "":
			reason = c.State.Terminated.Reason
		}
	}
	if p.DeletionTimestamp != nil {
		reason = "Terminating"
	}
	return reason
}

func serviceTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector:wide"), func(o runtime.Object) []any {
		s := o.(*corev1.Service)
		ports := make([]string, 0, len(s.Spec.Ports))
		for _, p := range s.Spec.Ports {
			port := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
			if p.NodePort != 0 {
				port = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
			}
			ports = append(ports, port)
		}
		external := "<none>"
		if len(s.Spec.ExternalIPs) > 0 {
			external = strings.Join(s.Spec.ExternalIPs, ",")
		} else if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			external = "<pending>"
		}
		clusterIP := s.Spec.ClusterIP
		if clusterIP == "" {
			clusterIP = "<none>"
		}
		return []any{s.Name, string(s.Spec.Type), clusterIP, external, orNone(strings.Join(ports, ",")),
			Age(s.CreationTimestamp), orNone(labels.FormatLabels(s.Spec.Selector))}
	}
}

func configMapTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Data", "Age"), func(o runtime.Object) []any {
		c := o.(*corev1.ConfigMap)
		return []any{c.Name, int64(len(c.Data) + len(c.BinaryData)), Age(c.CreationTimestamp)}
	}
}

func secretTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Type", "Data", "Age"), func(o runtime.Object) []any {
		s := o.(*corev1.Secret)
		return []any{s.Name, string(s.Type), int64(len(s.Data)), Age(s.CreationTimestamp)}
	}
}

func nodeTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Status", "Roles", "Age", "Version", "Internal-IP:wide", "OS-Image:wide", "Kernel-Version:wide", "Container-Runtime:wide"), func(o runtime.Object) []any {
		n := o.(*corev1.Node)
		status := "Unknown"
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				status = "NotReady"
				if c.Status == corev1.ConditionTrue {
					status = "Ready"
				}
			}
		}
		if n.Spec.Unschedulable {
			status += ",SchedulingDisabled"
		}
		var roles []string
		for k := range n.Labels {
			if role, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && role != "" {
				roles = append(roles, role)
			}
		}
		sort.Strings(roles)
		internal := "<none>"
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				internal = a.Address
				break
			}
		}
		info := n.Status.NodeInfo
		return []any{n.Name, status, orNone(strings.Join(roles, ",")), Age(n.CreationTimestamp), info.KubeletVersion,
			internal, orNone(info.OSImage), orNone(info.KernelVersion), orNone(info.ContainerRuntimeVersion)}
	}
}

func eventTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	cols := columns("Last Seen", "Type", "Reason", "Object", "Message", "Name:wide")
	cols[5].Format = ""
	return cols, func(o runtime.Object) []any {
		e := o.(*corev1.Event)
		last := e.LastTimestamp
		if last.IsZero() {
			last = metav1.NewTime(e.EventTime.Time)
		}
		object := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
		return []any{Age(last), e.Type, e.Reason, object, strings.TrimSpace(e.Message), e.Name}
	}
}

func deploymentTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Ready", "Up-to-date", "Available", "Age", "Containers:wide", "Images:wide", "Selector:wide"), func(o runtime.Object) []any {
		d := o.(*appsv1.Deployment)
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		names, images := containerColumns(d.Spec.Template.Spec.Containers)
		return []any{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, want), int64(d.Status.UpdatedReplicas),
			int64(d.Status.AvailableReplicas), Age(d.CreationTimestamp), names, images, selectorString(d.Spec.Selector)}
	}
}

func replicaSetTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Desired", "Current", "Ready", "Age", "Containers:wide", "Images:wide", "Selector:wide"), func(o runtime.Object) []any {
		r := o.(*appsv1.ReplicaSet)
		want := int32(1)
		if r.Spec.Replicas != nil {
			want = *r.Spec.Replicas
		}
		names, images := containerColumns(r.Spec.Template.Spec.Containers)
		return []any{r.Name, int64(want), int64(r.Status.Replicas), int64(r.Status.ReadyReplicas),
			Age(r.CreationTimestamp), names, images, selectorString(r.Spec.Selector)}
	}
}

func jobTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Status", "Completions", "Duration", "Age", "Containers:wide", "Images:wide", "Selector:wide"), func(o runtime.Object) []any {
		j := o.(*batchv1.Job)
		completions := "n/a"
		if j.Spec.Completions != nil {
			completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
		}
		status := "Running"
		for _, c := range j.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				continue
			}
			switch c.Type {
			case batchv1.JobComplete:
				status = "Complete"
			case batchv1.JobFailed:
				status = "Failed"
			case batchv1.JobSuspended:
				status = "Suspended"
			}
		}
		took := ""
		if j.Status.StartTime != nil {
			end := time.Now()
			if j.Status.CompletionTime != nil {
				end = j.Status.CompletionTime.Time
			}
			took = duration.HumanDuration(end.Sub(j.Status.StartTime.Time))
		}
		names, images := containerColumns(j.Spec.Template.Spec.Containers)
		return []any{j.Name, status, completions, took, Age(j.CreationTimestamp), names, images, selectorString(j.Spec.Selector)}
	}
}

func endpointSliceTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "AddressType", "Ports", "Endpoints", "Age"), func(o runtime.Object) []any {
		s := o.(*discoveryv1.EndpointSlice)
		var ports, addrs []string
		for _, p := range s.Ports {
			if p.Port != nil {
				ports = append(ports, strconv.Itoa(int(*p.Port)))
			}
		}
		for _, e := range s.Endpoints {
			addrs = append(addrs, e.Addresses...)
		}
		endpoints := strings.Join(addrs, ",")
		if len(addrs) > 3 {
			endpoints = strings.Join(addrs[:3], ",") + fmt.Sprintf(" + %d more...", len(addrs)-3)
		}
		return []any{s.Name, string(s.AddressType), orNone(strings.Join(ports, ",")), orNone(endpoints), Age(s.CreationTimestamp)}
	}
}

func leaseTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "Holder", "Age"), func(o runtime.Object) []any {
		l := o.(*coordinationv1.Lease)
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return []any{l.Name, holder, Age(l.CreationTimestamp)}
	}
}

func containerColumns(cs []corev1.Container) (string, string) {
	names, images := make([]string, len(cs)), make([]string, len(cs))
	for i, c := range cs {
		names[i], images[i] = c.Name, c.Image
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil || sel.Empty() {
		return "<none>"
	}
	return sel.String()
}
