package policies

import (
	"testing"
)

// bootstrapAuthorizer loads the embedded bootstrap set, failing the test on
// any error or warning.
func bootstrapAuthorizer(t testing.TB) *Authorizer {
	t.Helper()
	set, err := LoadSources(Bootstrap())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range set.Warnings {
		t.Errorf("warning: %s", w)
	}
	return NewAuthorizer(set)
}

func TestBootstrapLoadsCleanly(t *testing.T) {
	set, err := LoadSources(Bootstrap())
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Warnings) > 0 {
		t.Errorf("warnings: %v", set.Warnings)
	}
	want := []string{
		"admin", "berth:gitsync", "cluster-admin", "edit", "system:basic-user", "system:discovery",
		"system:kube-controller-manager", "system:kube-scheduler", "system:node", "system:node-proxier",
		"system:public-info-viewer", "view",
	}
	var got []string
	for _, cr := range set.ClusterRoles {
		got = append(got, cr.Name)
		if cr.Annotations[SourceAnnotation] == "" {
			t.Errorf("ClusterRole %q has no %s annotation", cr.Name, SourceAnnotation)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("ClusterRoles = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ClusterRoles = %v, want %v", got, want)
		}
	}
}
