// Package v1alpha1 holds berth's own API kinds, group berth.io, version
// v1alpha1: GitSource, a git repository whose manifests berth keeps the
// cluster in sync with.
//
// It is a shared contract, like k8s.io/api: the API server registers and
// stores the kind, gitsync reads its spec and writes its status, and the
// command line prints it. The types follow Kubernetes API conventions (spec
// and status, metav1.Condition, a List kind) and JSON is their wire and
// storage format.
package v1alpha1
