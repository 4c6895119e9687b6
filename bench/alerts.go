package bench

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/engine"
	"github.com/vigilo/vigilo/engine/store"
)

// Sizes of the alerts scenario: the 100,000 checks going down at once.
const (
	DefaultAlertChecks = 100_000
	QuickAlertChecks   = 2_000
	// alertsLimit is how long the scenario waits for every webhook; the target is
	// 60 s, and a run that misses it still reports how far it got.
	alertsLimit = 120 * time.Second
	// TargetAlertsDrain is issue 5's target for delivering the whole burst.
	TargetAlertsDrain = 60 * time.Second
	// alertsProbeLead is when after T0 the probes' deadlines begin.
	alertsProbeLead = 3 * time.Second
)

// AlertsResult is the alerts scenario: a real engine, in-process, whose N checks
// (the burst) all go down at the same instant T0, each notifying one webhook
// channel whose receiver is a local HTTP server; meanwhile a second group of N/10
// checks (the probes), with no channel, has its deadlines spread over
// [T0+3s, T0+3s+window], after the burst is down and while its notifications
// drain, so their detection lateness shows what the delivery load does to the
// wheel.
type AlertsResult struct {
	Name   string `json:"name"`
	Checks int    `json:"checks"` // burst checks, one webhook each
	Probes int    `json:"probes"` // and as many baseline checks

	// DeliveredSeconds is from T0 to the receiver holding every burst check's
	// notification (distinct Idempotency-Key values); 0 if it never did.
	DeliveredSeconds float64 `json:"delivered_seconds"`
	Delivered        int64   `json:"delivered"`  // distinct notifications received
	Duplicates       int64   `json:"duplicates"` // requests repeating an id already received
	// BurstDownSeconds is from T0 to the last burst check's down transition.
	BurstDownSeconds float64 `json:"burst_down_seconds"`
	// Lateness is the probes' detection lateness while the notifications drain.
	Lateness Latency `json:"lateness_seconds"`
	// BaselineLateness is the same for as many checks falling due over [T0 − 1 s − window, T0 − 1 s], on
	// the same engine with nothing to deliver: the baseline of this run.
	BaselineLateness Latency `json:"baseline_lateness_seconds"`
	BurstLateness    Latency `json:"burst_lateness_seconds"`
	Missed           int64   `json:"missed"`
	TickSeconds      float64 `json:"tick_seconds"`
}

func (x *AlertsResult) ScenarioName() string { return x.Name }

// Errors counts burst notifications never received and probes never detected.
func (x *AlertsResult) Errors() int64 { return int64(x.Checks) - x.Delivered + x.Missed }

func (x *AlertsResult) rows() [][3]string {
	late := x.TickSeconds + TargetLatenessSlack.Seconds()
	delivered := "not all"
	if x.DeliveredSeconds > 0 {
		delivered = fmtSeconds(x.DeliveredSeconds)
	}
	return [][3]string{
		{fmt.Sprintf("all %s webhooks delivered after T0", fmtCount(float64(x.Checks))), delivered,
			verdict(x.DeliveredSeconds > 0 && x.DeliveredSeconds <= TargetAlertsDrain.Seconds(), "≤ 60 s")},
		{"delivered / duplicates", fmt.Sprintf("%s / %s", fmtCount(float64(x.Delivered)), fmtCount(float64(x.Duplicates))), ""},
		{"burst down (last transition − T0)", fmtSeconds(x.BurstDownSeconds), ""},
		{fmt.Sprintf("probe lateness p50 / p99 / max (%s checks, during the drain)", fmtCount(float64(x.Probes))),
			fmtSeconds(x.Lateness.P50) + " / " + fmtSeconds(x.Lateness.P99) + " / " + fmtSeconds(x.Lateness.Max),
			verdict(x.Lateness.P99 <= late, "p99 ≤ 1 tick + 50 ms = "+fmtSeconds(late))},
		{"baseline: the same before T0, nothing to deliver", fmtSeconds(x.BaselineLateness.P50) + " / " + fmtSeconds(x.BaselineLateness.P99) + " / " + fmtSeconds(x.BaselineLateness.Max), ""},
		{"burst lateness p50 / p99", fmtSeconds(x.BurstLateness.P50) + " / " + fmtSeconds(x.BurstLateness.P99), ""},
		{"probes missed", strconv.FormatInt(x.Missed, 10), verdict(x.Missed == 0, "0")},
	}
}

// webhookReceiver counts the distinct notification ids it is sent.
type webhookReceiver struct {
	mu       sync.Mutex
	seen     map[string]struct{}
	dups     int64
	complete chan struct{} // closed when want distinct ids have arrived
	want     int
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("Idempotency-Key")
	w.mu.Lock()
	if _, ok := w.seen[id]; ok {
		w.dups++
	} else {
		w.seen[id] = struct{}{}
		if len(w.seen) == w.want {
			close(w.complete)
		}
	}
	w.mu.Unlock()
	rw.WriteHeader(http.StatusOK)
}

func (r *runner) alerts(tmp string) (Result, error) {
	n := r.o.AlertChecks
	probes := max(n/10, 1)
	seed := r.seedID ^ 0xa1e575
	dir := filepath.Join(tmp, "alerts")
	chID := uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprintf("bench-channel-%d", seed)))
	t0 := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	// The probes fall due over the drain, from alertsProbeLead on: by then the
	// burst has gone down (its own detection is the deadlines scenario's
	// subject), and what is left is the delivery of its notifications.
	window := r.o.Window
	due := func(i int) time.Time {
		switch {
		case i < n:
			return t0
		case i < n+probes:
			return t0.Add(alertsProbeLead + time.Duration(int64(window)*int64(i-n)/int64(probes)))
		}
		// The baseline: over [T0 − 1 s − window, T0 − 1 s].
		return t0.Add(-time.Second - window + time.Duration(int64(window)*int64(i-n-probes)/int64(probes)))
	}
	total := n + 2*probes
	r.progress("alerts: seeding %d checks with a webhook and %d probes over %v", n, probes, window)
	err := r.seedWith(dir, total, 0, func(i int) store.Check {
		d := due(i)
		c := store.Check{
			ID: checkID(seed, i), ProjectID: engine.DefaultProjectID,
			Kind: "simple", Timeout: time.Hour, Grace: time.Hour,
			NPings: 1, Created: t0.Add(-24 * time.Hour),
			Status: "grace", LastPing: d.Add(-2 * time.Hour), Deadline: d,
		}
		if i < n {
			c.Channels = chID.String()
		}
		return c
	})
	if err != nil {
		return nil, err
	}

	rc := &webhookReceiver{seen: make(map[string]struct{}, n), complete: make(chan struct{}), want: n}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: rc}
	go srv.Serve(ln)
	defer srv.Close()

	at := make([]atomic.Int64, total)
	var shift atomic.Int64
	o := r.engineOptions(dir, 0)
	o.Now = func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	o.OnTransition = func(id uuid.UUID, from, to string, _, now time.Time) {
		if i, ok := checkIndex(seed, total, id); ok && to == "down" {
			at[i].CompareAndSwap(0, now.UnixNano())
		}
	}
	e, err := engine.Open(o)
	if err != nil {
		return nil, err
	}
	defer e.Close()
	if _, err := e.SaveChannel(store.Channel{ID: chID, ProjectID: engine.DefaultProjectID, Name: "bench", Kind: "webhook",
		Config: []byte(fmt.Sprintf(`{"url": "http://%s/hook"}`, ln.Addr()))}); err != nil {
		return nil, err
	}
	x := &AlertsResult{Name: ScenarioAlerts, Checks: n, Probes: probes, TickSeconds: o.WithDefaults().Tick.Seconds()}
	// T0 comes once the baseline's deadlines have passed, 2 s after serving.
	lead := window + 3*time.Second
	shift.Store(int64(t0.Add(-lead).Sub(time.Now())))
	if err := e.Serve(nil); err != nil {
		return nil, err
	}
	r.progress("alerts: engine serving; %d checks go down in %v", n, lead)

	// T0 on the real clock: the engine's clock is the real one shifted.
	realT0 := t0.Add(-time.Duration(shift.Load()))
	limit := time.NewTimer(time.Until(realT0) + alertsLimit)
	defer limit.Stop()
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
wait:
	for {
		select {
		case <-rc.complete:
			x.DeliveredSeconds = time.Since(realT0).Seconds()
			break wait
		case <-limit.C:
			break wait
		case <-progress.C:
			if time.Now().After(realT0) {
				rc.mu.Lock()
				got := len(rc.seen)
				rc.mu.Unlock()
				r.progress("alerts: %d/%d webhooks delivered, T0 %+.1fs, %d pending", got, n,
					time.Since(realT0).Seconds(), e.Outbox().Pending())
			}
		}
	}
	// The probes' window may outlast the drain: wait for it (bounded).
	for end := time.Now().Add(window + 3*time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if at[n+probes-1].Load() != 0 {
			break
		}
	}
	rc.mu.Lock()
	x.Delivered, x.Duplicates = int64(len(rc.seen)), rc.dups
	rc.mu.Unlock()

	ph, bh, base := newHist(), newHist(), newHist()
	var lastBurst int64
	for i := range total {
		v := at[i].Load()
		if v == 0 {
			if i >= n {
				x.Missed++
			}
			continue
		}
		late := time.Duration(v - due(i).UnixNano())
		switch {
		case i < n:
			bh.record(late)
			lastBurst = max(lastBurst, v)
		case i < n+probes:
			ph.record(late)
		default:
			base.record(late)
		}
	}
	x.Lateness, x.BurstLateness, x.BaselineLateness = ph.latency(), bh.latency(), base.latency()
	if lastBurst > 0 {
		x.BurstDownSeconds = seconds(lastBurst - t0.UnixNano())
	}
	r.progress("alerts: %d/%d delivered in %s (%d duplicates); probe lateness p99 %s",
		x.Delivered, n, fmtSeconds(x.DeliveredSeconds), x.Duplicates, fmtSeconds(x.Lateness.P99))
	return x, nil
}
