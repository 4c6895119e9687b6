package bench

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
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

	// Label names the server in the progress lines the generator prints.
	Label string `json:"label,omitempty"`
	// Prefix is the ping URL up to the uuid when it is not http://Addr/ping/ (a
	// --target with a path or https); TLS says the connection is TLS.
	Prefix string `json:"prefix,omitempty"`
	TLS    bool   `json:"tls,omitempty"`
	// IDsFile, if set, names a file of check uuids, one a line, to ping instead of
	// the Checks seeded ones: the checks a --target run created through the API. A
	// file, because a million ids do not fit in an environment variable.
	IDsFile string `json:"ids_file,omitempty"`
	// Addrs, if set, spreads the connections over several servers (a
	// cluster's nodes), connection k on Addrs[k % len]; Addr is then unused.
	Addrs []string `json:"addrs,omitempty"`
	// CountPerCheck makes the result count the pings answered 200 per check
	// (in IDsFile order), warm-up included: what must be in the checks'
	// logs afterwards.
	CountPerCheck bool `json:"count_per_check,omitempty"`
}

// loadgenResult counts the requests that left within the measured window; errors
// are counted over the whole run, warm-up included.
type loadgenResult struct {
	Requests int64 `json:"requests"` // answered 200
	// Answered is every ping answered 200, warm-up included, and Acked the
	// same per check with CountPerCheck.
	Answered int64   `json:"answered"`
	Acked    []int64 `json:"acked,omitempty"`
	// ErrorsByAddr splits Errors by server, with Addrs.
	ErrorsByAddr  map[string]int64 `json:"errors_by_addr,omitempty"`
	Errors        int64            `json:"errors"` // transport errors and non-200 answers
	FirstError    string           `json:"first_error,omitempty"`
	WindowSeconds float64          `json:"window_seconds"` // window start to the last counted answer
	CPUSeconds    float64          `json:"cpu_seconds"`    // the generator's own CPU time over the window
	Hist          sparseHist       `json:"hist"`           // latency of the counted requests, ns
	// Series is latency and answers per step over the whole run, warm-up
	// included (negative T), as the --report charts draw them.
	Series            []SeriesPoint `json:"series,omitempty"`
	SeriesStepSeconds float64       `json:"series_step_seconds,omitempty"`
}

type worker struct {
	h        *hist
	n, errs  int64
	firstErr string
	last     time.Time
}

// target is where a generator sends its pings.
type target struct {
	addr, prefix string
	tls          bool
	ids          []uuid.UUID // nil: the seeded checkID(seed, i), i < checks
	checks       int
}

func (job loadgenJob) target() (target, error) {
	t := target{addr: job.Addr, prefix: job.Prefix, tls: job.TLS, checks: job.Checks}
	if t.prefix == "" {
		t.prefix = "http://" + job.Addr + "/ping/"
	}
	if job.IDsFile != "" {
		ids, err := readIDs(job.IDsFile)
		if err != nil {
			return t, err
		}
		if len(ids) == 0 {
			return t, fmt.Errorf("%s: no check ids", job.IDsFile)
		}
		t.ids, t.checks = ids, len(ids)
	}
	if t.checks < 1 {
		return t, fmt.Errorf("no checks to ping")
	}
	return t, nil
}

func readIDs(path string) ([]uuid.UUID, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("check ids: %w", err)
	}
	defer f.Close()
	var ids []uuid.UUID
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		id, err := uuid.Parse(line)
		if err != nil {
			return nil, fmt.Errorf("check ids: %s line %d: %w", path, len(ids)+1, err)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("check ids: %s: %w", path, err)
	}
	return ids, nil
}

func runLoadgen(job loadgenJob, w *lineWriter) (loadgenResult, error) {
	tgt, err := job.target()
	if err != nil {
		return loadgenResult{}, err
	}
	start := time.Now()
	warmEnd := start.Add(job.Warmup)
	end := warmEnd.Add(job.Duration)
	th := newTimeHist(start, job.Warmup+job.Duration)
	var answered, failed atomic.Int64
	var acked []atomic.Int64
	if job.CountPerCheck {
		acked = make([]atomic.Int64, tgt.checks)
	}
	workers := make([]worker, job.Conns)
	var wg sync.WaitGroup
	for k := range workers {
		wg.Add(1)
		go func(wk *worker, k int) {
			defer wg.Done()
			wk.h = newHist()
			t := tgt
			if len(job.Addrs) > 0 {
				t.addr = job.Addrs[k%len(job.Addrs)]
				t.prefix = "http://" + t.addr + "/ping/"
			}
			drive(job, t, wk, k, warmEnd, end, th, &answered, &failed, acked)
		}(&workers[k], k)
	}
	stopProgress := loadgenProgress(job.Label, &answered, &failed)
	time.Sleep(time.Until(warmEnd))
	cpu0 := selfCPU()
	if err := w.event("start"); err != nil {
		stopProgress()
		return loadgenResult{}, err
	}
	wg.Wait()
	cpu1 := selfCPU()
	stopProgress()

	var res loadgenResult
	h := newHist()
	last := warmEnd
	for i := range workers {
		wk := &workers[i]
		h.merge(wk.h)
		res.Requests += wk.n
		res.Errors += wk.errs
		if len(job.Addrs) > 0 {
			if res.ErrorsByAddr == nil {
				res.ErrorsByAddr = map[string]int64{}
			}
			res.ErrorsByAddr[job.Addrs[i%len(job.Addrs)]] += wk.errs
		}
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
	res.Answered = answered.Load()
	for i := range acked {
		res.Acked = append(res.Acked, acked[i].Load())
	}
	res.Hist = h.sparse()
	res.Series = th.series(warmEnd)
	res.SeriesStepSeconds = th.step.Seconds()
	return res, nil
}

// loadgenProgress prints, once a second on stderr (the parent's progress writer),
// how many pings have been answered so far: a long run is otherwise silent.
func loadgenProgress(label string, answered, failed *atomic.Int64) (stop func()) {
	if label == "" {
		label = "load"
	}
	var last int64
	return everySecond(func(elapsed time.Duration) {
		n := answered.Load()
		fmt.Fprintf(os.Stderr, "bench: %s: %.0fs, %d pings answered (%d/s), %d errors\n",
			label, elapsed.Seconds(), n, n-last, failed.Load())
		last = n
	})
}

func drive(job loadgenJob, tgt target, wk *worker, k int, warmEnd, end time.Time, th *timeHist, answered, failed *atomic.Int64, acked []atomic.Int64) {
	c := &fasthttp.HostClient{
		Addr:                tgt.addr,
		IsTLS:               tgt.tls,
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
	uri := make([]byte, 0, len(tgt.prefix)+36)
	for {
		var id uuid.UUID
		i := rng.IntN(tgt.checks)
		if tgt.ids != nil {
			id = tgt.ids[i]
		} else {
			id = checkID(job.Seed, i)
		}
		uri = appendUUID(append(uri[:0], tgt.prefix...), id)
		req.SetRequestURIBytes(uri)
		t0 := time.Now()
		err := c.Do(req, resp)
		t1 := time.Now()
		switch {
		case err != nil || resp.StatusCode() != fasthttp.StatusOK:
			failed.Add(1)
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
		default:
			answered.Add(1)
			if acked != nil {
				acked[i].Add(1)
			}
			th.record(t1, t1.Sub(t0))
			if !t0.Before(warmEnd) {
				wk.h.record(t1.Sub(t0))
				wk.n++
				wk.last = t1
			}
		}
		if !t1.Before(end) {
			return
		}
	}
}
