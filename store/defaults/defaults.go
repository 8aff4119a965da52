// Package defaults fills in the fields that Kubernetes fills in when an
// object is admitted: the v1 SetDefaults_* rules of kube-apiserver, plus the
// few normalisations its conversions and create strategies perform on the
// versioned types (Secret stringData, Service clusterIPs, Node podCIDRs,
// Pod serviceAccount, the DefaultTolerationSeconds and Priority admission
// results).
//
// Defaulting is a pure function of the object: no I/O, no clock. It never
// replaces a value the user set (except where Kubernetes itself does, as
// noted on each rule) and applying it twice gives the same object as
// applying it once.
//
// The API server calls Default on every create and update before
// validation; `berth validate` calls it before store/validation so that a
// manifest is checked the way the server would check it.
package defaults

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

// Default applies the Kubernetes v1 defaults for obj's kind in place.
// Kinds without defaults (ConfigMap, ServiceAccount, Lease, Event, ...) and
// unknown kinds are left untouched.
func Default(obj runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Pod:
		defaultPod(o)
	case *corev1.Service:
		defaultService(o)
	case *corev1.Secret:
		defaultSecret(o)
	case *corev1.Namespace:
		defaultNamespace(o)
	case *corev1.Node:
		defaultNode(o)
	case *corev1.Endpoints:
		defaultEndpoints(o)
	case *appsv1.Deployment:
		defaultDeployment(o)
	case *appsv1.ReplicaSet:
		defaultReplicaSet(o)
	case *batchv1.Job:
		defaultJob(o)
	case *discoveryv1.EndpointSlice:
		defaultEndpointSlice(o)
	case *berthv1alpha1.GitSource:
		defaultGitSource(o)
	}
}
