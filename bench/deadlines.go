package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/engine"
	"github.com/vigilo/vigilo/engine/store"
)

// TargetLatenessSlack is the deadline target beyond one wheel tick:
// lateness p99 ≤ 1 tick + 50 ms, with 0 missed and 0 false transitions.
const TargetLatenessSlack = 50 * time.Millisecond

// deadlinesLead is how long after the engine is open and serving the burst falls due.
const deadlinesLead = 5 * time.Second

// deadlinesSettle is how long the scenario waits after the last due transition (or
// after the window when some are missing) before counting: any transition then, of
// a control check or a second one of a due check, is false.
const deadlinesSettle = 5 * time.Second

// DeadlinesResult is the deadlines scenario: a real engine, in-process, on its own
// freshly seeded store, with the real wheel driven by its real ticker. Of the N
// checks, half (the burst) have their down deadline at the same instant T0, 5 s
// after the engine serves; the spread (N − N/2 − N/10) have theirs uniformly over
// [T0, T0+window]; and the control group (N/10) is up with its next deadline an
// hour after T0. Each due check is in grace, so its deadline is the grace → down
// transition and there is exactly one per check.
//
// Lateness is, per due check, the engine clock's reading when the actor applied the
// transition minus the check's deadline (actors.Options.OnTransition). Missed is a
// due check that never went down; a false transition is one before its deadline, a
// second one, one to anything but down, or any of a control check.
//
// The checks are seeded with T0 an hour after seeding; the engine's clock is the
// real clock plus a constant offset, set once after engine.Open so that T0 is 5 s
// ahead of it (the wheel's first tick after that jumps the hour and re-places the
// armed timers). Time then passes at the real rate: lateness is real time.
type DeadlinesResult struct {
	Name    string `json:"name"`
	Checks  int    `json:"checks"`
	Burst   int    `json:"burst"`
	Spread  int    `json:"spread"`
	Control int    `json:"control"`

	WindowSeconds float64 `json:"window_seconds"` // the spread's deadlines cover [T0, T0+window]
	TickSeconds   float64 `json:"tick_seconds"`   // the wheel's tick
	OpenSeconds   float64 `json:"open_seconds"`   // engine.Open on the seeded store

	Lateness         Latency `json:"lateness_seconds"` // detection time − deadline, every due check
	BurstLateness    Latency `json:"burst_lateness_seconds"`
	Missed           int64   `json:"missed"`
	FalseTransitions int64   `json:"false_transitions"`
	Transitions      int64   `json:"transitions"` // every transition seen
	// BurstDrainSeconds is the last burst check's transition − T0: how long the
	// engine took to take the whole burst down.
	BurstDrainSeconds float64 `json:"burst_drain_seconds"`
	// LastTransitionSeconds is the last transition of any check − T0.
	LastTransitionSeconds float64 `json:"last_transition_seconds"`
	ActorSpawns           int64   `json:"actor_spawns"`

	// Series is lateness by transition time: T is seconds after T0, Count the due
	// checks taken down in the step.
	Series            []SeriesPoint `json:"series,omitempty"`
	SeriesStepSeconds float64       `json:"series_step_seconds,omitempty"`

	hist *hist // lateness of every due check, for the report's percentile curve
}

// burstRate is the burst's down transitions per second: how fast the engine takes
// down checks whose deadlines fall due at once (a lower bound: the drain time
// includes the wait for the wheel's first tick after T0).
func (x *DeadlinesResult) burstRate() float64 {
	if x.Burst == 0 || x.BurstDrainSeconds <= 0 {
		return 0
	}
	return float64(x.Burst) / x.BurstDrainSeconds
}

func (x *DeadlinesResult) ScenarioName() string { return x.Name }

// Errors is missed plus false transitions: a run with either fails.
func (x *DeadlinesResult) Errors() int64 { return x.Missed + x.FalseTransitions }

func (x *DeadlinesResult) target() float64 {
	return x.TickSeconds + TargetLatenessSlack.Seconds()
}

func (x *DeadlinesResult) rows() [][3]string {
	t := x.target()
	tgt := "≤ 1 tick + 50 ms = " + fmtSeconds(t)
	return [][3]string{
		{"lateness p50 / p99 / max", fmtSeconds(x.Lateness.P50) + " / " + fmtSeconds(x.Lateness.P99) + " / " + fmtSeconds(x.Lateness.Max),
			verdict(x.Lateness.P99 <= t, "p99 "+tgt)},
		{"burst lateness p50 / p99 / max", fmtSeconds(x.BurstLateness.P50) + " / " + fmtSeconds(x.BurstLateness.P99) + " / " + fmtSeconds(x.BurstLateness.Max), ""},
		{"missed", strconv.FormatInt(x.Missed, 10), verdict(x.Missed == 0, "0")},
		{"false transitions", strconv.FormatInt(x.FalseTransitions, 10), verdict(x.FalseTransitions == 0, "0")},
		{"burst / spread / control checks", fmt.Sprintf("%s / %s over %s / %s", fmtCount(float64(x.Burst)), fmtCount(float64(x.Spread)), fmtSeconds(x.WindowSeconds), fmtCount(float64(x.Control))), ""},
		{"burst drained (last burst transition − T0)", fmt.Sprintf("%s (%s transitions/s)", fmtSeconds(x.BurstDrainSeconds), fmtCount(x.burstRate())), ""},
		{"wheel tick", fmtSeconds(x.TickSeconds), ""},
	}
}

// deadlinesGroups splits n checks into burst, spread and control.
func deadlinesGroups(n int) (burst, spread, control int) {
	control = n / 10
	burst = n / 2
	return burst, n - burst - control, control
}

func (r *runner) deadlines(tmp string) (Result, error) {
	n := r.o.Checks
	burst, spread, control := deadlinesGroups(n)
	window := r.o.Window
	seed := r.seedID ^ 0xdead11e5
	dir := filepath.Join(tmp, "deadlines")
	t0 := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
	due := func(i int) time.Time {
		switch {
		case i < burst:
			return t0
		case i < burst+spread:
			return t0.Add(time.Duration(int64(window) * int64(i-burst) / int64(max(spread, 1))))
		}
		return time.Time{}
	}
	created := t0.Add(-24 * time.Hour)
	r.progress("deadlines: seeding %d checks (burst %d, spread %d over %v, control %d)", n, burst, spread, window, control)
	err := r.seedWith(dir, n, 0, func(i int) store.Check {
		c := store.Check{
			ID: checkID(seed, i), ProjectID: engine.DefaultProjectID,
			Kind: "simple", Timeout: time.Hour, Grace: time.Hour, TZ: "UTC", Schedule: "* * * * *",
			NPings: 1, Created: created,
		}
		if d := due(i); !d.IsZero() {
			// In grace since an hour: down at d.
			c.Status, c.LastPing, c.Deadline = "grace", d.Add(-2*time.Hour), d
		} else {
			// Up, next expected an hour after T0 (a test may bring that in).
			next := t0.Add(time.Hour)
			if r.controlDue != 0 {
				next = t0.Add(r.controlDue)
			}
			c.Status, c.LastPing, c.Deadline = "up", next.Add(-time.Hour), next
		}
		return c
	})
	if err != nil {
		return nil, err
	}

	at := make([]atomic.Int64, n) // engine clock at the transition, Unix ns
	count := make([]atomic.Int32, n)
	var transitions, wrong, down atomic.Int64
	var shift atomic.Int64
	o := r.engineOptions(dir, 0)
	o.Now = func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	o.OnTransition = func(id uuid.UUID, from, to string, _, now time.Time) {
		transitions.Add(1)
		i, ok := checkIndex(seed, n, id)
		if !ok {
			wrong.Add(1)
			return
		}
		if count[i].Add(1) == 1 {
			at[i].Store(now.UnixNano())
			if to == "down" && i < burst+spread {
				down.Add(1)
			}
		}
		if i < burst+spread && (to != "down" || from != "grace") {
			wrong.Add(1)
		}
	}
	t1 := time.Now()
	e, err := engine.Open(o)
	if err != nil {
		return nil, err
	}
	x := &DeadlinesResult{
		Name: ScenarioDeadlines, Checks: n, Burst: burst, Spread: spread, Control: control,
		WindowSeconds: window.Seconds(), OpenSeconds: time.Since(t1).Seconds(),
	}
	closed := false
	defer func() {
		if !closed {
			e.Close()
		}
	}()
	tick := o.WithDefaults().Tick
	x.TickSeconds = tick.Seconds()
	if r.o.CPUProfile != "" && !r.o.has(ScenarioIngest) {
		prof, err := os.Create(r.o.CPUProfile)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(prof); err != nil {
			prof.Close()
			return nil, err
		}
		defer func() {
			pprof.StopCPUProfile()
			prof.Close()
			r.progress("deadlines: CPU profile written to %s", r.o.CPUProfile)
		}()
	}
	// Before the driver starts: T0 is deadlinesLead ahead of the engine's clock.
	shift.Store(int64(t0.Add(-deadlinesLead).Sub(time.Now())))
	if err := e.Serve(nil); err != nil {
		return nil, err
	}
	r.progress("deadlines: engine open in %s; burst due in %v", fmtSeconds(x.OpenSeconds), deadlinesLead)

	now := func() time.Time { return o.Now() }
	end := t0.Add(window + deadlinesSettle)
	want := int64(burst + spread)
	lastProgress := time.Now()
	for down.Load() < want && now().Before(end) {
		time.Sleep(10 * time.Millisecond)
		if time.Since(lastProgress) >= time.Second && !now().Before(t0) {
			lastProgress = time.Now()
			r.progress("deadlines: %d/%d due checks down, T0 %+.1fs", down.Load(), want, now().Sub(t0).Seconds())
		}
	}
	// Settle, so that a late spurious transition is seen.
	time.Sleep(min(deadlinesSettle, max(3*tick, time.Second)))
	x.ActorSpawns = e.Registry().Spawns()
	closed = true
	if err := e.Close(); err != nil {
		return nil, err
	}

	all, bh := newHist(), newHist()
	steps := &stepHists{step: seriesStep(window)}
	var last, lastBurst int64
	for i := range n {
		c := count[i].Load()
		d := due(i)
		if d.IsZero() { // control
			x.FalseTransitions += int64(c)
			continue
		}
		if c == 0 {
			x.Missed++
			continue
		}
		x.FalseTransitions += int64(c - 1)
		late := time.Duration(at[i].Load() - d.UnixNano())
		if late < 0 {
			x.FalseTransitions++
			continue
		}
		all.record(late)
		steps.record(time.Duration(at[i].Load()-t0.UnixNano()), late)
		last = max(last, at[i].Load())
		if i < burst {
			bh.record(late)
			lastBurst = max(lastBurst, at[i].Load())
		}
	}
	x.FalseTransitions += wrong.Load()
	x.Transitions = transitions.Load()
	x.Lateness, x.BurstLateness = all.latency(), bh.latency()
	x.hist, x.Series, x.SeriesStepSeconds = all, steps.series(), steps.step.Seconds()
	if lastBurst > 0 {
		x.BurstDrainSeconds = seconds(lastBurst - t0.UnixNano())
	}
	if last > 0 {
		x.LastTransitionSeconds = seconds(last - t0.UnixNano())
	}
	r.progress("deadlines: lateness p50 %s p99 %s max %s; missed %d, false %d; burst drained in %s",
		fmtSeconds(x.Lateness.P50), fmtSeconds(x.Lateness.P99), fmtSeconds(x.Lateness.Max),
		x.Missed, x.FalseTransitions, fmtSeconds(x.BurstDrainSeconds))
	return x, nil
}
