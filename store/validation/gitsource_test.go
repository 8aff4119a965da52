package validation

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

func TestGitSource(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*berthv1alpha1.GitSourceSpec)
		field string // "" means valid
	}{
		{"local path", func(s *berthv1alpha1.GitSourceSpec) {}, ""},
		{"file url", func(s *berthv1alpha1.GitSourceSpec) { s.URL = "file:///srv/repo" }, ""},
		{"https", func(s *berthv1alpha1.GitSourceSpec) { s.URL = "https://github.com/a/b.git" }, ""},
		{"ssh", func(s *berthv1alpha1.GitSourceSpec) { s.URL = "ssh://git@github.com/a/b.git" }, ""},
		{"scp-like", func(s *berthv1alpha1.GitSourceSpec) { s.URL = "git@github.com:a/b.git" }, ""},
		{"tag ref", func(s *berthv1alpha1.GitSourceSpec) { s.Ref = "refs/tags/v1" }, ""},
		{"commit ref", func(s *berthv1alpha1.GitSourceSpec) { s.Ref = "0123456789abcdef0123456789abcdef01234567" }, ""},
		{"no url", func(s *berthv1alpha1.GitSourceSpec) { s.URL = "" }, "spec.url"},
		{"relative path", func(s *berthv1alpha1.GitSourceSpec) { s.URL = "repo" }, "spec.url"},
		{"ftp", func(s *berthv1alpha1.GitSourceSpec) { s.URL = "ftp://host/x" }, "spec.url"},
		{"password in url", func(s *berthv1alpha1.GitSourceSpec) { s.URL = "https://u:secret@host/x" }, "spec.url"},
		{"bad ref", func(s *berthv1alpha1.GitSourceSpec) { s.Ref = "main..x" }, "spec.ref"},
		{"absolute path", func(s *berthv1alpha1.GitSourceSpec) { s.Path = "/etc" }, "spec.path"},
		{"escaping path", func(s *berthv1alpha1.GitSourceSpec) { s.Path = "a/../../b" }, "spec.path"},
		{"short interval", func(s *berthv1alpha1.GitSourceSpec) { s.Interval = &metav1.Duration{Duration: time.Millisecond} }, "spec.interval"},
		{"bad service account", func(s *berthv1alpha1.GitSourceSpec) { s.ServiceAccountName = "Bad_Name" }, "spec.serviceAccountName"},
		{"live branch is ref", func(s *berthv1alpha1.GitSourceSpec) { s.Ref, s.LiveBranch = "main", "main" }, "spec.liveBranch"},
		{"empty secret name", func(s *berthv1alpha1.GitSourceSpec) { s.SecretRef = &corev1.LocalObjectReference{} }, "spec.secretRef.name"},
		{"bad commit status api", func(s *berthv1alpha1.GitSourceSpec) { s.CommitStatusAPI = "api.github.com" }, "spec.commitStatusAPI"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &berthv1alpha1.GitSource{
				ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: "default"},
				Spec:       berthv1alpha1.GitSourceSpec{URL: "/srv/repo", Ref: "main", LiveBranch: "berth/live"},
			}
			c.edit(&g.Spec)
			errs := Validate(g)
			if c.field == "" {
				if len(errs) != 0 {
					t.Fatalf("want valid, got %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != c.field {
				t.Fatalf("want one error on %s, got %v", c.field, errs)
			}
			if strings.Contains(errs.ToAggregate().Error(), "secret@") {
				t.Fatalf("error echoes a credential: %v", errs)
			}
		})
	}
}
