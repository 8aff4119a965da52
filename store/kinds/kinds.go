// Package kinds registers the built-in Kubernetes kinds berth serves.
package kinds

import (
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/store/registry"
)

// NewScheme returns a scheme with every k8s.io/api type and the meta.k8s.io
// types (Table, PartialObjectMetadata, Status, WatchEvent), and berth's own
// kinds (berth.io/v1alpha1).
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	metav1.AddToGroupVersion(s, metav1.SchemeGroupVersion)
	_ = metav1.AddMetaToScheme(s)
	_ = berthv1alpha1.AddToScheme(s)
	return s
}

// Register adds every built-in kind to r.
func Register(r *registry.Registry) error {
	for _, k := range builtins() {
		if err := r.Add(k); err != nil {
			return err
		}
	}
	return nil
}

func kind(gv schema.GroupVersion, name, resource, singular string, namespaced bool, obj, list runtime.Object) *registry.Kind {
	return &registry.Kind{
		GVK:        gv.WithKind(name),
		Resource:   resource,
		Singular:   singular,
		Namespaced: namespaced,
		New:        func() runtime.Object { return obj.DeepCopyObject() },
		NewList:    func() runtime.Object { return list.DeepCopyObject() },
	}
}

func builtins() []*registry.Kind {
	core, apps, batch := corev1.SchemeGroupVersion, appsv1.SchemeGroupVersion, batchv1.SchemeGroupVersion

	ns := kind(core, "Namespace", "namespaces", "namespace", false, &corev1.Namespace{}, &corev1.NamespaceList{})
	ns.ShortNames, ns.HasStatus, ns.Subresources = []string{"ns"}, true, []string{"finalize"}
	ns.Fields = func(o runtime.Object) fields.Set {
		return fields.Set{"status.phase": string(o.(*corev1.Namespace).Status.Phase)}
	}
	ns.Columns, ns.Cells = namespaceTable()

	pod := kind(core, "Pod", "pods", "pod", true, &corev1.Pod{}, &corev1.PodList{})
	pod.ShortNames, pod.Categories, pod.HasStatus = []string{"po"}, []string{"all"}, true
	pod.Subresources = []string{"binding", "eviction", "log"}
	pod.Fields = podFields
	pod.Columns, pod.Cells = podTable()

	svc := kind(core, "Service", "services", "service", true, &corev1.Service{}, &corev1.ServiceList{})
	svc.ShortNames, svc.Categories, svc.HasStatus = []string{"svc"}, []string{"all"}, true
	svc.Columns, svc.Cells = serviceTable()

	cm := kind(core, "ConfigMap", "configmaps", "configmap", true, &corev1.ConfigMap{}, &corev1.ConfigMapList{})
	cm.ShortNames = []string{"cm"}
	cm.Columns, cm.Cells = configMapTable()

	secret := kind(core, "Secret", "secrets", "secret", true, &corev1.Secret{}, &corev1.SecretList{})
	secret.Fields = func(o runtime.Object) fields.Set { return fields.Set{"type": string(o.(*corev1.Secret).Type)} }
	secret.Columns, secret.Cells = secretTable()

	sa := kind(core, "ServiceAccount", "serviceaccounts", "serviceaccount", true, &corev1.ServiceAccount{}, &corev1.ServiceAccountList{})
	sa.ShortNames, sa.Subresources = []string{"sa"}, []string{"token"}

	node := kind(core, "Node", "nodes", "node", false, &corev1.Node{}, &corev1.NodeList{})
	node.ShortNames, node.HasStatus, node.StatusOnCreate = []string{"no"}, true, true
	node.Fields = func(o runtime.Object) fields.Set {
		return fields.Set{"spec.unschedulable": boolString(o.(*corev1.Node).Spec.Unschedulable)}
	}
	node.Columns, node.Cells = nodeTable()

	event := kind(core, "Event", "events", "event", true, &corev1.Event{}, &corev1.EventList{})
	event.ShortNames, event.Fields = []string{"ev"}, eventFields
	event.Columns, event.Cells = eventTable()

	endpoints := kind(core, "Endpoints", "endpoints", "endpoints", true, &corev1.Endpoints{}, &corev1.EndpointsList{})
	endpoints.ShortNames = []string{"ep"}

	deploy := kind(apps, "Deployment", "deployments", "deployment", true, &appsv1.Deployment{}, &appsv1.DeploymentList{})
	deploy.ShortNames, deploy.Categories, deploy.HasStatus, deploy.Subresources = []string{"deploy"}, []string{"all"}, true, []string{"scale"}
	deploy.Columns, deploy.Cells = deploymentTable()

	rs := kind(apps, "ReplicaSet", "replicasets", "replicaset", true, &appsv1.ReplicaSet{}, &appsv1.ReplicaSetList{})
	rs.ShortNames, rs.Categories, rs.HasStatus, rs.Subresources = []string{"rs"}, []string{"all"}, true, []string{"scale"}
	rs.Fields = func(o runtime.Object) fields.Set {
		return fields.Set{"status.replicas": itoa(o.(*appsv1.ReplicaSet).Status.Replicas)}
	}
	rs.Columns, rs.Cells = replicaSetTable()

	job := kind(batch, "Job", "jobs", "job", true, &batchv1.Job{}, &batchv1.JobList{})
	job.Categories, job.HasStatus = []string{"all"}, true
	job.Fields = func(o runtime.Object) fields.Set {
		return fields.Set{"status.successful": itoa(o.(*batchv1.Job).Status.Succeeded)}
	}
	job.Columns, job.Cells = jobTable()

	slice := kind(discoveryv1.SchemeGroupVersion, "EndpointSlice", "endpointslices", "endpointslice", true, &discoveryv1.EndpointSlice{}, &discoveryv1.EndpointSliceList{})
	slice.Columns, slice.Cells = endpointSliceTable()

	lease := kind(coordinationv1.SchemeGroupVersion, "Lease", "leases", "lease", true, &coordinationv1.Lease{}, &coordinationv1.LeaseList{})
	lease.Columns, lease.Cells = leaseTable()

	newEvent := kind(eventsv1.SchemeGroupVersion, "Event", "events", "event", true, &eventsv1.Event{}, &eventsv1.EventList{})
	newEvent.ShortNames = []string{"ev"}

	kinds := []*registry.Kind{ns, pod, svc, cm, secret, sa, node, event, endpoints, deploy, rs, job, slice, lease, newEvent}
	kinds = append(kinds, reviews()...)
	kinds = append(kinds, berthKinds()...)
	return append(kinds, rbacKinds()...)
}

// reviews are the virtual kinds answered at create time and never stored.
func reviews() []*registry.Kind {
	authz, authn := authorizationv1.SchemeGroupVersion, authenticationv1.SchemeGroupVersion
	out := []*registry.Kind{
		kind(authz, "SelfSubjectAccessReview", "selfsubjectaccessreviews", "selfsubjectaccessreview", false, &authorizationv1.SelfSubjectAccessReview{}, &authorizationv1.SelfSubjectAccessReview{}),
		kind(authz, "SubjectAccessReview", "subjectaccessreviews", "subjectaccessreview", false, &authorizationv1.SubjectAccessReview{}, &authorizationv1.SubjectAccessReview{}),
		kind(authz, "SelfSubjectRulesReview", "selfsubjectrulesreviews", "selfsubjectrulesreview", false, &authorizationv1.SelfSubjectRulesReview{}, &authorizationv1.SelfSubjectRulesReview{}),
		kind(authz, "LocalSubjectAccessReview", "localsubjectaccessreviews", "localsubjectaccessreview", true, &authorizationv1.LocalSubjectAccessReview{}, &authorizationv1.LocalSubjectAccessReview{}),
		kind(authn, "TokenReview", "tokenreviews", "tokenreview", false, &authenticationv1.TokenReview{}, &authenticationv1.TokenReview{}),
		kind(authn, "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview", false, &authenticationv1.SelfSubjectReview{}, &authenticationv1.SelfSubjectReview{}),
	}
	for _, k := range out {
		k.Virtual = true
	}
	return out
}

// rbacKinds are served read-only: RBAC policies live in files.
func rbacKinds() []*registry.Kind {
	gv := rbacv1.SchemeGroupVersion
	out := []*registry.Kind{
		kind(gv, "Role", "roles", "role", true, &rbacv1.Role{}, &rbacv1.RoleList{}),
		kind(gv, "ClusterRole", "clusterroles", "clusterrole", false, &rbacv1.ClusterRole{}, &rbacv1.ClusterRoleList{}),
		kind(gv, "RoleBinding", "rolebindings", "rolebinding", true, &rbacv1.RoleBinding{}, &rbacv1.RoleBindingList{}),
		kind(gv, "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", false, &rbacv1.ClusterRoleBinding{}, &rbacv1.ClusterRoleBindingList{}),
	}
	for _, k := range out {
		k.ReadOnly = true
	}
	return out
}

func podFields(o runtime.Object) fields.Set {
	p := o.(*corev1.Pod)
	return fields.Set{
		"spec.nodeName":            p.Spec.NodeName,
		"spec.restartPolicy":       string(p.Spec.RestartPolicy),
		"spec.schedulerName":       p.Spec.SchedulerName,
		"spec.serviceAccountName":  p.Spec.ServiceAccountName,
		"spec.hostNetwork":         boolString(p.Spec.HostNetwork),
		"status.phase":             string(p.Status.Phase),
		"status.podIP":             p.Status.PodIP,
		"status.nominatedNodeName": p.Status.NominatedNodeName,
	}
}

func eventFields(o runtime.Object) fields.Set {
	e := o.(*corev1.Event)
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         e.Source.Component,
		"type":                           e.Type,
	}
}
