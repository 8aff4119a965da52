package nodeinfo

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// PodInfo is a pod with what the scheduler derives from it once: its
// requests, host ports and parsed inter-pod affinity terms.
type PodInfo struct {
	Pod *corev1.Pod
	// Requests is PodRequests(Pod) with Pods set to 1; NonZeroRequests
	// is PodNonZeroRequests(Pod).
	Requests        Resource
	NonZeroRequests Resource
	// Ports are the host ports the pod's containers ask for.
	Ports []HostPort
	// The pod's inter-pod affinity and anti-affinity terms.
	RequiredAffinity      []AffinityTerm
	RequiredAntiAffinity  []AffinityTerm
	PreferredAffinity     []WeightedAffinityTerm
	PreferredAntiAffinity []WeightedAffinityTerm
}

// AffinityTerm is a parsed corev1.PodAffinityTerm: a pod matches it when
// it is in one of Namespaces or in a namespace whose labels match
// NamespaceSelector, and its labels match Selector.
type AffinityTerm struct {
	Namespaces sets.Set[string]
	// NamespaceSelector is labels.Nothing() when the term has none.
	NamespaceSelector labels.Selector
	Selector          labels.Selector
	TopologyKey       string
}

// WeightedAffinityTerm is a preferred term with its weight (1-100).
type WeightedAffinityTerm struct {
	AffinityTerm
	Weight int32
}

// Matches says whether pod, whose namespace has the labels nsLabels,
// matches the term.
func (t *AffinityTerm) Matches(pod *corev1.Pod, nsLabels labels.Set) bool {
	if !t.Namespaces.Has(pod.Namespace) && !t.NamespaceSelector.Matches(nsLabels) {
		return false
	}
	return t.Selector.Matches(labels.Set(pod.Labels))
}

// NewPodInfo derives a PodInfo from pod. An error names the affinity term
// that could not be parsed (the API server's validation normally prevents
// it); the PodInfo is complete except for that term.
func NewPodInfo(pod *corev1.Pod) (*PodInfo, error) {
	p := &PodInfo{
		Pod:             pod,
		Requests:        PodRequests(pod),
		NonZeroRequests: PodNonZeroRequests(pod),
		Ports:           podHostPorts(pod),
	}
	p.Requests.Pods = 1
	affinity := pod.Spec.Affinity
	if affinity == nil {
		return p, nil
	}
	var errs []error
	if a := affinity.PodAffinity; a != nil {
		p.RequiredAffinity = parseTerms(pod, a.RequiredDuringSchedulingIgnoredDuringExecution, "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution", &errs)
		p.PreferredAffinity = parseWeightedTerms(pod, a.PreferredDuringSchedulingIgnoredDuringExecution, "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution", &errs)
	}
	if a := affinity.PodAntiAffinity; a != nil {
		p.RequiredAntiAffinity = parseTerms(pod, a.RequiredDuringSchedulingIgnoredDuringExecution, "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution", &errs)
		p.PreferredAntiAffinity = parseWeightedTerms(pod, a.PreferredDuringSchedulingIgnoredDuringExecution, "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution", &errs)
	}
	return p, errors.Join(errs...)
}

// HasAffinity says whether the pod has any inter-pod affinity or
// anti-affinity term, required or preferred.
func (p *PodInfo) HasAffinity() bool {
	return len(p.RequiredAffinity)+len(p.RequiredAntiAffinity)+len(p.PreferredAffinity)+len(p.PreferredAntiAffinity) > 0
}

func parseTerms(pod *corev1.Pod, terms []corev1.PodAffinityTerm, path string, errs *[]error) []AffinityTerm {
	var out []AffinityTerm
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i])
		if err != nil {
			*errs = append(*errs, fmt.Errorf("pod %s/%s: %s[%d]: %w", pod.Namespace, pod.Name, path, i, err))
			continue
		}
		out = append(out, t)
	}
	return out
}

func parseWeightedTerms(pod *corev1.Pod, terms []corev1.WeightedPodAffinityTerm, path string, errs *[]error) []WeightedAffinityTerm {
	var out []WeightedAffinityTerm
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i].PodAffinityTerm)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("pod %s/%s: %s[%d].podAffinityTerm: %w", pod.Namespace, pod.Name, path, i, err))
			continue
		}
		out = append(out, WeightedAffinityTerm{AffinityTerm: t, Weight: terms[i].Weight})
	}
	return out
}

// newAffinityTerm parses term. With neither namespaces nor a namespace
// selector, a term applies to the pod's own namespace; an empty namespace
// selector selects every namespace.
func newAffinityTerm(pod *corev1.Pod, term *corev1.PodAffinityTerm) (AffinityTerm, error) {
	selector, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return AffinityTerm{}, fmt.Errorf("labelSelector: %w", err)
	}
	t := AffinityTerm{
		Namespaces:        sets.New(term.Namespaces...),
		NamespaceSelector: labels.Nothing(),
		Selector:          selector,
		TopologyKey:       term.TopologyKey,
	}
	if len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
		t.Namespaces.Insert(pod.Namespace)
	}
	if term.NamespaceSelector != nil {
		if t.NamespaceSelector, err = metav1.LabelSelectorAsSelector(term.NamespaceSelector); err != nil {
			return AffinityTerm{}, fmt.Errorf("namespaceSelector: %w", err)
		}
	}
	return t, nil
}
