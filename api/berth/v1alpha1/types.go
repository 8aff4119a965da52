package v1alpha1

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GitSource is a git repository (a branch, tag or commit of it, and a
// directory inside) whose manifests berth applies to the cluster, prunes
// when they leave git, and watches for health and drift.
type GitSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GitSourceSpec   `json:"spec"`
	Status GitSourceStatus `json:"status,omitempty"`
}

// GitSourceList is a list of GitSources.
type GitSourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []GitSource `json:"items"`
}

// GitSourceSpec says which repository to sync and how.
type GitSourceSpec struct {
	// URL is the repository: a local path (absolute), file://, https://
	// (with a token from secretRef) or ssh:// and scp-like user@host:path
	// (with a key and known_hosts from secretRef).
	URL string `json:"url"`
	// Ref is a branch, a tag or a full commit hash. Empty means the
	// remote's HEAD (its default branch).
	Ref string `json:"ref,omitempty"`
	// Path is the directory inside the repository to render; "." is the
	// root.
	Path string `json:"path,omitempty"`
	// Interval is how often the repository is fetched when nothing else
	// triggers a sync (local ref changes and webhooks do, at once).
	Interval *metav1.Duration `json:"interval,omitempty"`
	// Prune deletes objects this source applied once they leave git.
	// Defaults to true.
	Prune *bool `json:"prune,omitempty"`
	// SelfHeal re-applies git's state when a live object drifts, instead
	// of only reporting the drift.
	SelfHeal bool `json:"selfHeal,omitempty"`
	// ServiceAccountName is the ServiceAccount, in the source's namespace,
	// that the sync applies as: a source can change only what that
	// account's RBAC allows. Defaults to "default".
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// LiveBranch is the branch of the same repository that receives the
	// live state of drifted objects. Defaults to "berth/live".
	LiveBranch string `json:"liveBranch,omitempty"`
	// SecretRef names a Secret in the source's namespace with the
	// credentials: "token" (or "username" and "password") for https,
	// "identity" (a private key) and "known_hosts" for ssh,
	// "webhookSecret" for signed webhooks. Never echoed in status or logs.
	SecretRef *corev1.LocalObjectReference `json:"secretRef,omitempty"`
	// Suspend stops syncing; what was applied stays.
	Suspend bool `json:"suspend,omitempty"`
	// CommitStatusAPI, when set, is the base URL of a GitHub-format
	// commit-status API (https://api.github.com) that each commit's sync
	// result is reported to, with the token from secretRef.
	CommitStatusAPI string `json:"commitStatusAPI,omitempty"`
}

// PruneEnabled reports whether objects that leave git are deleted.
func (s *GitSourceSpec) PruneEnabled() bool { return s.Prune == nil || *s.Prune }

// GitSourceStatus is what the last syncs found and did.
type GitSourceStatus struct {
	// ObservedGeneration is the spec generation the status describes.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions are Ready, Synced, Healthy and Drifted.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastFetchedCommit is the commit the ref pointed at on the last
	// successful fetch.
	LastFetchedCommit string `json:"lastFetchedCommit,omitempty"`
	// LastAttemptedCommit is the last commit a sync was attempted for.
	LastAttemptedCommit string `json:"lastAttemptedCommit,omitempty"`
	// LastAppliedCommit is the last commit applied completely: the
	// cluster holds its objects.
	LastAppliedCommit string `json:"lastAppliedCommit,omitempty"`
	// LastSyncTime is when the last sync attempt ended.
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// Health aggregates the inventory's health: Healthy, Progressing or
	// Degraded (empty before the first sync).
	Health HealthStatus `json:"health,omitempty"`
	// Inventory lists the objects the last applied commit holds, with the
	// health of each. Pruning deletes what leaves it.
	Inventory []InventoryEntry `json:"inventory,omitempty"`
	// Errors are the problems of the last attempted commit, each with its
	// file and line when it has one.
	Errors []SyncError `json:"errors,omitempty"`
	// Drift lists the fields of applied objects that live state changed.
	Drift []DriftEntry `json:"drift,omitempty"`
}

// Condition types of a GitSource.
const (
	// ConditionReady: the last fetched commit is applied and healthy.
	ConditionReady = "Ready"
	// ConditionSynced: the last fetched commit is applied.
	ConditionSynced = "Synced"
	// ConditionHealthy: every applied object is healthy.
	ConditionHealthy = "Healthy"
	// ConditionDrifted: a live object differs from git.
	ConditionDrifted = "Drifted"
)

// HealthStatus is the health of an object or of a whole source.
type HealthStatus string

// Health values, from best to worst.
const (
	HealthHealthy     HealthStatus = "Healthy"
	HealthProgressing HealthStatus = "Progressing"
	HealthDegraded    HealthStatus = "Degraded"
	// HealthMissing: the object is in the inventory but not in the cluster.
	HealthMissing HealthStatus = "Missing"
)

// InventoryEntry is one object the source applied.
type InventoryEntry struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// File is where the object is in the repository.
	File    string       `json:"file,omitempty"`
	Health  HealthStatus `json:"health,omitempty"`
	Message string       `json:"message,omitempty"`
}

// String is "Kind namespace/name" or "Kind name".
func (e InventoryEntry) String() string {
	if e.Namespace == "" {
		return e.Kind + " " + e.Name
	}
	return e.Kind + " " + e.Namespace + "/" + e.Name
}

// SyncError is one problem with a commit: a file that does not render,
// an invalid object, an apply the API server refused.
type SyncError struct {
	// File, Line and Column locate the problem in the repository; empty
	// or 0 when it has no place (an unreachable remote).
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	// Object names the object ("Deployment demo/hello"), when known.
	Object string `json:"object,omitempty"`
	// Field is the field path, when known.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String is "file:line:column: object: field: message", leaving out what
// e does not have.
func (e SyncError) String() string {
	s := ""
	switch {
	case e.File != "" && e.Line > 0 && e.Column > 0:
		s = fmt.Sprintf("%s:%d:%d: ", e.File, e.Line, e.Column)
	case e.File != "" && e.Line > 0:
		s = fmt.Sprintf("%s:%d: ", e.File, e.Line)
	case e.File != "":
		s = e.File + ": "
	}
	if e.Object != "" {
		s += e.Object + ": "
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Message
}

// DriftEntry is one field of a live object that differs from git.
type DriftEntry struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Field is the field path, such as "spec.replicas".
	Field string `json:"field"`
	// Git and Live are the values, rendered on one line.
	Git  string `json:"git"`
	Live string `json:"live"`
	// By is who changed it: the field manager (and operation).
	By string `json:"by,omitempty"`
	// Time is when that manager changed the object, when known.
	Time *metav1.Time `json:"time,omitempty"`
}
