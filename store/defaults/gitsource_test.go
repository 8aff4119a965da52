package defaults

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
)

func TestGitSourceDefaults(t *testing.T) {
	g := &berthv1alpha1.GitSource{Spec: berthv1alpha1.GitSourceSpec{URL: "/r"}}
	Default(g)
	s := g.Spec
	if s.Interval.Duration != time.Minute || !s.PruneEnabled() || s.Path != "." || s.LiveBranch != "berth/live" || s.ServiceAccountName != "default" {
		t.Fatalf("defaults not applied: %+v", s)
	}
	off := false
	g = &berthv1alpha1.GitSource{Spec: berthv1alpha1.GitSourceSpec{URL: "/r", Prune: &off, Path: "apps",
		Interval: &metav1.Duration{Duration: time.Hour}, LiveBranch: "live", ServiceAccountName: "deployer"}}
	want := *g.Spec.DeepCopy()
	Default(g)
	if g.Spec.PruneEnabled() || g.Spec.Path != want.Path || g.Spec.Interval.Duration != time.Hour || g.Spec.LiveBranch != "live" || g.Spec.ServiceAccountName != "deployer" {
		t.Fatalf("defaults replaced set values: %+v", g.Spec)
	}
}
