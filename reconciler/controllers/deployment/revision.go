package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/dump"
)

// Annotations the controller keeps on Deployments and ReplicaSets; kubectl
// rollout history/undo/status read them.
const (
	// RevisionAnnotation is the revision of a ReplicaSet, and on the
	// Deployment the revision of its current (new) ReplicaSet.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists, on a ReplicaSet rolled back to, the
	// revisions it had before.
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation is the Deployment's replicas when the
	// ReplicaSet was last scaled.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// MaxReplicasAnnotation is replicas + maxSurge at that time.
	MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
	// rollbackToAnnotation belongs to the extensions/v1beta1 rollback API;
	// it is never copied to ReplicaSets.
	rollbackToAnnotation = "deprecated.deployment.rollback.to"
	// maxRevisionHistoryChars caps RevisionHistoryAnnotation.
	maxRevisionHistoryChars = 2000
)

// controllerKind is the kind Deployments put in their ReplicaSets'
// ownerReferences.
var controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")

// notCopied are the Deployment annotations a ReplicaSet does not inherit
// (they describe the Deployment or are managed here).
var notCopied = map[string]bool{
	corev1.LastAppliedConfigAnnotation: true,
	RevisionAnnotation:                 true,
	RevisionHistoryAnnotation:          true,
	DesiredReplicasAnnotation:          true,
	MaxReplicasAnnotation:              true,
	rollbackToAnnotation:               true,
}

// computeHash is the pod-template-hash of template, as Kubernetes computes
// it: FNV-32a over a deep dump of the template, plus collisionCount when
// set, rendered in the alphabet of rand.SafeEncodeString.
func computeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// replicaSetName is "<deployment>-<hash>", the deployment's name cut short
// when the whole would exceed the limit of an object name.
func replicaSetName(deployment, hash string) string {
	room := validation.DNS1123SubdomainMaxLength - len(hash) - 1
	if len(deployment) > room && room > 0 {
		deployment = deployment[:room]
	}
	return deployment + "-" + hash
}

// newReplicaSet is the ReplicaSet d's current template needs, with replicas
// pods, revision and the annotations copied from d.
func newReplicaSet(d *appsv1.Deployment, replicas int32, revision int64) *appsv1.ReplicaSet {
	hash := computeHash(&d.Spec.Template, d.Status.CollisionCount)
	template := *d.Spec.Template.DeepCopy()
	template.Labels = withLabel(template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	selector := d.Spec.Selector.DeepCopy()
	if selector == nil {
		selector = &metav1.LabelSelector{}
	}
	selector.MatchLabels = withLabel(selector.MatchLabels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            replicaSetName(d.Name, hash),
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, controllerKind)},
			Labels:          template.Labels,
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        &replicas,
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        template,
		},
	}
	syncReplicaSetAnnotations(d, rs, revision)
	setReplicasAnnotations(rs, desiredReplicas(d), desiredReplicas(d)+maxSurge(d))
	return rs
}

func withLabel(in map[string]string, k, v string) map[string]string {
	out := maps.Clone(in)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

// equalIgnoreHash reports whether two pod templates are the same but for
// the pod-template-hash label (which the Deployment's template lacks).
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// findNewReplicaSet is the ReplicaSet among rss running d's current
// template, the oldest if several do; nil if none.
func findNewReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	sorted := append([]*appsv1.ReplicaSet(nil), rss...)
	sort.SliceStable(sorted, byCreation(sorted))
	for _, rs := range sorted {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

// splitReplicaSets finds the new ReplicaSet of d among rss and returns it
// (nil if none yet) with all the others.
func splitReplicaSets(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) {
	newRS = findNewReplicaSet(d, rss)
	for _, rs := range rss {
		if newRS == nil || rs.UID != newRS.UID {
			old = append(old, rs)
		}
	}
	return newRS, old
}

// revision is obj's RevisionAnnotation, 0 when absent; ok is false when it
// is not a number.
func revision(obj metav1.Object) (rev int64, ok bool) {
	v, found := obj.GetAnnotations()[RevisionAnnotation]
	if !found {
		return 0, true
	}
	rev, err := strconv.ParseInt(v, 10, 64)
	return rev, err == nil
}

// maxRevision is the highest readable revision among rss.
func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var top int64
	for _, rs := range rss {
		if v, ok := revision(rs); ok && v > top {
			top = v
		}
	}
	return top
}

// syncReplicaSetAnnotations brings the new ReplicaSet rs (a copy) up to
// date with d: d's annotations (but notCopied), and revision if rs's is
// lower. A ReplicaSet that had a revision and gets a newer one is being
// rolled back to: its old revision joins its revision history. It reports
// whether rs changed.
func syncReplicaSetAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, revision int64) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range d.Annotations {
		if notCopied[k] {
			continue
		}
		if cur, ok := rs.Annotations[k]; !ok || cur != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	oldText, had := rs.Annotations[RevisionAnnotation]
	old := int64(0)
	if had {
		v, err := strconv.ParseInt(oldText, 10, 64)
		if err != nil {
			// Someone wrote garbage: leave the revision alone.
			return changed
		}
		old = v
	}
	if old >= revision {
		return changed
	}
	rs.Annotations[RevisionAnnotation] = strconv.FormatInt(revision, 10)
	if had {
		rs.Annotations[RevisionHistoryAnnotation] = appendHistory(rs.Annotations[RevisionHistoryAnnotation], oldText)
	}
	return true
}

// appendHistory adds rev to a comma-separated revision history, dropping
// the oldest entries to stay within maxRevisionHistoryChars.
func appendHistory(history, rev string) string {
	var revs []string
	if history != "" {
		revs = strings.Split(history, ",")
	}
	revs = append(revs, rev)
	for len(revs) > 1 && len(strings.Join(revs, ",")) > maxRevisionHistoryChars {
		revs = revs[1:]
	}
	return strings.Join(revs, ",")
}

// setReplicasAnnotations records desired and max on rs (a copy) and
// reports whether they changed.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, max int32) bool {
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range map[string]string{DesiredReplicasAnnotation: fmt.Sprint(desired), MaxReplicasAnnotation: fmt.Sprint(max)} {
		if rs.Annotations[k] != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	return changed
}

// replicasAnnotation reads a non-negative int32 annotation of rs.
func replicasAnnotation(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, err := strconv.ParseUint(rs.Annotations[key], 10, 31)
	if err != nil {
		return 0, false
	}
	return int32(v), true
}

// historyToDelete are the old ReplicaSets beyond d's revisionHistoryLimit
// that may go: the oldest revisions first, only those scaled to zero with
// no pods left and whose status is current.
func historyToDelete(d *appsv1.Deployment, old []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	limit := d.Spec.RevisionHistoryLimit
	if limit == nil || *limit == maxInt32 {
		return nil
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range old {
		if rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	excess := len(alive) - int(*limit)
	if excess <= 0 {
		return nil
	}
	sort.SliceStable(alive, func(i, j int) bool {
		ri, oki := revision(alive[i])
		rj, okj := revision(alive[j])
		if !oki || !okj || ri == rj {
			return byCreation(alive)(i, j)
		}
		return ri < rj
	})
	var out []*appsv1.ReplicaSet
	for _, rs := range alive[:excess] {
		if rs.Status.Replicas == 0 && replicas(rs) == 0 && rs.Generation <= rs.Status.ObservedGeneration {
			out = append(out, rs)
		}
	}
	return out
}

// byCreation orders ReplicaSets oldest first, by name when created at the
// same second.
func byCreation(rss []*appsv1.ReplicaSet) func(i, j int) bool {
	return func(i, j int) bool {
		a, b := rss[i], rss[j]
		if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.Name < b.Name
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
}
