package gitsync

import (
	"testing"
	"time"
)

func TestFetchDue(t *testing.T) {
	const interval = time.Minute
	cases := []struct {
		name                                      string
		local, triggered, fetchedBefore, sameSpec bool
		sinceLast                                 time.Duration
		want                                      bool
	}{
		{"remote within its interval", false, false, true, true, 10 * time.Second, false},
		{"remote after its interval", false, false, true, true, interval, true},
		{"remote triggered by a webhook", false, true, true, true, time.Second, true},
		{"remote never fetched", false, false, false, true, 0, true},
		{"remote whose ref changed", false, false, true, false, time.Second, true},
		{"local repository", true, false, true, true, time.Millisecond, true},
	}
	for _, c := range cases {
		if got := fetchDue(c.local, c.triggered, c.fetchedBefore, c.sameSpec, c.sinceLast, interval); got != c.want {
			t.Errorf("%s: fetchDue = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSourceKeyFromTheLabel(t *testing.T) {
	for _, c := range []struct{ ns, name string }{{"gitops", "site"}, {"gitops", "web.site"}} {
		if key, ok := sourceKey(SourceLabelValue(c.ns, c.name)); !ok || key != c.ns+"/"+c.name {
			t.Errorf("%s/%s: got %q %v", c.ns, c.name, key, ok)
		}
	}
	if _, ok := sourceKey("nodot"); ok {
		t.Error("a label without a namespace was accepted")
	}
}
