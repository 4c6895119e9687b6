package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilo/vigilo/engine"
)

// The front-door targets.
const (
	TargetCreatesPerSecond = 5_000
	// TargetCreateRatio is creates/s at the largest size over creates/s into an
	// empty project: within 20%.
	TargetCreateRatio = 0.80
)

// Sizes of the api scenario's measured batches.
const (
	DefaultAPICreates = 30_000 // creates per dialect at each size
	QuickAPICreates   = 1_200
	// APIRounds is how many turns the dialects take at each size, each making
	// Creates/APIRounds checks: one 1-second run per dialect was at the mercy
	// of whichever flush or compaction fell into it (the same build gave one
	// dialect 62% and 172% in two runs); alternating spreads them over all.
	APIRounds     = 6
	DefaultAPIOps = 5_000 // gets, updates and deletes per dialect at the largest size
	QuickAPIOps   = 300
	APIClients    = 64
)

// Dialects the api scenario drives, in report order.
var apiDialects = []string{"healthchecks", "opsgenie", "betteruptime"}

// APIResult is the api scenario: checks created by 64 concurrent clients through
// the real HTTP API of each dialect (Healthchecks.io POST /api/v3/checks/,
// Opsgenie POST /v2/heartbeats, Better Uptime POST /api/v2/heartbeats) into one
// project holding 0, checks/10 and checks checks, the project filled between
// sizes through the Healthchecks.io API too; then get, update and delete latency
// of each dialect at the largest size. The clients are a child process, so the
// server's figures are the engine's alone; the machine's cores are shared.
type APIResult struct {
	Name    string `json:"name"`
	Checks  int    `json:"checks"` // the largest size
	Clients int    `json:"clients"`
	// Sizes are the project's check counts at which creates were measured.
	Sizes   []int `json:"sizes"`
	Creates int   `json:"creates_per_size"` // per dialect, at each size
	// CreatesPerSecond is dialect → size (decimal) → creates/s.
	CreatesPerSecond map[string]map[string]float64 `json:"creates_per_second"`
	// CreateRatio is dialect → creates/s at the largest size / into an empty
	// project.
	CreateRatio map[string]float64 `json:"create_ratio"`
	// FillPerSecond is the rate of the Healthchecks.io creates that filled the
	// project between sizes; FillSeconds their whole time.
	FillPerSecond float64 `json:"fill_creates_per_second"`
	FillSeconds   float64 `json:"fill_seconds"`
	// SettleSeconds is size (decimal) → how long after the fill to that size
	// the server took to run no compaction for 2 s, before that size's creates
	// were measured (see settle).
	SettleSeconds map[string]float64 `json:"settle_seconds"`
	// Latency is dialect → "get" | "update" | "delete" → latency, Ops of each,
	// at the largest size.
	Ops        int                           `json:"ops"`
	Latency    map[string]map[string]Latency `json:"latency_seconds"`
	ErrorCount int64                         `json:"errors"` // any answer but the expected 2xx
	FirstError string                        `json:"first_error,omitempty"`

	full bool
}

func (x *APIResult) ScenarioName() string { return x.Name }
func (x *APIResult) Errors() int64        { return x.ErrorCount }

func (x *APIResult) rows() [][3]string {
	t := func(ok bool, target string) string {
		if !x.full {
			return target + " (at 1M checks)"
		}
		return verdict(ok, target)
	}
	var rows [][3]string
	largest := strconv.Itoa(x.Sizes[len(x.Sizes)-1])
	for _, d := range apiDialects {
		for _, size := range x.Sizes {
			k := strconv.Itoa(size)
			target := ""
			if k == largest {
				target = t(x.CreatesPerSecond[d][k] >= TargetCreatesPerSecond, "≥ 5,000")
			}
			rows = append(rows, [3]string{fmt.Sprintf("%s creates/s at %s checks", d, fmtCount(float64(size))), fmtCount(x.CreatesPerSecond[d][k]), target})
		}
		rows = append(rows, [3]string{d + " creates/s, largest / empty", fmt.Sprintf("%.0f%%", 100*x.CreateRatio[d]), t(x.CreateRatio[d] >= TargetCreateRatio, "≥ 80%")})
		for _, op := range []string{"get", "update", "delete"} {
			l := x.Latency[d][op]
			rows = append(rows, [3]string{fmt.Sprintf("%s %s p50 / p99 at %s", d, op, fmtCount(float64(x.Checks))), fmtSeconds(l.P50) + " / " + fmtSeconds(l.P99), ""})
		}
	}
	return append(rows,
		[3]string{"fill creates/s (Healthchecks.io)", fmt.Sprintf("%s (%s)", fmtCount(x.FillPerSecond), fmtSeconds(x.FillSeconds)), ""},
		[3]string{"compactions settled after the fill to " + fmtCount(float64(x.Checks)), fmtSeconds(x.SettleSeconds[largest]), ""},
		[3]string{"errors", strconv.FormatInt(x.ErrorCount, 10), "0"},
		[3]string{"clients", strconv.Itoa(x.Clients), ""},
	)
}

func (r *runner) api(tmp string) (Result, error) {
	creates, ops := DefaultAPICreates, DefaultAPIOps
	if r.o.Quick {
		creates, ops = QuickAPICreates, QuickAPIOps
	}
	n := r.o.Checks
	sizes := []int{0, n / 10, n}
	if n/10 < 3*creates { // too small to tell the sizes apart
		sizes = []int{0, n}
	}
	e, err := engine.Open(r.engineOptions(filepath.Join(tmp, "api"), 0))
	if err != nil {
		return nil, err
	}
	defer e.Close()
	addr, err := serveLoopback(e)
	if err != nil {
		return nil, err
	}
	job := apiJob{Addr: addr, Key: benchAPIKey, Sizes: sizes, Creates: creates, Ops: ops, Clients: APIClients}
	r.progress("api: engine on %s: %d clients create %d checks per dialect at %v existing, then %d gets, updates and deletes each", job.Addr, job.Clients, creates, sizes, ops)
	if r.o.CPUProfile != "" {
		// The whole run, fill included: a dialect's share shows under its
		// Backend methods (CreateNamed, CreateHeartbeat, CreateCheck).
		stop, err := startProfile(r.o.CPUProfile + ".api")
		if err != nil {
			return nil, err
		}
		defer func() { stop(); r.progress("api: CPU profile written to %s.api", r.o.CPUProfile) }()
	}
	var res apiChildResult
	if _, err := r.runChildProcess(childJob{Role: roleAPI, API: &job}, &res, nil); err != nil {
		return nil, err
	}
	x := &APIResult{
		Name: ScenarioAPI, Checks: n, Clients: job.Clients, Sizes: sizes, Creates: creates, Ops: ops,
		CreatesPerSecond: res.CreatesPerSecond, CreateRatio: map[string]float64{},
		FillSeconds: res.FillSeconds, SettleSeconds: res.SettleSeconds, Latency: map[string]map[string]Latency{},
		ErrorCount: res.Errors, FirstError: res.FirstError, full: n >= DefaultChecks,
	}
	if res.FillSeconds > 0 {
		x.FillPerSecond = float64(res.Filled) / res.FillSeconds
	}
	for d, byOp := range res.Latency {
		x.Latency[d] = map[string]Latency{}
		for op, h := range byOp {
			x.Latency[d][op] = h.hist().latency()
		}
	}
	for _, d := range apiDialects {
		empty, largest := res.CreatesPerSecond[d]["0"], res.CreatesPerSecond[d][strconv.Itoa(n)]
		if empty > 0 {
			x.CreateRatio[d] = largest / empty
		}
	}
	for _, d := range apiDialects {
		r.progress("api: %s creates/s %v at sizes %v (largest / empty %.0f%%)", d, res.CreatesPerSecond[d], sizes, 100*x.CreateRatio[d])
	}
	return x, nil
}

// apiJob is the api scenario's client process: it fills and measures a server it
// does not share a runtime with.
type apiJob struct {
	Addr    string `json:"addr"`
	Key     string `json:"key"`
	Sizes   []int  `json:"sizes"`
	Creates int    `json:"creates"`
	Ops     int    `json:"ops"`
	Clients int    `json:"clients"`
}

type apiChildResult struct {
	CreatesPerSecond map[string]map[string]float64    `json:"creates_per_second"`
	Filled           int                              `json:"filled"`
	FillSeconds      float64                          `json:"fill_seconds"`
	Latency          map[string]map[string]sparseHist `json:"latency"`
	Errors           int64                            `json:"errors"`
	FirstError       string                           `json:"first_error,omitempty"`
	// SettleSeconds is size (decimal) → how long after its fill the server's
	// compactions took to catch up (see settle).
	SettleSeconds map[string]float64 `json:"settle_seconds"`
}

// apiClient speaks each dialect to one server.
type apiClient struct {
	base, key string
	http      *http.Client
	errors    atomic.Int64
	firstErr  atomic.Pointer[string]
}

func (c *apiClient) fail(format string, args ...any) {
	c.errors.Add(1)
	msg := fmt.Sprintf(format, args...)
	c.firstErr.CompareAndSwap(nil, &msg)
}

// call sends one request in dialect d and decodes a JSON answer into out; it
// counts an error for any status but want.
func (c *apiClient) call(d, method, path string, body any, want int, out any) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.fail("encode %v: %v", body, err)
			return
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.fail("%s %s: %v", method, path, err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	switch d {
	case "healthchecks":
		req.Header.Set("X-Api-Key", c.key)
	case "opsgenie":
		req.Header.Set("Authorization", "GenieKey "+c.key)
	case "betteruptime":
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.fail("%s %s: %v", method, path, err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		c.fail("%s %s: read: %v", method, path, err)
	case resp.StatusCode != want:
		c.fail("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, truncate(b, 200))
	case out != nil:
		if err := json.Unmarshal(b, out); err != nil {
			c.fail("%s %s: decode: %v", method, path, err)
		}
	}
}

// create makes check name through dialect d and returns the id that dialect
// addresses it by.
func (c *apiClient) create(d, name string) string {
	switch d {
	case "healthchecks":
		var r struct {
			UUID string `json:"uuid"`
		}
		c.call(d, "POST", "/api/v3/checks/", map[string]any{"name": name, "timeout": 3600, "grace": 60}, 201, &r)
		return r.UUID
	case "opsgenie":
		c.call(d, "POST", "/v2/heartbeats", map[string]any{"name": name, "interval": 60, "intervalUnit": "minutes", "enabled": true}, 201, nil)
		return name
	default:
		var r struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		c.call(d, "POST", "/api/v2/heartbeats", map[string]any{"name": name, "period": 3600, "grace": 60}, 201, &r)
		return r.Data.ID
	}
}

// op is one get, update or delete of check id through dialect d.
func (c *apiClient) op(d, op, id string) {
	switch d + " " + op {
	case "healthchecks get":
		c.call(d, "GET", "/api/v3/checks/"+id, nil, 200, nil)
	case "healthchecks update":
		c.call(d, "POST", "/api/v3/checks/"+id, map[string]any{"grace": 120}, 200, nil)
	case "healthchecks delete":
		c.call(d, "DELETE", "/api/v3/checks/"+id, nil, 200, nil)
	case "opsgenie get":
		c.call(d, "GET", "/v2/heartbeats/"+id, nil, 200, nil)
	case "opsgenie update":
		c.call(d, "PATCH", "/v2/heartbeats/"+id, map[string]any{"description": "updated"}, 200, nil)
	case "opsgenie delete":
		c.call(d, "DELETE", "/v2/heartbeats/"+id, nil, 200, nil)
	case "betteruptime get":
		c.call(d, "GET", "/api/v2/heartbeats/"+id, nil, 200, nil)
	case "betteruptime update":
		c.call(d, "PATCH", "/api/v2/heartbeats/"+id, map[string]any{"grace": 120}, 200, nil)
	case "betteruptime delete":
		c.call(d, "DELETE", "/api/v2/heartbeats/"+id, nil, 204, nil)
	}
}

// fan runs fn(0..n-1) on clients goroutines and returns how long it took; each
// goroutine records its calls' latency in its own hist.
func fan(n, clients int, fn func(i int)) (time.Duration, *hist) {
	var next atomic.Int64
	hs := make([]*hist, clients)
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := range clients {
		hs[g] = newHist()
		wg.Add(1)
		go func(h *hist) {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t := time.Now()
				fn(i)
				h.record(time.Since(t))
			}
		}(hs[g])
	}
	wg.Wait()
	el := time.Since(t0)
	for _, h := range hs[1:] {
		hs[0].merge(h)
	}
	return el, hs[0]
}

func runAPIChild(job apiJob) (apiChildResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: job.Clients, MaxConnsPerHost: job.Clients}
	defer tr.CloseIdleConnections()
	c := &apiClient{base: "http://" + job.Addr, key: job.Key, http: &http.Client{Transport: tr, Timeout: time.Minute}}
	res := apiChildResult{CreatesPerSecond: map[string]map[string]float64{}, Latency: map[string]map[string]sparseHist{},
		SettleSeconds: map[string]float64{}}
	for _, d := range apiDialects {
		res.CreatesPerSecond[d] = map[string]float64{}
	}
	// Warm-up: every client opens its connection and the server's handlers
	// and buffers are in use before the first measurement, which is the
	// baseline of every ratio. Listing the empty project writes nothing.
	fan(8*job.Clients, job.Clients, func(int) { c.call("healthchecks", "GET", "/api/v3/checks/", nil, 200, nil) })
	existing := 0
	var ids map[string][]string
	var fill time.Duration
	for s, size := range job.Sizes {
		if existing < size {
			k := size - existing
			el, _ := fan(k, job.Clients, func(i int) { c.create("healthchecks", fmt.Sprintf("fill-%d-%d", s, i)) })
			fill += el
			res.Filled += k
			existing = size
			res.SettleSeconds[strconv.Itoa(size)] = c.settle().Seconds()
		}
		ids = map[string][]string{}
		took := map[string]time.Duration{}
		for _, d := range apiDialects {
			ids[d] = make([]string, job.Creates)
		}
		for r := range APIRounds {
			lo, hi := r*job.Creates/APIRounds, (r+1)*job.Creates/APIRounds
			for _, d := range apiDialects {
				got := ids[d][lo:hi]
				el, _ := fan(hi-lo, job.Clients, func(i int) { got[i] = c.create(d, fmt.Sprintf("%s-%d-%d", d, s, lo+i)) })
				took[d] += el
			}
		}
		for _, d := range apiDialects {
			res.CreatesPerSecond[d][strconv.Itoa(size)] = float64(job.Creates) / took[d].Seconds()
			existing += job.Creates
		}
	}
	res.FillSeconds = fill.Seconds()
	// Latency at the largest size, on the checks its measured creates made.
	for _, d := range apiDialects {
		res.Latency[d] = map[string]sparseHist{}
		for _, op := range []string{"get", "update", "delete"} {
			n := min(job.Ops, len(ids[d]))
			_, h := fan(n, job.Clients, func(i int) { c.op(d, op, ids[d][i]) })
			res.Latency[d][op] = h.sparse()
		}
	}
	res.Errors = c.errors.Load()
	if p := c.firstErr.Load(); p != nil {
		res.FirstError = *p
	}
	return res, nil
}

// settleLimit bounds the wait for a server's compactions after a fill.
const settleLimit = 2 * time.Minute

// settle waits, through the server's /metrics, until Pebble has run no
// compaction for two seconds (none running, none completed), and says how
// long that took (at most settleLimit). A project grows to 1M checks over
// days, with its compactions keeping up; the fill writes it in about a minute,
// and without the wait the next measurement pays the whole fill's
// compactions, which is the fill's cost, not the project's size's. (Pebble's
// compaction debt is no signal: it counts L0's bytes, so it is rarely 0.)
func (c *apiClient) settle() time.Duration {
	t0 := time.Now()
	last, quiet := -1.0, 0
	for time.Since(t0) < settleLimit {
		running, done, err := c.compactionState()
		if err != nil {
			c.fail("settle: %v", err)
			break
		}
		if running == 0 && done == last {
			quiet++
		} else {
			quiet = 0
		}
		if quiet == 2 {
			break
		}
		last = done
		time.Sleep(time.Second)
	}
	return time.Since(t0)
}

// compactionState reads the compactions running and completed from the
// server's /metrics.
func (c *apiClient) compactionState() (running, done float64, err error) {
	m, err := scrapeMetrics(c.http, c.base)
	if err != nil {
		return 0, 0, err
	}
	running, ok1 := m["vigilo_pebble_compactions_running"]
	done, ok2 := m["vigilo_pebble_compactions_total"]
	if !ok1 || !ok2 {
		return 0, 0, fmt.Errorf("/metrics has no Pebble compaction figures")
	}
	return running, done, nil
}
