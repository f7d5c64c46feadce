package loadgen

import (
	"math/bits"
	"time"
)

// histogram counts latencies in buckets of at most 1/subBuckets relative
// width (about 1.6%), from 1 ns to about 9 s and one overflow bucket, in a
// fixed amount of memory whatever the number of requests.
type histogram struct {
	counts [exponents * subBuckets]uint64
	n      uint64
	max    time.Duration
}

const (
	subBits    = 6
	subBuckets = 1 << subBits
	exponents  = 34 - subBits + 1
)

func bucketOf(d time.Duration) int {
	v := uint64(max(d, 0))
	if v < subBuckets {
		return int(v)
	}
	e := bits.Len64(v) - subBits // >= 1
	i := e*subBuckets + int(v>>(e-1)&(subBuckets-1))
	return min(i, len(histogram{}.counts)-1)
}

// lowerBound returns the smallest latency of bucket i.
func lowerBound(i int) time.Duration {
	e, s := i/subBuckets, i%subBuckets
	if e == 0 {
		return time.Duration(s)
	}
	return time.Duration(uint64(subBuckets+s) << (e - 1))
}

func (h *histogram) add(d time.Duration) {
	h.counts[bucketOf(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the requests
// fall, as the midpoint of its bucket.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := lowerBound(i), lowerBound(i+1)
			return min((lo+hi)/2, h.max)
		}
	}
	return h.max
}
