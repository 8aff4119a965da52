package allocator

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestPlanRepair(t *testing.T) {
	ports := portItems{min: 30000, size: 100}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cutoff := now.Add(-time.Minute)
	old, young := now.Add(-time.Hour), now.Add(-time.Second)
	tests := []struct {
		name string
		held map[int]heldItem
		uses []Use
		want repairPlan
	}{
		{
			name: "in sync",
			held: map[int]heldItem{80: {owner: "default/web", allocated: old, rev: 7}},
			uses: []Use{{Item: "30080", Owner: "default/web"}},
		},
		{
			name: "leak older than grace is released",
			held: map[int]heldItem{80: {owner: "default/gone", allocated: old, rev: 7}},
			want: repairPlan{release: []repairChange{{offset: 80, rev: 7}}},
		},
		{
			name: "leak of unknown age is released",
			held: map[int]heldItem{80: {owner: "default/gone", rev: 7}},
			want: repairPlan{release: []repairChange{{offset: 80, rev: 7}}},
		},
		{
			name: "young unused allocation is kept",
			held: map[int]heldItem{80: {owner: "default/creating", allocated: young, rev: 7}},
		},
		{
			name: "missing allocation is recorded",
			uses: []Use{{Item: "30080", Owner: "default/web"}},
			want: repairPlan{record: []repairChange{{offset: 80, owner: "default/web"}}},
		},
		{
			name: "allocation of another owner is taken over",
			held: map[int]heldItem{80: {owner: "default/old", allocated: young, rev: 7}},
			uses: []Use{{Item: "30080", Owner: "default/web"}},
			want: repairPlan{record: []repairChange{{offset: 80, owner: "default/web", rev: 7}}},
		},
		{
			name: "same owner twice (TCP and UDP) is fine",
			uses: []Use{{Item: "30053", Owner: "kube-system/dns"}, {Item: "30053", Owner: "kube-system/dns"}},
			want: repairPlan{record: []repairChange{{offset: 53, owner: "kube-system/dns"}}},
		},
		{
			name: "two owners of one item is a problem, the first keeps it",
			uses: []Use{{Item: "30080", Owner: "default/a"}, {Item: "30080", Owner: "default/b"}},
			want: repairPlan{
				record:   []repairChange{{offset: 80, owner: "default/a"}},
				problems: []string{"port 30080 is held by both default/a and default/b"},
			},
		},
		{
			name: "item outside the range is a problem",
			uses: []Use{{Item: "8080", Owner: "default/web"}},
			want: repairPlan{problems: []string{"port 8080 of default/web is not in the valid range 30000-30099"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planRepair(tt.held, tt.uses, ports, "port", "30000-30099", cutoff)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan = %+v\nwant   %+v", got, tt.want)
			}
		})
	}
}

func TestRepair(t *testing.T) {
	ctx := context.Background()
	srv := startEtcd(t)
	a := newTestPorts(t, srv.Client(t), 30000, 30099)

	// A Service that was stored (30001), one whose create failed after
	// allocating (30002), one being created right now (30003), and one
	// stored without an allocation (30004), e.g. restored from a backup.
	for _, p := range []int{30001, 30002} {
		if err := a.Allocate(ctx, p, fmt.Sprint("default/svc", p)); err != nil {
			t.Fatal(err)
		}
	}
	backdate(t, a.r, 30001, 30002)
	if err := a.Allocate(ctx, 30003, "default/creating"); err != nil {
		t.Fatal(err)
	}
	// A key that is not a port of the range is reported, not touched.
	if _, err := a.r.client.Put(ctx, NodePortPrefix+"garbage", "x"); err != nil {
		t.Fatal(err)
	}
	inUse := func(context.Context) ([]Use, error) {
		return []Use{{Item: "30001", Owner: "default/svc30001"}, {Item: "30004", Owner: "default/restored"}}, nil
	}

	report, err := a.Repair(ctx, time.Minute, inUse)
	if err != nil {
		t.Fatal(err)
	}
	want := RepairReport{
		Released: []string{"30002"},
		Recorded: []string{"30004"},
		Problems: []string{"key " + NodePortPrefix + "garbage names no port of 30000-30099; left alone"},
	}
	if !reflect.DeepEqual(report, want) {
		t.Errorf("report = %+v\nwant     %+v", report, want)
	}
	if got := allocatedPorts(t, a); !slices.Equal(got, []string{"30001", "30003", "30004"}) {
		t.Errorf("allocated after repair: %v, want 30001 30003 30004", got)
	}

	// A second run finds nothing to do.
	report, err = a.Repair(ctx, time.Minute, inUse)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Released)+len(report.Recorded) != 0 {
		t.Errorf("second repair changed %+v, want nothing", report)
	}
}
