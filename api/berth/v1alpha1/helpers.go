package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition returns the condition of type t, or nil.
func (s *GitSourceStatus) Condition(t string) *metav1.Condition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// ConditionStatus is the status of condition t: "True", "False" or
// "Unknown" (also when the condition is not set).
func (s *GitSourceStatus) ConditionStatus(t string) string {
	if c := s.Condition(t); c != nil {
		return string(c.Status)
	}
	return string(metav1.ConditionUnknown)
}

// ShortCommit is the first 7 characters of a commit hash, as git shows it.
func ShortCommit(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Message is the one line a table shows for the source: the Ready
// condition's message.
func (s *GitSourceStatus) Message() string {
	if c := s.Condition(ConditionReady); c != nil {
		return c.Message
	}
	return ""
}
