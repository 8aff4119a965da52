package defaults

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

// GitSource defaults, as the API documents them.
const (
	DefaultGitSourceInterval       = time.Minute
	DefaultGitSourceLiveBranch     = "berth/live"
	DefaultGitSourcePath           = "."
	DefaultGitSourceServiceAccount = "default"
)

func defaultGitSource(g *berthv1alpha1.GitSource) {
	s := &g.Spec
	if s.Interval == nil {
		s.Interval = &metav1.Duration{Duration: DefaultGitSourceInterval}
	}
	if s.Prune == nil {
		prune := true
		s.Prune = &prune
	}
	if s.Path == "" {
		s.Path = DefaultGitSourcePath
	}
	if s.LiveBranch == "" {
		s.LiveBranch = DefaultGitSourceLiveBranch
	}
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = DefaultGitSourceServiceAccount
	}
}
