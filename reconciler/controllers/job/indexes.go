package job

import (
	"slices"
	"strconv"
	"strings"
)

// interval is the closed range of completion indexes first..last.
type interval struct{ first, last int }

// intervals is a set of completion indexes as sorted, disjoint,
// non-adjacent ranges: the form of status.completedIndexes ("1,3-5,7").
type intervals []interval

// parseIntervals reads a completedIndexes string, keeping the indexes
// below completions. Malformed parts are skipped: the status is written by
// this controller, and a bad part must not stop the job.
func parseIntervals(s string, completions int) intervals {
	var ixs intervals
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first {
				continue
			}
		}
		if first >= completions {
			continue
		}
		ixs = append(ixs, interval{first, min(last, completions-1)})
	}
	return ixs.merged()
}

// with is the union of ixs and the given indexes.
func (ixs intervals) with(indexes ...int) intervals {
	out := slices.Clone(ixs)
	for _, ix := range indexes {
		out = append(out, interval{ix, ix})
	}
	return out.merged()
}

// merged sorts ixs and joins the ranges that overlap or touch.
func (ixs intervals) merged() intervals {
	slices.SortFunc(ixs, func(a, b interval) int { return a.first - b.first })
	var out intervals
	for _, iv := range ixs {
		if n := len(out); n > 0 && iv.first <= out[n-1].last+1 {
			out[n-1].last = max(out[n-1].last, iv.last)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// has reports whether ix is in the set.
func (ixs intervals) has(ix int) bool {
	_, found := slices.BinarySearchFunc(ixs, ix, func(iv interval, ix int) int {
		switch {
		case iv.last < ix:
			return -1
		case iv.first > ix:
			return 1
		}
		return 0
	})
	return found
}

// total is the number of indexes in the set.
func (ixs intervals) total() int {
	n := 0
	for _, iv := range ixs {
		n += iv.last - iv.first + 1
	}
	return n
}

// String writes the set as status.completedIndexes does.
func (ixs intervals) String() string {
	var b strings.Builder
	for i, iv := range ixs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(iv.first))
		if iv.last > iv.first {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(iv.last))
		}
	}
	return b.String()
}

// firstPending returns up to count indexes below completions, lowest
// first, that are neither done nor busy (held by a pod).
func firstPending(done intervals, busy []int, count, completions int) []int {
	taken := done.with(busy...)
	var out []int
	next := 0
	for _, iv := range taken {
		for ; next < iv.first && next < completions && len(out) < count; next++ {
			out = append(out, next)
		}
		next = max(next, iv.last+1)
	}
	for ; next < completions && len(out) < count; next++ {
		out = append(out, next)
	}
	return out
}
