package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram is a log-linear histogram of microsecond latencies, safe for
// concurrent use. Values below 64 µs are exact; above, each power of two is
// split into 64 buckets, so a reported percentile is within 1% of the true
// value. Values are capped at 2^41 µs (about 25 days).
type histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Uint64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histMaxExp  = 40
	histBuckets = (histMaxExp - histSubBits + 2) * histSub
)

func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	v = min(v, 1<<(histMaxExp+1)-1)
	exp := bits.Len64(v) - 1
	sub := int(v>>(exp-histSubBits)) & (histSub - 1)
	return (exp-histSubBits+1)*histSub + sub
}

// histValue is the middle of bucket b.
func histValue(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	exp := b/histSub + histSubBits - 1
	sub := uint64(b % histSub)
	width := uint64(1) << (exp - histSubBits)
	return (histSub+sub)<<(exp-histSubBits) + width/2
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[histBucket(us)].Add(1)
	h.total.Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// histSnapshot is a point-in-time copy of a histogram.
type histSnapshot struct {
	counts [histBuckets]uint64
	total  uint64
	max    uint64
}

// snapshot copies h; with reset it also empties h (bucket by bucket, so a
// concurrent record may land on either side, which is fine for progress).
func (h *histogram) snapshot(s *histSnapshot, reset bool) {
	s.total = 0
	for i := range h.counts {
		if reset {
			s.counts[i] = h.counts[i].Swap(0)
		} else {
			s.counts[i] = h.counts[i].Load()
		}
		s.total += s.counts[i]
	}
	if reset {
		h.total.Store(0)
		s.max = h.max.Swap(0)
	} else {
		s.max = h.max.Load()
	}
}

// quantile returns the q-quantile (0 < q <= 1); 0 when empty.
func (s *histSnapshot) quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.total)))
	rank = max(rank, 1)
	var seen uint64
	for b, c := range s.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(histValue(b), s.max)) * time.Microsecond
		}
	}
	return time.Duration(s.max) * time.Microsecond
}
