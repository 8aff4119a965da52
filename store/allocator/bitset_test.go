package allocator

import "testing"

func bitsetOf(size int, taken ...int) bitset {
	b := newBitset(size)
	for _, i := range taken {
		b.set(i)
	}
	return b
}

func TestFirstClear(t *testing.T) {
	full70 := make([]int, 70)
	for i := range full70 {
		full70[i] = i
	}
	tests := []struct {
		name   string
		taken  bitset
		lo, hi int
		want   int
		ok     bool
	}{
		{"empty", bitsetOf(10), 0, 10, 0, true},
		{"skips taken", bitsetOf(10, 0, 1, 2), 0, 10, 3, true},
		{"starts at lo", bitsetOf(10), 4, 10, 4, true},
		{"crosses a word", bitsetOf(130, full70[:65]...), 0, 130, 65, true},
		{"free only past hi", bitsetOf(10, 0, 1, 2), 0, 3, 0, false},
		{"empty interval", bitsetOf(10), 5, 5, 0, false},
		{"all taken", bitsetOf(70, full70...), 0, 70, 0, false},
		{"last of a word", bitsetOf(64, full70[:63]...), 0, 64, 63, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.taken.firstClear(tt.lo, tt.hi)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("firstClear(%d, %d) = %d, %v; want %d, %v", tt.lo, tt.hi, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPickFree(t *testing.T) {
	// fixed makes random return r, clamped to the interval.
	fixed := func(r int) func(int) int { return func(n int) int { return min(r, n-1) } }
	tests := []struct {
		name                   string
		taken                  bitset
		reserved, static, size int
		random                 int
		want                   int
		ok                     bool
	}{
		{"upper band from the random point", bitsetOf(32), 1, 16, 32, 5, 21, true},
		{"wraps inside the upper band", bitsetOf(32, 30, 31), 1, 16, 32, 14, 16, true},
		{"lower band when the upper is full", bitsetOf(8, 4, 5, 6, 7), 1, 4, 8, 0, 1, true},
		{"never the reserved offsets", bitsetOf(8, 2, 3, 4, 5, 6, 7), 2, 2, 8, 0, 0, false},
		{"no band: whole range above reserved", bitsetOf(6, 1, 2), 1, 1, 6, 0, 3, true},
		{"full", bitsetOf(4, 0, 1, 2, 3), 0, 0, 4, 2, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := pickFree(tt.taken, tt.reserved, tt.static, tt.size, fixed(tt.random))
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("pickFree = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestStaticBand(t *testing.T) {
	tests := []struct {
		size, want int
	}{
		{6, 0},       // a /29: too small for a band
		{254, 16},    // a /24: at least 16
		{65534, 256}, // a /16: at most 256
		{4094, 255},  // a /20: size/16
	}
	for _, tt := range tests {
		if got := staticBand(tt.size, 16, 256, 16); got != tt.want {
			t.Errorf("staticBand(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}
