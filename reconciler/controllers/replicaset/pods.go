package replicaset

import (
	"fmt"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// controllerKind is the kind ReplicaSets put in their pods' ownerReferences.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")

// podFromTemplate is the pod rs creates: its template's labels,
// annotations, finalizers and spec, a generated name prefixed by rs's, and
// rs as controller.
func podFromTemplate(rs *appsv1.ReplicaSet) (*corev1.Pod, error) {
	t := &rs.Spec.Template
	if len(t.Labels) == 0 {
		return nil, fmt.Errorf("replicaset %s/%s: spec.template.metadata.labels is empty; pods without labels cannot be selected", rs.Namespace, rs.Name)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       rs.Namespace,
			GenerateName:    namePrefix(rs.Name),
			Labels:          maps.Clone(t.Labels),
			Annotations:     maps.Clone(t.Annotations),
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, controllerKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}, nil
}

// namePrefix is "<name>-", or name alone when that would not be a valid
// prefix (a name at the length limit). A prefix may end in a dash, so it is
// checked with a letter in the dash's place.
func namePrefix(name string) string {
	if len(validation.IsDNS1123Subdomain(name+"a")) != 0 {
		return name
	}
	return name + "-"
}
