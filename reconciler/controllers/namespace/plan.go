package namespace

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// target is a namespaced resource whose objects a deletion removes.
type target struct {
	gvr schema.GroupVersionResource
	// collection says the resource serves deletecollection; otherwise its
	// objects are listed and deleted one by one.
	collection bool
}

// targets picks, from discovery, the namespaced resources a deletion must
// empty: those that can be listed and deleted. Subresources and kinds that
// cannot be deleted (reviews, read-only policy objects) are skipped. Group
// versions that do not parse are returned as errors, the rest still count.
func targets(lists []*metav1.APIResourceList) ([]target, []error) {
	var out []target
	var errs []error
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			errs = append(errs, fmt.Errorf("discovery group version %q: %w", list.GroupVersion, err))
			continue
		}
		for _, r := range list.APIResources {
			if !r.Namespaced || strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") {
				continue
			}
			collection := slices.Contains(r.Verbs, "deletecollection")
			if !collection && !slices.Contains(r.Verbs, "delete") {
				continue
			}
			out = append(out, target{gvr: gv.WithResource(r.Name), collection: collection})
		}
	}
	return out, errs
}

// progress is what one pass over a terminating namespace found.
type progress struct {
	// discovery and parsing are the discovery failures ("" when none).
	discovery, parsing string
	// deleteErrors are the failed deletions and listings.
	deleteErrors []string
	// remaining counts the objects left per resource ("pods" or
	// "deployments.apps"); finalizers counts the objects held by each
	// finalizer.
	remaining  map[string]int
	finalizers map[string]int
}

// done reports whether the namespace may be finalized: everything was
// discovered, deleted and is gone.
func (p progress) done() bool {
	return p.discovery == "" && p.parsing == "" && len(p.deleteErrors) == 0 && len(p.remaining) == 0
}

// resourceName names gvr as kubectl does: resource.group, or the bare
// resource for the core group.
func resourceName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}

// The deletion conditions of a terminating namespace, as Kubernetes reports
// them: each is False with an "ok" reason while all is well, True with what
// is wrong otherwise.
var conditionTypes = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// fine are the reason and message of each condition when it is False.
var fine = map[corev1.NamespaceConditionType][2]string{
	corev1.NamespaceDeletionDiscoveryFailure: {"ResourcesDiscovered", "All resources successfully discovered"},
	corev1.NamespaceDeletionGVParsingFailure: {"ParsedGroupVersions", "All legacy kube types successfully parsed"},
	corev1.NamespaceDeletionContentFailure:   {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
	corev1.NamespaceContentRemaining:         {"ContentRemoved", "All content successfully removed"},
	corev1.NamespaceFinalizersRemaining:      {"ContentHasNoFinalizers", "All content-preserving finalizers finished"},
}

// conditions are the namespace's conditions updated with p, and whether
// any changed. A condition keeps its lastTransitionTime unless its status
// flips. Conditions of other types are kept.
func conditions(old []corev1.NamespaceCondition, p progress, now time.Time) ([]corev1.NamespaceCondition, bool) {
	problems := map[corev1.NamespaceConditionType][2]string{}
	if p.discovery != "" {
		problems[corev1.NamespaceDeletionDiscoveryFailure] = [2]string{"DiscoveryFailed", p.discovery}
	}
	if p.parsing != "" {
		problems[corev1.NamespaceDeletionGVParsingFailure] = [2]string{"GroupVersionParsingFailed", p.parsing}
	}
	if len(p.deleteErrors) > 0 {
		msgs := slices.Sorted(slices.Values(p.deleteErrors))
		problems[corev1.NamespaceDeletionContentFailure] = [2]string{"ContentDeletionFailed",
			fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(msgs), strings.Join(msgs, ", "))}
	}
	if len(p.remaining) > 0 {
		problems[corev1.NamespaceContentRemaining] = [2]string{"SomeResourcesRemain",
			"Some resources are remaining: " + counted(p.remaining, "%s has %d resource instances")}
	}
	if len(p.finalizers) > 0 {
		problems[corev1.NamespaceFinalizersRemaining] = [2]string{"SomeFinalizersRemain",
			"Some content in the namespace has finalizers remaining: " + counted(p.finalizers, "%s in %d resource instances")}
	}
	out := slices.Clone(old)
	changed := false
	for _, t := range conditionTypes {
		want := corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: fine[t][0], Message: fine[t][1]}
		if pr, bad := problems[t]; bad {
			want.Status, want.Reason, want.Message = corev1.ConditionTrue, pr[0], pr[1]
		}
		i := slices.IndexFunc(out, func(c corev1.NamespaceCondition) bool { return c.Type == t })
		if i < 0 {
			want.LastTransitionTime = metav1.NewTime(now)
			out = append(out, want)
			changed = true
			continue
		}
		cur := &out[i]
		if cur.Status == want.Status && cur.Reason == want.Reason && cur.Message == want.Message {
			continue
		}
		want.LastTransitionTime = cur.LastTransitionTime
		if cur.Status != want.Status {
			want.LastTransitionTime = metav1.NewTime(now)
		}
		*cur = want
		changed = true
	}
	return out, changed
}

// counted lists counts in name order with format (name, count).
func counted(counts map[string]int, format string) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf(format, n, counts[n])
	}
	return strings.Join(parts, ", ")
}

// finalized is ns with the "kubernetes" finalizer removed from spec, what
// the finalize subresource is sent once the namespace is empty.
func finalized(ns *corev1.Namespace) *corev1.Namespace {
	out := ns.DeepCopy()
	out.Spec.Finalizers = slices.DeleteFunc(out.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
	return out
}

// ours reports whether ns is being deleted and still waits for this
// controller.
func ours(ns *corev1.Namespace) bool {
	return ns.DeletionTimestamp != nil && slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}
