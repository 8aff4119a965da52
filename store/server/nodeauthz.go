package server

import (
	"context"
	"fmt"
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-io/berth/policies"
	"github.com/berth-io/berth/store/apiserver"
	"github.com/berth-io/berth/store/registry"
)

// Node identities. A kubelet authenticates as NodeUserPrefix+<node name>
// in NodesGroup; the bootstrap role system:node says what any node may
// do, and node authorization narrows its writes to its own objects (as
// kube-apiserver's Node authorizer and NodeRestriction admission do):
//
//   - Node <name>: create, update, patch (and nodes/status) of its own Node
//     only, without changing its pod CIDRs, taints or provider ID, and
//     without labels under node-role.kubernetes.io/ or
//     node-restriction.kubernetes.io/;
//   - Lease kube-node-lease/<name>: create, update, patch, delete of its own Lease only;
//   - pods: update/patch pods/status, delete and evict only pods whose
//     spec.nodeName is the node.
//
// Reads are not narrowed: a node may read every pod, secret, configmap and
// service its role grants (upstream limits secrets and configmaps to those
// of the node's pods; berth does not track that graph). A user in
// NodesGroup whose name is not NodeUserPrefix+<node> may do nothing.
//
// Simulated nodes (agents/hollow) register many Nodes with one identity:
// they run as a user in HollowNodesGroup, which the bootstrap policy binds
// to the same system:node role but which node authorization does not narrow.
const (
	NodeUserPrefix   = "system:node:"
	HollowNodesGroup = "berth:hollow-nodes"
	// HollowUser is the identity `berth hollow` fleets run as, in
	// HollowNodesGroup.
	HollowUser = "berth:hollow"
)

// NodeUser is the user name of the node called node.
func NodeUser(node string) string { return NodeUserPrefix + node }

// nodeOf says which node a user acts for: the name after NodeUserPrefix
// for a user in NodesGroup. isNode is false for everyone else; a user in
// NodesGroup without a node name gets isNode true and node "".
func nodeOf(user string, groups []string) (node string, isNode bool) {
	if !slices.Contains(groups, NodesGroup) {
		return "", false
	}
	node, _ = strings.CutPrefix(user, NodeUserPrefix)
	if node == user {
		return "", true
	}
	return node, true
}

// nodeAuthorizer narrows what node identities may do before the RBAC
// policies decide: the name-scoped half of node authorization (the
// object-scoped half, which needs the stored object, is nodeRestriction).
type nodeAuthorizer struct{ next policyAuthorizer }

// Authorize denies a node's requests that name another node's objects
// and leaves every other request to the policies.
func (n nodeAuthorizer) Authorize(a policies.Attributes) (bool, string) {
	if node, isNode := nodeOf(a.User, a.Groups); isNode {
		if reason := nodeDenial(node, a); reason != "" {
			return false, reason
		}
	}
	return n.next.Authorize(a)
}

// nodeDenial is why node may not make request a, or "" when node
// authorization has no objection (RBAC still decides). node "" is a user
// in the nodes group without a node name.
func nodeDenial(node string, a policies.Attributes) string {
	if node == "" {
		return fmt.Sprintf("user %q is in group %s but is not named %s<node name>: node credentials must name their node", a.User, NodesGroup, NodeUserPrefix)
	}
	if !a.ResourceRequest || a.Name == "" || a.Name == node {
		return "" // creates and lists carry no name: admission checks creates
	}
	switch {
	case a.APIGroup == "" && a.Resource == "nodes" && isWrite(a.Verb):
		return fmt.Sprintf("node %q may only change its own Node, not %q", node, a.Name)
	case a.APIGroup == coordinationv1.GroupName && a.Resource == "leases" && a.Namespace == corev1.NamespaceNodeLease && isWrite(a.Verb):
		return fmt.Sprintf("node %q may only write its own Lease %s/%s, not %q", node, corev1.NamespaceNodeLease, node, a.Name)
	}
	return ""
}

func isWrite(verb string) bool {
	switch verb {
	case "create", "update", "patch", "delete", "deletecollection":
		return true
	}
	return false
}

// nodeRestriction is the admission half of node authorization: a node
// may create only its own Node and Lease, and change or delete only the
// pods bound to it. Other writes and users pass to next unchanged.
type nodeRestriction struct{ next apiserver.Admission }

// Admit rejects a node's write to objects that are not its own, then
// runs the rest of admission.
func (n nodeRestriction) Admit(ctx context.Context, req *apiserver.AdmissionRequest) (func(bool), error) {
	if req.User != nil {
		if node, isNode := nodeOf(req.User.Name, req.User.Groups); isNode {
			if reason := nodeWriteDenial(node, req); reason != "" {
				return nil, apierrors.NewForbidden(req.Kind.GroupResource(), req.Name, fmt.Errorf("%s", reason))
			}
		}
	}
	return n.next.Admit(ctx, req)
}

// Released tells the rest of admission that an object left storage.
func (n nodeRestriction) Released(ctx context.Context, kind *registry.Kind, obj runtime.Object) {
	n.next.Released(ctx, kind, obj)
}

// nodeWriteDenial is why node may not make the write req, or "".
func nodeWriteDenial(node string, req *apiserver.AdmissionRequest) string {
	if node == "" {
		return fmt.Sprintf("user %q is in group %s but is not named %s<node name>", req.User.Name, NodesGroup, NodeUserPrefix)
	}
	switch {
	case isKind(req.Kind, "", "Node"):
		if req.Name != node {
			return fmt.Sprintf("node %q may only register and change its own Node, not %q", node, req.Name)
		}
		if n, ok := req.Object.(*corev1.Node); ok && req.Subresource == "" {
			old, _ := req.Old.(*corev1.Node)
			return ownNodeDenial(n, old)
		}
	case isKind(req.Kind, coordinationv1.GroupName, "Lease"):
		if req.Namespace == corev1.NamespaceNodeLease && req.Name != node {
			return fmt.Sprintf("node %q may only write its own Lease %s/%s, not %q", node, corev1.NamespaceNodeLease, node, req.Name)
		}
	case isKind(req.Kind, "", "Pod"):
		if req.Operation == apiserver.Create {
			return fmt.Sprintf("node %q may not create pods (berth has no static pods)", node)
		}
		if old, ok := req.Old.(*corev1.Pod); ok && old.Spec.NodeName != node {
			return fmt.Sprintf("node %q may only change pods bound to it; pod %s/%s is bound to %q", node, req.Namespace, req.Name, old.Spec.NodeName)
		}
	}
	return ""
}

// restrictedLabelPrefixes are label domains a node may not set on
// itself, as upstream's NodeRestriction: they place workloads (an admin
// labels nodes for them) or claim a role.
var restrictedLabelPrefixes = []string{"node-restriction.kubernetes.io/", "node-role.kubernetes.io/"}

// ownNodeDenial is why a node may not write its own Node as next (old is
// the stored one, nil on create), or "": it may not change what the
// control plane or an admin decides — its pod CIDRs, its taints (after
// registering with them), its provider ID — nor give itself restricted
// labels.
func ownNodeDenial(next, old *corev1.Node) string {
	for k, v := range next.Labels {
		for _, prefix := range restrictedLabelPrefixes {
			if strings.HasPrefix(k, prefix) && !hasLabel(old, k, v) {
				return fmt.Sprintf("node %q may not set label %s on itself: labels under %s are for administrators", next.Name, k, prefix)
			}
		}
	}
	if old == nil {
		return ""
	}
	switch {
	case next.Spec.PodCIDR != old.Spec.PodCIDR || !slices.Equal(next.Spec.PodCIDRs, old.Spec.PodCIDRs):
		return fmt.Sprintf("node %q may not change its spec.podCIDR(s): the node lifecycle controller allocates them", next.Name)
	case !apiequality.Semantic.DeepEqual(next.Spec.Taints, old.Spec.Taints):
		return fmt.Sprintf("node %q may not change its own taints", next.Name)
	case next.Spec.ProviderID != old.Spec.ProviderID:
		return fmt.Sprintf("node %q may not change its spec.providerID", next.Name)
	}
	return ""
}

// hasLabel says whether node (nil: none) has label k with value v.
func hasLabel(node *corev1.Node, k, v string) bool {
	if node == nil {
		return false
	}
	have, ok := node.Labels[k]
	return ok && have == v
}

func isKind(k *registry.Kind, group, kind string) bool {
	return k != nil && k.GVK.Group == group && k.GVK.Kind == kind
}
