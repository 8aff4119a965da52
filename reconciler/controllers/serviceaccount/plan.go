package serviceaccount

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultName is the ServiceAccount every namespace gets, the one pods run
// as when they name none.
const DefaultName = "default"

// RootCAConfigMap is the ConfigMap that carries the cluster CA into every
// namespace, under the key RootCAKey, for pods to verify the API server.
const (
	RootCAConfigMap = "kube-root-ca.crt"
	RootCAKey       = "ca.crt"
)

// descriptionAnnotation explains the ConfigMap to whoever reads it.
const descriptionAnnotation = "kubernetes.io/description"

const description = "The certificate authority of this cluster's API server, for clients inside the cluster " +
	"(kubernetes.default.svc, the service IP) to verify it. Maintained by the controller manager; edits are overwritten."

// actions is what a namespace still needs.
type actions struct {
	// createServiceAccount asks for the default ServiceAccount.
	createServiceAccount bool
	// createConfigMap and updateConfigMap carry the root CA ConfigMap to
	// create, or the existing one with its data put right.
	createConfigMap *corev1.ConfigMap
	updateConfigMap *corev1.ConfigMap
}

// plan decides what namespace ns lacks, given whether its default
// ServiceAccount exists and its current root CA ConfigMap (nil when
// missing). A namespace that is being deleted gets nothing: its content is
// on its way out. An empty rootCA publishes no ConfigMap.
func plan(ns *corev1.Namespace, haveServiceAccount bool, configMap *corev1.ConfigMap, rootCA []byte) actions {
	var a actions
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return a
	}
	a.createServiceAccount = !haveServiceAccount
	if len(rootCA) == 0 {
		return a
	}
	if configMap == nil {
		a.createConfigMap = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name:        RootCAConfigMap,
				Namespace:   ns.Name,
				Annotations: map[string]string{descriptionAnnotation: description},
			},
			Data: map[string]string{RootCAKey: string(rootCA)},
		}
		return a
	}
	if configMap.DeletionTimestamp != nil {
		// Recreated once it is gone.
		return a
	}
	_, described := configMap.Annotations[descriptionAnnotation]
	if described && len(configMap.Data) == 1 && configMap.Data[RootCAKey] == string(rootCA) && len(configMap.BinaryData) == 0 {
		return a
	}
	updated := configMap.DeepCopy()
	updated.Data = map[string]string{RootCAKey: string(rootCA)}
	updated.BinaryData = nil
	if !described {
		metav1.SetMetaDataAnnotation(&updated.ObjectMeta, descriptionAnnotation, description)
	}
	a.updateConfigMap = updated
	return a
}
