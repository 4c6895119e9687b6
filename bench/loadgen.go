package bench

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// loadgenJob drives one server: Conns connections, one goroutine each, in a closed
// loop (the next request leaves when the answer to the last one is in), each request
// GET /ping/<uuid> of a check drawn uniformly from the Checks seeded ids.
type loadgenJob struct {
	Addr     string        `json:"addr"`
	Checks   int           `json:"checks"`
	Seed     uint64        `json:"seed"`
	Conns    int           `json:"conns"`
	Warmup   time.Duration `json:"warmup"`
	Duration time.Duration `json:"duration"`
}

// loadgenResult counts the requests that left within the measured window; errors
// are counted over the whole run, warm-up included.
type loadgenResult struct {
	Requests      int64      `json:"requests"` // answered 200
	Errors        int64      `json:"errors"`   // transport errors and non-200 answers
	FirstError    string     `json:"first_error,omitempty"`
	WindowSeconds float64    `json:"window_seconds"` // window start to the last counted answer
	CPUSeconds    float64    `json:"cpu_seconds"`    // the generator's own CPU time over the window
	Hist          sparseHist `json:"hist"`           // latency of the counted requests, ns
}

type worker struct {
	h        *hist
	n, errs  int64
	firstErr string
	last     time.Time
}

func runLoadgen(job loadgenJob, w *lineWriter) (loadgenResult, error) {
	start := time.Now()
	warmEnd := start.Add(job.Warmup)
	end := warmEnd.Add(job.Duration)
	workers := make([]worker, job.Conns)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Add(1)
		go func(wk *worker, k int) {
			defer wg.Done()
			wk.h = newHist()
			drive(job, wk, k, warmEnd, end)
		}(&workers[k], k)
	}
	time.Sleep(time.Until(warmEnd))
	cpu0 := selfCPU()
	if err := w.event("start"); err != nil {
		return loadgenResult{}, err
	}
	wg.Wait()
	cpu1 := selfCPU()

	var res loadgenResult
	h := newHist()
	last := warmEnd
	for i := range workers {
		wk := &workers[i]
		h.merge(wk.h)
		res.Requests += wk.n
		res.Errors += wk.errs
		if res.FirstError == "" {
			res.FirstError = wk.firstErr
		}
		if wk.last.After(last) {
			last = wk.last
		}
	}
	res.WindowSeconds = last.Sub(warmEnd).Seconds()
	if res.Requests == 0 {
		res.WindowSeconds = job.Duration.Seconds()
	}
	res.CPUSeconds = (cpu1 - cpu0).Seconds()
	res.Hist = h.sparse()
	return res, nil
}

func drive(job loadgenJob, wk *worker, k int, warmEnd, end time.Time) {
	c := &fasthttp.HostClient{
		Addr:                job.Addr,
		Name:                "vigilo-bench",
		MaxConns:            1,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
		MaxIdleConnDuration: time.Minute,
	}
	defer c.CloseIdleConnections()
	rng := rand.New(rand.NewPCG(job.Seed, uint64(k)))
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	prefix := "http://" + job.Addr + "/ping/"
	uri := make([]byte, 0, len(prefix)+36)
	for {
		uri = appendUUID(append(uri[:0], prefix...), checkID(job.Seed, rng.IntN(job.Checks)))
		req.SetRequestURIBytes(uri)
		t0 := time.Now()
		err := c.Do(req, resp)
		t1 := time.Now()
		switch {
		case err != nil || resp.StatusCode() != fasthttp.StatusOK:
			wk.errs++
			if wk.firstErr == "" {
				if err != nil {
					wk.firstErr = err.Error()
				} else {
					wk.firstErr = resp.String()
				}
			}
			if err != nil {
				time.Sleep(time.Millisecond) // no hot loop against a dead server
			}
		case !t0.Before(warmEnd):
			wk.h.record(t1.Sub(t0))
			wk.n++
			wk.last = t1
		}
		if !t1.Before(end) {
			return
		}
	}
}
