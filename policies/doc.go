// Package policies is berth's authorizer: Kubernetes RBAC, with the policy
// kept as files rather than API objects.
//
// A policy is a set of rbac.authorization.k8s.io/v1 Role, ClusterRole,
// RoleBinding and ClusterRoleBinding objects, written as YAML or JSON files
// (several documents a file) in directories: the bootstrap set compiled
// into the binary (package policies/bootstrap), the --policy-dir
// directories, and the policies folder of each synced git repository,
// which gitsync publishes to every API server (package policies/published)
// and the Store takes as an in-memory source (Store.SetSource).
//
// Load and LoadSources read a policy strictly (unknown fields, duplicate
// keys and invalid objects are errors) and report every problem with its
// file, line, object and field. NewAuthorizer indexes a loaded Set by
// subject and answers requests with Kubernetes RBAC semantics, without
// allocating. Store puts the two together for the API server: it watches
// the directories, reloads them after a change, and swaps the new policy in
// atomically only when it loaded without error, so that a broken file
// never opens access nor drops the policy in force.
//
// Where berth differs from kube-apiserver: RBAC objects are read-only over
// the API (change the files instead); a ClusterRole's aggregationRule is
// evaluated when the files load, not by a controller; and members of
// system:masters are allowed everything by the authorizer itself, whatever
// the files say.
package policies
