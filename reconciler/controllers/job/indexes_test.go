package job

import (
	"slices"
	"testing"
)

func TestParseIntervals(t *testing.T) {
	tests := []struct {
		in          string
		completions int
		want        string
		total       int
	}{
		{"", 5, "", 0},
		{"0", 5, "0", 1},
		{"0-2,4", 5, "0-2,4", 4},
		{"3,1,2", 5, "1-3", 3},
		{"0-1,2-3", 5, "0-3", 4},
		{"1-3,2-4", 10, "1-4", 4},
		{"2-9", 5, "2-4", 3},
		{"7,1", 5, "1", 1},
		{"x,1,3-,-2,4-2", 5, "1", 1},
	}
	for _, tt := range tests {
		ixs := parseIntervals(tt.in, tt.completions)
		if got := ixs.String(); got != tt.want || ixs.total() != tt.total {
			t.Errorf("parseIntervals(%q, %d) = %q (total %d), want %q (total %d)", tt.in, tt.completions, got, ixs.total(), tt.want, tt.total)
		}
	}
}

func TestIntervalsWithAndHas(t *testing.T) {
	ixs := parseIntervals("1-3,7", 10)
	grown := ixs.with(5, 4, 8, 0)
	if got := grown.String(); got != "0-5,7-8" {
		t.Errorf("with = %q, want 0-5,7-8", got)
	}
	if ixs.String() != "1-3,7" {
		t.Errorf("with changed its receiver: %q", ixs.String())
	}
	for ix, want := range map[int]bool{0: true, 5: true, 6: false, 7: true, 8: true, 9: false, -1: false} {
		if got := grown.has(ix); got != want {
			t.Errorf("has(%d) = %v, want %v", ix, got, want)
		}
	}
}

func TestFirstPending(t *testing.T) {
	tests := []struct {
		name        string
		done        string
		busy        []int
		count       int
		completions int
		want        []int
	}{
		{"all free", "", nil, 3, 5, []int{0, 1, 2}},
		{"skips done and busy", "0,2", []int{1, 4}, 3, 6, []int{3, 5}},
		{"stops at completions", "", nil, 10, 3, []int{0, 1, 2}},
		{"nothing left", "0-2", nil, 2, 3, nil},
		{"count zero", "", nil, 0, 3, nil},
		{"busy beyond done", "0-1", []int{2, 3}, 1, 5, []int{4}},
	}
	for _, tt := range tests {
		got := firstPending(parseIntervals(tt.done, tt.completions), tt.busy, tt.count, tt.completions)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: firstPending = %v, want %v", tt.name, got, tt.want)
		}
	}
}
