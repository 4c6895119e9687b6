package bench

import (
	"math"
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram in nanoseconds: 128 linear sub-buckets
// per power of two, so a recorded value is known to within 0.8%, as an
// HdrHistogram with two significant digits. A quantile is reported as the upper
// bound of its bucket (never below the true value). It is not safe for concurrent
// use: each load-generator connection has its own, merged at the end.
type hist struct {
	counts []uint64
	total  uint64
	sum    float64 // ns
	max    int64   // ns
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histMaxExp  = 40 // values up to 2^(40+7) ns (about 39 hours) keep their precision
	histBuckets = (histMaxExp + 2) * histSub
)

func newHist() *hist { return &hist{counts: make([]uint64, histBuckets)} }

func histIndex(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1 // v>>e is in [128, 256)
	if e > histMaxExp {
		return histBuckets - 1
	}
	return (e+1)*histSub + int(v>>e) - histSub
}

// histUpper is the largest value bucket i holds.
func histUpper(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i/histSub - 1
	m := int64(i%histSub + histSub)
	return (m+1)<<e - 1
}

func (h *hist) record(d time.Duration) {
	v := int64(d)
	h.counts[histIndex(v)]++
	h.total++
	h.sum += float64(v)
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile is the q-quantile (0 < q ≤ 1) in ns, or 0 for an empty histogram.
func (h *hist) quantile(q float64) int64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histUpper(i), h.max)
		}
	}
	return h.max
}

// sparse is the histogram's non-empty buckets, for sending from a child process.
type sparseHist struct {
	Buckets [][2]uint64 `json:"buckets"` // index, count
	Sum     float64     `json:"sum"`
	Max     int64       `json:"max"`
}

func (h *hist) sparse() sparseHist {
	s := sparseHist{Sum: h.sum, Max: h.max}
	for i, c := range h.counts {
		if c != 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return s
}

func (s sparseHist) hist() *hist {
	h := newHist()
	for _, b := range s.Buckets {
		if b[0] < histBuckets {
			h.counts[b[0]] += b[1]
			h.total += b[1]
		}
	}
	h.sum, h.max = s.Sum, s.Max
	return h
}

// Latency is a latency distribution in seconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func (h *hist) latency() Latency {
	l := Latency{
		P50:  seconds(h.quantile(0.50)),
		P99:  seconds(h.quantile(0.99)),
		P999: seconds(h.quantile(0.999)),
		Max:  seconds(h.max),
	}
	if h.total > 0 {
		l.Mean = h.sum / float64(h.total) / 1e9
	}
	return l
}

func seconds(ns int64) float64 { return float64(ns) / 1e9 }
