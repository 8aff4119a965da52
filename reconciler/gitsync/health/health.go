// Package health decides whether an applied object is Healthy, Progressing
// or Degraded from its live state, as pure functions: a Deployment rolled
// out and available (kubectl rollout status's rules), a ReplicaSet's
// replicas available, a Job complete or failed, a Pod ready or failed, a
// Service with a selector backed by ready endpoints, a Namespace active,
// and any other object healthy once it exists.
package health

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

// Result is an object's health and why.
type Result struct {
	Status  berthv1alpha1.HealthStatus
	Message string
}

// Endpoints reports how many ready endpoints the EndpointSlices of Service
// namespace/name have.
type Endpoints func(namespace, name string) int

// Of is the health of live (nil when the object does not exist).
func Of(live *unstructured.Unstructured, endpoints Endpoints) Result {
	if live == nil {
		return Result{berthv1alpha1.HealthMissing, "not found in the cluster"}
	}
	if live.GetDeletionTimestamp() != nil {
		return progressing("being deleted")
	}
	switch live.GroupVersionKind().GroupKind().String() {
	case "Deployment.apps":
		var d appsv1.Deployment
		if err := convert(live, &d); err != nil {
			return degraded(err.Error())
		}
		return Deployment(&d)
	case "ReplicaSet.apps":
		var rs appsv1.ReplicaSet
		if err := convert(live, &rs); err != nil {
			return degraded(err.Error())
		}
		return ReplicaSet(&rs)
	case "Job.batch":
		var j batchv1.Job
		if err := convert(live, &j); err != nil {
			return degraded(err.Error())
		}
		return Job(&j)
	case "Pod":
		var p corev1.Pod
		if err := convert(live, &p); err != nil {
			return degraded(err.Error())
		}
		return Pod(&p)
	case "Service":
		// Read the two fields it needs without converting the object: a
		// source's Services are evaluated on every pass.
		typ, _, _ := unstructured.NestedString(live.Object, "spec", "type")
		selector, _, _ := unstructured.NestedStringMap(live.Object, "spec", "selector")
		return Service(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: live.GetNamespace(), Name: live.GetName()},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceType(typ), Selector: selector}}, endpoints)
	case "Namespace":
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		if phase == string(corev1.NamespaceTerminating) {
			return progressing("terminating")
		}
		return healthy()
	}
	return healthy()
}

// Deployment is healthy once its latest generation is rolled out: every
// replica updated, old ones gone, the updated ones available.
func Deployment(d *appsv1.Deployment) Result {
	if d.Generation > d.Status.ObservedGeneration {
		return progressing(fmt.Sprintf("waiting for the deployment controller to observe generation %d", d.Generation))
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return degraded("rollout exceeded its progress deadline: " + c.Message)
		}
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return degraded("cannot create replicas: " + c.Message)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	switch {
	case s.UpdatedReplicas < want:
		return progressing(fmt.Sprintf("%d of %d replicas updated", s.UpdatedReplicas, want))
	case s.Replicas > s.UpdatedReplicas:
		return progressing(fmt.Sprintf("%d old replicas pending termination", s.Replicas-s.UpdatedReplicas))
	case s.AvailableReplicas < s.UpdatedReplicas:
		return progressing(fmt.Sprintf("%d of %d updated replicas available", s.AvailableReplicas, s.UpdatedReplicas))
	}
	return Result{berthv1alpha1.HealthHealthy, fmt.Sprintf("%d/%d replicas available", s.AvailableReplicas, want)}
}

// ReplicaSet is healthy when all its replicas are available.
func ReplicaSet(rs *appsv1.ReplicaSet) Result {
	if rs.Generation > rs.Status.ObservedGeneration {
		return progressing(fmt.Sprintf("waiting for the replicaset controller to observe generation %d", rs.Generation))
	}
	for _, c := range rs.Status.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
			return degraded("cannot create replicas: " + c.Message)
		}
	}
	want := int32(1)
	if rs.Spec.Replicas != nil {
		want = *rs.Spec.Replicas
	}
	if rs.Status.AvailableReplicas < want {
		return progressing(fmt.Sprintf("%d of %d replicas available", rs.Status.AvailableReplicas, want))
	}
	return healthy()
}

// Job is healthy when complete, degraded when failed, progressing while it
// runs.
func Job(j *batchv1.Job) Result {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return Result{berthv1alpha1.HealthHealthy, "complete"}
		case batchv1.JobFailed:
			return degraded(fmt.Sprintf("failed (%s): %s", c.Reason, c.Message))
		}
	}
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		return Result{berthv1alpha1.HealthHealthy, "suspended"}
	}
	return progressing(fmt.Sprintf("running: %d active, %d succeeded, %d failed", j.Status.Active, j.Status.Succeeded, j.Status.Failed))
}

// badWaiting are container waiting reasons that will not fix themselves.
var badWaiting = map[string]bool{
	"CrashLoopBackOff": true, "ImagePullBackOff": true, "ErrImagePull": true, "InvalidImageName": true,
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
}

// Pod is healthy when ready (or succeeded), degraded when failed or stuck
// in a state that will not recover on its own.
func Pod(p *corev1.Pod) Result {
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return Result{berthv1alpha1.HealthHealthy, "succeeded"}
	case corev1.PodFailed:
		return degraded("failed: " + p.Status.Reason + " " + p.Status.Message)
	}
	for _, cs := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := cs.State.Waiting; w != nil && badWaiting[w.Reason] {
			return degraded(fmt.Sprintf("container %s: %s: %s", cs.Name, w.Reason, w.Message))
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return healthy()
		}
	}
	if p.Spec.NodeName == "" {
		return progressing("waiting to be scheduled")
	}
	return progressing("not ready")
}

// Service is healthy when it needs no endpoints (no selector, an
// ExternalName) or has ready ones.
func Service(s *corev1.Service, endpoints Endpoints) Result {
	if s.Spec.Type == corev1.ServiceTypeExternalName || len(s.Spec.Selector) == 0 {
		return healthy()
	}
	if endpoints == nil {
		return healthy()
	}
	if n := endpoints(s.Namespace, s.Name); n > 0 {
		return Result{berthv1alpha1.HealthHealthy, fmt.Sprintf("%d ready endpoints", n)}
	}
	return progressing("no ready endpoints: no ready pod matches the selector yet")
}

// Aggregate is the health of a set of objects: Degraded if any is,
// otherwise Progressing if any is (or is missing), otherwise Healthy.
func Aggregate(results []Result) berthv1alpha1.HealthStatus {
	out := berthv1alpha1.HealthHealthy
	for _, r := range results {
		switch r.Status {
		case berthv1alpha1.HealthDegraded:
			return berthv1alpha1.HealthDegraded
		case berthv1alpha1.HealthProgressing, berthv1alpha1.HealthMissing:
			out = berthv1alpha1.HealthProgressing
		}
	}
	return out
}

func healthy() Result                   { return Result{Status: berthv1alpha1.HealthHealthy} }
func progressing(message string) Result { return Result{berthv1alpha1.HealthProgressing, message} }
func degraded(message string) Result    { return Result{berthv1alpha1.HealthDegraded, message} }

func convert(u *unstructured.Unstructured, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		return fmt.Errorf("reading the live %s: %v", u.GetKind(), err)
	}
	return nil
}
