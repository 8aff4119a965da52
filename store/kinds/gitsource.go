package kinds

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	berthv1alpha1 "github.com/berth-io/berth/api/berth/v1alpha1"
	"github.com/berth-io/berth/store/registry"
)

// berthKinds are berth's own kinds (group berth.io), stored as JSON.
func berthKinds() []*registry.Kind {
	gs := kind(berthv1alpha1.SchemeGroupVersion, "GitSource", "gitsources", "gitsource", true, &berthv1alpha1.GitSource{}, &berthv1alpha1.GitSourceList{})
	gs.ShortNames, gs.Categories, gs.HasStatus = []string{"gs"}, []string{"berth"}, true
	gs.Columns, gs.Cells = gitSourceTable()
	return []*registry.Kind{gs}
}

func gitSourceTable() ([]metav1.TableColumnDefinition, func(runtime.Object) []any) {
	return columns("Name", "URL", "Ref", "Commit", "Ready", "Synced", "Health", "Age", "Path:wide", "Message:wide"), func(o runtime.Object) []any {
		g := o.(*berthv1alpha1.GitSource)
		st := &g.Status
		return []any{g.Name, g.Spec.URL, orNone(g.Spec.Ref), orNone(berthv1alpha1.ShortCommit(st.LastAppliedCommit)),
			st.ConditionStatus(berthv1alpha1.ConditionReady), st.ConditionStatus(berthv1alpha1.ConditionSynced),
			orNone(string(st.Health)), Age(g.CreationTimestamp), orNone(g.Spec.Path), st.Message()}
	}
}
