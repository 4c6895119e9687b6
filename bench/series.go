package bench

import (
	"math"
	"sync/atomic"
	"time"
)

// SeriesPoint is one step of a time series: what happened in [T, T+step).
type SeriesPoint struct {
	T     float64 `json:"t"`     // seconds from the reference instant (ingest: the measured window's start; deadlines: T0)
	Count uint64  `json:"count"` // events in the step (ingest: pings answered 200; deadlines: due checks taken down)
	P50   float64 `json:"p50"`   // seconds
	P99   float64 `json:"p99"`   // seconds
}

// maxSeriesSteps bounds a series, so that memory stays bounded however long a run.
const maxSeriesSteps = 600

// seriesStep is the step of a series over total: one second when that gives
// enough points to see a trend, finer for the short runs of --quick (a 2.5 s run
// would otherwise be three points), coarser beyond maxSeriesSteps seconds.
func seriesStep(total time.Duration) time.Duration {
	switch {
	case total > maxSeriesSteps*time.Second:
		return (total + maxSeriesSteps - 1) / maxSeriesSteps
	case total >= 20*time.Second:
		return time.Second
	case total >= 5*time.Second:
		return 250 * time.Millisecond
	}
	return 100 * time.Millisecond
}

// timeHist is one latency histogram per step of a run, shared by every
// load-generator connection: a connection's own histogram per step would cost
// conns × steps × 43 KB, this one steps × 43 KB, at the price of an atomic add per
// request (small beside a loopback round trip).
type timeHist struct {
	start  time.Time
	step   time.Duration
	counts [][]atomic.Uint64
}

func newTimeHist(start time.Time, total time.Duration) *timeHist {
	step := seriesStep(total)
	n := int(total/step) + 2 // the last request may end after total
	th := &timeHist{start: start, step: step, counts: make([][]atomic.Uint64, n)}
	for i := range th.counts {
		th.counts[i] = make([]atomic.Uint64, histBuckets)
	}
	return th
}

// record counts a latency d at instant at; safe for concurrent use.
func (th *timeHist) record(at time.Time, d time.Duration) {
	i := int(at.Sub(th.start) / th.step)
	i = min(max(i, 0), len(th.counts)-1)
	th.counts[i][histIndex(int64(d))].Add(1)
}

// series is one point per step; origin is subtracted from every step's start.
func (th *timeHist) series(origin time.Time) []SeriesPoint {
	out := make([]SeriesPoint, 0, len(th.counts))
	for i := range th.counts {
		h := newHist()
		for j := range th.counts[i] {
			if c := th.counts[i][j].Load(); c != 0 {
				h.counts[j] = c
				h.total += c
				h.max = histUpper(j)
			}
		}
		at := th.start.Add(time.Duration(i) * th.step)
		out = append(out, seriesPoint(at.Sub(origin), h))
	}
	// The slack steps at the end are empty unless a request ended late.
	for len(out) > 0 && out[len(out)-1].Count == 0 {
		out = out[:len(out)-1]
	}
	return out
}

func seriesPoint(t time.Duration, h *hist) SeriesPoint {
	return SeriesPoint{
		T:     t.Seconds(),
		Count: h.total,
		P50:   seconds(h.quantile(0.50)),
		P99:   seconds(h.quantile(0.99)),
	}
}

// stepHists is a histogram per step of a run measured after the fact (the
// deadlines scenario's transitions, known once the run is over). Steps before the
// origin are dropped; it grows to at most maxSeriesSteps steps.
type stepHists struct {
	step  time.Duration
	hists []*hist
}

func (s *stepHists) record(sinceOrigin, d time.Duration) {
	if sinceOrigin < 0 {
		return
	}
	i := int(sinceOrigin / s.step)
	if i >= maxSeriesSteps {
		i = maxSeriesSteps - 1
	}
	for len(s.hists) <= i {
		s.hists = append(s.hists, nil)
	}
	if s.hists[i] == nil {
		s.hists[i] = newHist()
	}
	s.hists[i].record(d)
}

func (s *stepHists) series() []SeriesPoint {
	out := make([]SeriesPoint, 0, len(s.hists))
	for i, h := range s.hists {
		if h == nil {
			h = &hist{}
		}
		out = append(out, seriesPoint(time.Duration(i)*s.step, h))
	}
	return out
}

// percentileCurve is h's quantiles from p0 to p99.9, at evenly spaced "nines"
// (x = −log10(1 − q), so 0 is p0, 1 is p90, 2 is p99, 3 is p99.9), in seconds:
// the shape of the tail that three quantiles hide.
func percentileCurve(h *hist) (x, y []float64) {
	if h == nil || h.total == 0 {
		return nil, nil
	}
	const perNine = 20
	for k := 0; k <= 3*perNine; k++ {
		nines := float64(k) / perNine
		q := 1 - math.Pow(10, -nines)
		if k == 0 {
			q = 1 / float64(h.total) // p0: the smallest recorded value's bucket
		}
		x = append(x, nines)
		y = append(y, seconds(h.quantile(q)))
	}
	return x, y
}
