package bench

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// Summary describes a set of latencies: how many, and the nearest-rank
// percentiles a reader compares servers by.
type Summary struct {
	Count int
	P50   time.Duration
	P90   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// Summarize computes the percentiles of ds. It sorts a copy, so ds keeps
// its order; an empty input gives the zero Summary.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return Summary{
		Count: len(sorted),
		P50:   Percentile(sorted, 50),
		P90:   Percentile(sorted, 90),
		P99:   Percentile(sorted, 99),
		Max:   sorted[len(sorted)-1],
	}
}

// Percentile is the nearest-rank p-th percentile (0 < p <= 100) of sorted,
// which must be in ascending order: the smallest value that at least p% of
// the values are less than or equal to. It is 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// MarshalJSON writes the percentiles in milliseconds, the unit people read
// API latencies in.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count int     `json:"count"`
		P50   float64 `json:"p50Ms"`
		P90   float64 `json:"p90Ms"`
		P99   float64 `json:"p99Ms"`
		Max   float64 `json:"maxMs"`
	}{s.Count, millis(s.P50), millis(s.P90), millis(s.P99), millis(s.Max)})
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
