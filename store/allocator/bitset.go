package allocator

import "math/bits"

// bitset marks which offsets of a range are taken.
type bitset []uint64

func newBitset(size int) bitset { return make(bitset, (size+63)/64) }

func (b bitset) set(i int)   { b[i/64] |= 1 << (i % 64) }
func (b bitset) clear(i int) { b[i/64] &^= 1 << (i % 64) }

// firstClear returns the lowest offset in [lo, hi) that is not taken.
func (b bitset) firstClear(lo, hi int) (int, bool) {
	for i := lo; i < hi; {
		w := i / 64
		if free := ^b[w] >> (i % 64); free != 0 {
			j := i + bits.TrailingZeros64(free)
			return j, j < hi
		}
		i = (w + 1) * 64
	}
	return 0, false
}

// clearFrom returns the first offset of [lo, hi) that is not taken, looking
// from start (lo <= start < hi) upwards and wrapping around to lo.
func (b bitset) clearFrom(lo, hi, start int) (int, bool) {
	if i, ok := b.firstClear(start, hi); ok {
		return i, true
	}
	return b.firstClear(lo, start)
}

// pickFree chooses the offset AllocateNext tries: a free one in the upper
// band [static, size) from a random point, else a free one in the lower band
// [reserved, static), also from a random point. Offsets below reserved are
// never picked; the lower band is left to requests for a specific item as
// long as the upper band has room, like kube-apiserver's allocators do, so
// that well-known addresses (10.96.0.10 for DNS) are rarely taken by chance.
// random(n) returns a number in [0, n).
func pickFree(taken bitset, reserved, static, size int, random func(n int) int) (int, bool) {
	if static < size {
		if i, ok := taken.clearFrom(static, size, static+random(size-static)); ok {
			return i, true
		}
	}
	if reserved < static {
		return taken.clearFrom(reserved, static, reserved+random(static-reserved))
	}
	return 0, false
}

// staticBand is the size of the lower band of a range of size items, as
// kube-apiserver computes it: size/step clamped to [lo, hi], or 0 for ranges
// smaller than lo.
func staticBand(size, lo, hi, step int) int {
	if size < lo {
		return 0
	}
	return min(max(size/step, lo), hi)
}
