package deployment

import (
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}
}

func TestComputeHash(t *testing.T) {
	a, b := template("nginx:1"), template("nginx:2")
	// The hash names every ReplicaSet: a change in how it is computed would
	// restart every Deployment's pods on upgrade.
	if got := computeHash(&a, nil); got != "6bcddfc897" {
		t.Errorf("hash of the reference template = %q; it must not change", got)
	}
	if computeHash(&a, nil) == computeHash(&b, nil) {
		t.Error("different templates hash alike")
	}
	if computeHash(&a, nil) == computeHash(&a, ptr(int32(1))) || computeHash(&a, ptr(int32(1))) == computeHash(&a, ptr(int32(2))) {
		t.Error("collisionCount does not change the hash")
	}
	if h := computeHash(&a, nil); strings.ContainsAny(h, "aeiou013") {
		t.Errorf("hash %q uses letters outside SafeEncodeString's alphabet", h)
	}
}

func TestReplicaSetName(t *testing.T) {
	if got := replicaSetName("web", "5d8f"); got != "web-5d8f" {
		t.Errorf("got %q", got)
	}
	long := replicaSetName(strings.Repeat("d", 260), "5d8f")
	if len(long) != validation.DNS1123SubdomainMaxLength || !strings.HasSuffix(long, "-5d8f") {
		t.Errorf("a long name is %d chars (%q...): want it cut to the limit, keeping the hash", len(long), long[:10])
	}
}

func TestNewReplicaSet(t *testing.T) {
	d := deployment(4, i(1), i(0))
	d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	d.Spec.Template = template("nginx:1")
	d.Spec.MinReadySeconds = 5
	d.Annotations = map[string]string{"team": "a", RevisionAnnotation: "9", corev1.LastAppliedConfigAnnotation: "{}"}
	rs := newReplicaSet(d, 2, 3)
	hash := computeHash(&d.Spec.Template, nil)
	checks := map[string]bool{
		"name is <deployment>-<hash>":          rs.Name == "web-"+hash,
		"template labelled with the hash":      rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == hash && rs.Spec.Template.Labels["app"] == "web",
		"selector requires the hash":           rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] == hash,
		"the Deployment's template untouched":  d.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == "" && d.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] == "",
		"controlled by the Deployment":         metav1.IsControlledBy(rs, d),
		"replicas and minReadySeconds":         *rs.Spec.Replicas == 2 && rs.Spec.MinReadySeconds == 5,
		"revision":                             rs.Annotations[RevisionAnnotation] == "3",
		"desired and max replicas annotations": rs.Annotations[DesiredReplicasAnnotation] == "4" && rs.Annotations[MaxReplicasAnnotation] == "5",
		"the Deployment's annotations copied":  rs.Annotations["team"] == "a",
		"last-applied not copied":              rs.Annotations[corev1.LastAppliedConfigAnnotation] == "",
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: %+v", what, rs)
		}
	}
}

func TestSyncReplicaSetAnnotations(t *testing.T) {
	d := deployment(1, i(1), i(0))
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "v2"}
	cases := []struct {
		name        string
		annotations map[string]string
		revision    int64
		wantChanged bool
		wantRev     string
		wantHistory string
	}{
		{"a fresh ReplicaSet gets the revision", map[string]string{}, 1, true, "1", ""},
		{"up to date", map[string]string{"kubernetes.io/change-cause": "v2", RevisionAnnotation: "4"}, 4, false, "4", ""},
		{"a newer revision is kept", map[string]string{"kubernetes.io/change-cause": "v2", RevisionAnnotation: "7"}, 4, false, "7", ""},
		{"rolled back to: the old revision joins the history", map[string]string{"kubernetes.io/change-cause": "v2", RevisionAnnotation: "2"}, 5, true, "5", "2"},
		{"history grows", map[string]string{"kubernetes.io/change-cause": "v2", RevisionAnnotation: "5", RevisionHistoryAnnotation: "2"}, 8, true, "8", "2,5"},
		{"annotations follow the Deployment", map[string]string{"kubernetes.io/change-cause": "v1", RevisionAnnotation: "4"}, 4, true, "4", ""},
		{"a garbage revision is left alone", map[string]string{"kubernetes.io/change-cause": "v2", RevisionAnnotation: "x"}, 4, false, "x", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Annotations: tc.annotations}}
			changed := syncReplicaSetAnnotations(d, rs, tc.revision)
			if changed != tc.wantChanged || rs.Annotations[RevisionAnnotation] != tc.wantRev || rs.Annotations[RevisionHistoryAnnotation] != tc.wantHistory {
				t.Fatalf("changed %v annotations %v; want changed %v revision %s history %q", changed, rs.Annotations, tc.wantChanged, tc.wantRev, tc.wantHistory)
			}
			if rs.Annotations["kubernetes.io/change-cause"] != "v2" {
				t.Fatalf("change-cause not copied: %v", rs.Annotations)
			}
		})
	}
}

func TestAppendHistoryStaysWithinLimit(t *testing.T) {
	h := ""
	for n := range 1000 {
		h = appendHistory(h, strconv.Itoa(n))
	}
	if len(h) > maxRevisionHistoryChars || !strings.HasSuffix(h, ",999") || strings.HasPrefix(h, "0,") {
		t.Fatalf("history is %d chars, ends %q", len(h), h[len(h)-10:])
	}
}

func TestSplitReplicaSets(t *testing.T) {
	d := deployment(1, i(1), i(0))
	d.Spec.Template = template("nginx:2")
	withTemplate := func(name, image string, age time.Duration) *appsv1.ReplicaSet {
		rs := replicaSet(name, 1, 1, age)
		rs.Spec.Template = template(image)
		rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = name
		return rs
	}
	v1 := withTemplate("v1", "nginx:1", 3*time.Hour)
	v2 := withTemplate("v2", "nginx:2", 2*time.Hour)
	v2dup := withTemplate("v2-dup", "nginx:2", time.Hour)
	newRS, old := splitReplicaSets(d, []*appsv1.ReplicaSet{v2dup, v1, v2})
	if newRS != v2 {
		t.Fatalf("new ReplicaSet %v, want the oldest with the current template", newRS.Name)
	}
	if len(old) != 2 || old[0] != v2dup || old[1] != v1 {
		t.Fatalf("old ReplicaSets %v", old)
	}
	if newRS, old := splitReplicaSets(d, []*appsv1.ReplicaSet{v1}); newRS != nil || len(old) != 1 {
		t.Fatalf("no ReplicaSet has the template: new %v old %v", newRS, old)
	}
}

func TestMaxRevision(t *testing.T) {
	rss := []*appsv1.ReplicaSet{
		replicaSet("a", 0, 0, 0, RevisionAnnotation, "3"),
		replicaSet("b", 0, 0, 0, RevisionAnnotation, "garbage"),
		replicaSet("c", 0, 0, 0, RevisionAnnotation, "11"),
		replicaSet("d", 0, 0, 0),
	}
	if got := maxRevision(rss); got != 11 {
		t.Fatalf("maxRevision = %d, want 11", got)
	}
}
