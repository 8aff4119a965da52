package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The deep copies are written by hand (deepcopy-gen is not part of the
// build); every pointer and slice field is copied below.

// DeepCopyInto copies s into out.
func (s *GitSourceSpec) DeepCopyInto(out *GitSourceSpec) {
	*out = *s
	if s.Interval != nil {
		out.Interval = &metav1.Duration{Duration: s.Interval.Duration}
	}
	if s.Prune != nil {
		p := *s.Prune
		out.Prune = &p
	}
	if s.SecretRef != nil {
		out.SecretRef = &corev1.LocalObjectReference{Name: s.SecretRef.Name}
	}
}

// DeepCopyInto copies s into out.
func (s *GitSourceStatus) DeepCopyInto(out *GitSourceStatus) {
	*out = *s
	if s.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(s.Conditions))
		for i := range s.Conditions {
			s.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
	if s.LastSyncTime != nil {
		out.LastSyncTime = s.LastSyncTime.DeepCopy()
	}
	if s.Inventory != nil {
		out.Inventory = append([]InventoryEntry(nil), s.Inventory...)
	}
	if s.Errors != nil {
		out.Errors = append([]SyncError(nil), s.Errors...)
	}
	if s.Drift != nil {
		out.Drift = make([]DriftEntry, len(s.Drift))
		for i, d := range s.Drift {
			out.Drift[i] = d
			if d.Time != nil {
				out.Drift[i].Time = d.Time.DeepCopy()
			}
		}
	}
}

// DeepCopyInto copies g into out.
func (g *GitSource) DeepCopyInto(out *GitSource) {
	*out = *g
	out.TypeMeta = g.TypeMeta
	g.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	g.Spec.DeepCopyInto(&out.Spec)
	g.Status.DeepCopyInto(&out.Status)
}

// DeepCopy returns a copy of g.
func (g *GitSource) DeepCopy() *GitSource {
	if g == nil {
		return nil
	}
	out := new(GitSource)
	g.DeepCopyInto(out)
	return out
}

// DeepCopyObject returns a copy of g as a runtime.Object.
func (g *GitSource) DeepCopyObject() runtime.Object {
	if c := g.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopyInto copies l into out.
func (l *GitSourceList) DeepCopyInto(out *GitSourceList) {
	*out = *l
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]GitSource, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy returns a copy of l.
func (l *GitSourceList) DeepCopy() *GitSourceList {
	if l == nil {
		return nil
	}
	out := new(GitSourceList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject returns a copy of l as a runtime.Object.
func (l *GitSourceList) DeepCopyObject() runtime.Object {
	if c := l.DeepCopy(); c != nil {
		return c
	}
	return nil
}

// DeepCopy returns a copy of s.
func (s *GitSourceSpec) DeepCopy() *GitSourceSpec {
	if s == nil {
		return nil
	}
	out := new(GitSourceSpec)
	s.DeepCopyInto(out)
	return out
}

// DeepCopy returns a copy of s.
func (s *GitSourceStatus) DeepCopy() *GitSourceStatus {
	if s == nil {
		return nil
	}
	out := new(GitSourceStatus)
	s.DeepCopyInto(out)
	return out
}
