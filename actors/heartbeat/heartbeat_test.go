package heartbeat

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const (
	nsec = time.Nanosecond
	sec  = time.Second
	mins = time.Minute
	hr   = time.Hour
)

func mustCompile(t testing.TB, c Config) Spec {
	t.Helper()
	s, err := Compile(c)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", c, err)
	}
	return s
}

// simple: expected hourly, 10 minutes of grace.
var simple = Config{Kind: Simple, Timeout: hr, Grace: 10 * mins}

func flip(from, to Status, when time.Time) *Flip { return &Flip{From: from, To: to, At: when} }

// Reference states of the simple check, last pinged at t0.
var (
	sNew    = State{}
	sUp     = State{Status: Up, LastPing: t0, NPings: 1, Deadline: at(hr)}
	sGrace  = State{Status: Grace, LastPing: t0, NPings: 1, Deadline: at(hr + 10*mins)}
	sDown   = State{Status: Down, LastPing: t0, NPings: 1}
	sPaused = State{Status: Paused, LastPing: t0, NPings: 1}
	// started on a never-pinged check at t0 with rid r1
	sStartedNew = State{Status: Started, LastStart: t0, StartRID: "r1", NPings: 1, Deadline: at(10 * mins)}
	// up since t0, run r1 started at t0+50m: down at start+grace = t0+1h
	sStartedUp = State{Status: Started, LastPing: t0, LastStart: at(50 * mins), StartRID: "r1", NPings: 2, Deadline: at(hr)}
)

type stepCase struct {
	name    string
	cfg     *Config // nil: simple
	s       State
	ev      Event
	now     time.Time
	want    State
	flip    *Flip
	ping    string // expected PingKind; "" = not a ping
	dur     time.Duration
	changed bool
}

func with(s State, f func(*State)) State { f(&s); return s }

func runSteps(t *testing.T, cases []stepCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := simple
			if c.cfg != nil {
				cfg = *c.cfg
			}
			spec := mustCompile(t, cfg)
			got, eff := Apply(spec, c.s, c.ev, c.now)
			if got != c.want {
				t.Errorf("state\n got %+v\nwant %+v", got, c.want)
			}
			if eff.Arm != got.Deadline {
				t.Errorf("Arm %v != Deadline %v", eff.Arm, got.Deadline)
			}
			if (eff.Flip == nil) != (c.flip == nil) || (eff.Flip != nil && *eff.Flip != *c.flip) {
				t.Errorf("flip got %+v want %+v", eff.Flip, c.flip)
			}
			if eff.LogPing != (c.ping != "") || eff.PingKind != c.ping {
				t.Errorf("ping got %v %q want %q", eff.LogPing, eff.PingKind, c.ping)
			}
			if c.ping != "" && eff.N != got.NPings {
				t.Errorf("N %d != NPings %d", eff.N, got.NPings)
			}
			if eff.Duration != c.dur {
				t.Errorf("duration got %v want %v", eff.Duration, c.dur)
			}
			if eff.Changed != c.changed {
				t.Errorf("changed got %v want %v", eff.Changed, c.changed)
			}
		})
	}
}

func TestPings(t *testing.T) {
	now := at(30 * mins)
	runSteps(t, []stepCase{
		// new
		{name: "new+success", s: sNew, ev: Event{Kind: Success}, now: now,
			want: State{Status: Up, LastPing: now, NPings: 1, Deadline: now.Add(hr)},
			flip: flip(New, Up, now), ping: "success", changed: true},
		{name: "new+fail", s: sNew, ev: Event{Kind: Fail}, now: now,
			want: State{Status: Down, LastPing: now, NPings: 1},
			flip: flip(New, Down, now), ping: "fail", changed: true},
		{name: "new+start", s: sNew, ev: Event{Kind: Start, RID: "r1"}, now: now,
			want: State{Status: Started, LastStart: now, StartRID: "r1", NPings: 1, Deadline: now.Add(10 * mins)},
			ping: "start", changed: true},
		{name: "new+log", s: sNew, ev: Event{Kind: Log}, now: now,
			want: State{NPings: 1}, ping: "log", changed: true},

		// up
		{name: "up+success", s: sUp, ev: Event{Kind: Success}, now: now,
			want: State{Status: Up, LastPing: now, NPings: 2, Deadline: now.Add(hr)},
			ping: "success", changed: true},
		{name: "up+fail", s: sUp, ev: Event{Kind: Fail}, now: now,
			want: State{Status: Down, LastPing: now, NPings: 2},
			flip: flip(Up, Down, now), ping: "fail", changed: true},
		{name: "up+log keeps deadline", s: sUp, ev: Event{Kind: Log}, now: now,
			want: with(sUp, func(s *State) { s.NPings = 2 }), ping: "log", changed: true},
		{name: "up+start: run deadline first", s: sUp, ev: Event{Kind: Start}, now: at(5 * mins),
			want: State{Status: Started, LastPing: t0, LastStart: at(5 * mins), NPings: 2, Deadline: at(15 * mins)},
			ping: "start", changed: true},
		{name: "up+start: grace end first", s: sUp, ev: Event{Kind: Start, RID: "r1"}, now: at(hr - 5*mins),
			want: State{Status: Started, LastPing: t0, LastStart: at(hr - 5*mins), StartRID: "r1", NPings: 2, Deadline: at(hr + 5*mins)},
			ping: "start", changed: true},
		{name: "up+start after grace end keeps the overdue deadline", s: sUp, ev: Event{Kind: Start}, now: at(2 * hr),
			want: State{Status: Started, LastPing: t0, LastStart: at(2 * hr), NPings: 2, Deadline: at(hr + 10*mins)},
			ping: "start", changed: true},

		// grace
		{name: "grace+success", s: sGrace, ev: Event{Kind: Success}, now: at(hr + mins),
			want: State{Status: Up, LastPing: at(hr + mins), NPings: 2, Deadline: at(2*hr + mins)},
			ping: "success", changed: true},
		{name: "grace+fail", s: sGrace, ev: Event{Kind: Fail}, now: at(hr + mins),
			want: State{Status: Down, LastPing: at(hr + mins), NPings: 2},
			flip: flip(Grace, Down, at(hr+mins)), ping: "fail", changed: true},
		{name: "grace+start keeps grace end", s: sGrace, ev: Event{Kind: Start}, now: at(hr + 5*mins),
			want: State{Status: Started, LastPing: t0, LastStart: at(hr + 5*mins), NPings: 2, Deadline: at(hr + 10*mins)},
			ping: "start", changed: true},

		// started: rid matching decides duration and whether the run ends
		{name: "started+success same rid", s: sStartedUp, ev: Event{Kind: Success, RID: "r1"}, now: at(55 * mins),
			want: State{Status: Up, LastPing: at(55 * mins), LastDuration: 5 * mins, NPings: 3, Deadline: at(hr + 55*mins)},
			ping: "success", dur: 5 * mins, changed: true},
		{name: "started(never up)+success is a flip", s: sStartedNew, ev: Event{Kind: Success, RID: "r1"}, now: at(3 * mins),
			want: State{Status: Up, LastPing: at(3 * mins), LastDuration: 3 * mins, NPings: 2, Deadline: at(hr + 3*mins)},
			flip: flip(Started, Up, at(3*mins)), ping: "success", dur: 3 * mins, changed: true},
		{name: "started no rid+success no rid measures", s: with(sStartedUp, func(s *State) { s.StartRID = "" }),
			ev: Event{Kind: Success}, now: at(52 * mins),
			want: State{Status: Up, LastPing: at(52 * mins), LastDuration: 2 * mins, NPings: 3, Deadline: at(hr + 52*mins)},
			ping: "success", dur: 2 * mins, changed: true},
		{name: "started+success without rid ends the run unmeasured", s: sStartedUp, ev: Event{Kind: Success}, now: at(55 * mins),
			want: State{Status: Up, LastPing: at(55 * mins), NPings: 3, Deadline: at(hr + 55*mins)},
			ping: "success", changed: true},
		{name: "started+success other rid leaves the run going", s: sStartedUp, ev: Event{Kind: Success, RID: "r2"}, now: at(55 * mins),
			want: State{Status: Up, LastPing: at(55 * mins), LastStart: at(50 * mins), StartRID: "r1", NPings: 3, Deadline: at(hr)},
			ping: "success", changed: true},
		{name: "started+fail other rid ends the run", s: sStartedUp, ev: Event{Kind: Fail, RID: "r2"}, now: at(55 * mins),
			want: State{Status: Down, LastPing: at(55 * mins), NPings: 3},
			flip: flip(Started, Down, at(55*mins)), ping: "fail", changed: true},
		{name: "started+fail same rid measures", s: sStartedUp, ev: Event{Kind: Fail, RID: "r1"}, now: at(58 * mins),
			want: State{Status: Down, LastPing: at(58 * mins), LastDuration: 8 * mins, NPings: 3},
			flip: flip(Started, Down, at(58*mins)), ping: "fail", dur: 8 * mins, changed: true},
		{name: "started+start restarts the run", s: sStartedNew, ev: Event{Kind: Start, RID: "r2"}, now: at(5 * mins),
			want: State{Status: Started, LastStart: at(5 * mins), StartRID: "r2", NPings: 2, Deadline: at(15 * mins)},
			ping: "start", changed: true},
		{name: "run longer than MaxDuration: no ping duration, LastDuration kept",
			s: State{Status: Started, LastStart: t0, NPings: 1, Deadline: at(100 * hr)}, cfg: &Config{Timeout: hr, Grace: 100 * hr},
			ev: Event{Kind: Success}, now: at(73 * hr),
			want: State{Status: Up, LastPing: at(73 * hr), LastDuration: 73 * hr, NPings: 2, Deadline: at(74 * hr)},
			flip: flip(Started, Up, at(73*hr)), ping: "success", changed: true},
		{name: "previous LastDuration is cleared by an unmeasured success",
			s: with(sUp, func(s *State) { s.LastDuration = time.Minute }), ev: Event{Kind: Success}, now: now,
			want: State{Status: Up, LastPing: now, NPings: 2, Deadline: now.Add(hr)}, ping: "success", changed: true},

		// down
		{name: "down+success", s: sDown, ev: Event{Kind: Success}, now: now,
			want: State{Status: Up, LastPing: now, NPings: 2, Deadline: now.Add(hr)},
			flip: flip(Down, Up, now), ping: "success", changed: true},
		{name: "down+fail is not a flip", s: sDown, ev: Event{Kind: Fail}, now: now,
			want: State{Status: Down, LastPing: now, NPings: 2}, ping: "fail", changed: true},
		{name: "down+start stays down, no deadline", s: sDown, ev: Event{Kind: Start, RID: "r1"}, now: now,
			want: State{Status: Down, LastPing: t0, LastStart: now, StartRID: "r1", NPings: 2}, ping: "start", changed: true},
		{name: "down run completes with duration", s: State{Status: Down, LastPing: t0, LastStart: now, StartRID: "r1", NPings: 2},
			ev: Event{Kind: Success, RID: "r1"}, now: now.Add(2 * mins),
			want: State{Status: Up, LastPing: now.Add(2 * mins), LastDuration: 2 * mins, NPings: 3, Deadline: now.Add(hr + 2*mins)},
			flip: flip(Down, Up, now.Add(2*mins)), ping: "success", dur: 2 * mins, changed: true},

		// paused without manual_resume: pings are handled normally
		{name: "paused+success resumes", s: sPaused, ev: Event{Kind: Success}, now: now,
			want: State{Status: Up, LastPing: now, NPings: 2, Deadline: now.Add(hr)},
			flip: flip(Paused, Up, now), ping: "success", changed: true},
		{name: "paused+fail", s: sPaused, ev: Event{Kind: Fail}, now: now,
			want: State{Status: Down, LastPing: now, NPings: 2}, flip: flip(Paused, Down, now), ping: "fail", changed: true},
		{name: "paused+start stays paused, run deadline armed", s: sPaused, ev: Event{Kind: Start}, now: now,
			want: State{Status: Paused, LastPing: t0, LastStart: now, NPings: 2, Deadline: now.Add(10 * mins)}, ping: "start", changed: true},
		{name: "paused+log", s: sPaused, ev: Event{Kind: Log}, now: now,
			want: with(sPaused, func(s *State) { s.NPings = 2 }), ping: "log", changed: true},
	})
}

func TestManualResumeIgnores(t *testing.T) {
	mr := simple
	mr.ManualResume = true
	running := with(sPaused, func(s *State) { s.LastStart = at(5 * mins); s.Deadline = at(15 * mins) })
	var cases []stepCase
	for _, s := range []State{sPaused, running} {
		for _, k := range []EventKind{Success, Start, Fail, Log} {
			want := s
			want.NPings++
			cases = append(cases, stepCase{name: k.String(), cfg: &mr, s: s, ev: Event{Kind: k, RID: "x"}, now: at(10 * mins),
				want: want, ping: "ign", changed: true})
		}
	}
	// manual_resume only matters while paused
	cases = append(cases, stepCase{name: "up with manual_resume", cfg: &mr, s: sUp, ev: Event{Kind: Success}, now: at(10 * mins),
		want: State{Status: Up, LastPing: at(10 * mins), NPings: 2, Deadline: at(hr + 10*mins)}, ping: "success", changed: true})
	runSteps(t, cases)
}

// TestPostOnlyIgnores: with Healthchecks.io's methods "POST", a ping by another
// HTTP method is logged as ignored and changes nothing else; a POST, or an event
// that came no HTTP way (Method ""), counts.
func TestPostOnlyIgnores(t *testing.T) {
	po := simple
	po.PostOnly = true
	var cases []stepCase
	for _, s := range []State{sNew, sUp, sDown} {
		for _, k := range []EventKind{Success, Start, Fail, Log} {
			for _, m := range []string{"GET", "HEAD", "PUT"} {
				want := s
				want.NPings++
				cases = append(cases, stepCase{name: s.Status.String() + " " + k.String() + " by " + m, cfg: &po, s: s,
					ev: Event{Kind: k, Method: m}, now: at(10 * mins), want: want, ping: "ign", changed: true})
			}
		}
	}
	for _, m := range []string{"POST", ""} {
		cases = append(cases, stepCase{name: "new success by " + strconv.Quote(m), cfg: &po, s: sNew,
			ev: Event{Kind: Success, Method: m}, now: at(10 * mins),
			want: State{Status: Up, LastPing: at(10 * mins), NPings: 1, Deadline: at(hr + 10*mins)},
			flip: flip(New, Up, at(10*mins)), ping: "success", changed: true})
	}
	// Without methods "POST", a GET counts.
	cases = append(cases, stepCase{name: "GET without PostOnly", s: sNew, ev: Event{Kind: Success, Method: "GET"}, now: at(10 * mins),
		want: State{Status: Up, LastPing: at(10 * mins), NPings: 1, Deadline: at(hr + 10*mins)},
		flip: flip(New, Up, at(10*mins)), ping: "success", changed: true})
	runSteps(t, cases)
}

func TestTimer(t *testing.T) {
	cronCfg := Config{Kind: Cron, Schedule: "0 * * * *", Grace: 5 * mins}
	cronUp := State{Status: Up, LastPing: at(30 * sec), NPings: 1, Deadline: at(hr)}
	runSteps(t, []stepCase{
		{name: "new: no deadline, nothing", s: sNew, ev: Event{Kind: Timer}, now: now0},
		{name: "down: nothing", s: sDown, ev: Event{Kind: Timer}, now: at(5 * hr), want: sDown},
		{name: "up 1ns early", s: sUp, ev: Event{Kind: Timer}, now: at(hr - nsec), want: sUp},
		{name: "up at grace start", s: sUp, ev: Event{Kind: Timer}, now: at(hr),
			want: with(sUp, func(s *State) { s.Status = Grace; s.Deadline = at(hr + 10*mins) }), changed: true},
		{name: "grace 1ns early", s: sGrace, ev: Event{Kind: Timer}, now: at(hr + 10*mins - nsec), want: sGrace},
		{name: "grace at grace end", s: sGrace, ev: Event{Kind: Timer}, now: at(hr + 10*mins),
			want: State{Status: Down, LastPing: t0, NPings: 1}, flip: flip(Grace, Down, at(hr+10*mins)), changed: true},
		{name: "late timer: up past grace end goes down at grace end", s: sUp, ev: Event{Kind: Timer}, now: at(3 * hr),
			want: State{Status: Down, LastPing: t0, NPings: 1}, flip: flip(Up, Down, at(hr+10*mins)), changed: true},
		{name: "late timer: up between grace start and end", s: sUp, ev: Event{Kind: Timer}, now: at(hr + 9*mins),
			want: sGrace, changed: true},
		{name: "zero grace: up goes straight down", cfg: &Config{Timeout: hr}, s: sUp, ev: Event{Kind: Timer}, now: at(hr),
			want: State{Status: Down, LastPing: t0, NPings: 1}, flip: flip(Up, Down, at(hr)), changed: true},
		{name: "started(new) 1ns early", s: sStartedNew, ev: Event{Kind: Timer}, now: at(10*mins - nsec), want: sStartedNew},
		{name: "started(new) overdue", s: sStartedNew, ev: Event{Kind: Timer}, now: at(10 * mins),
			want: with(sStartedNew, func(s *State) { s.Status = Down; s.Deadline = time.Time{} }),
			flip: flip(Started, Down, at(10*mins)), changed: true},
		{name: "started(up) run overdue", s: sStartedUp, ev: Event{Kind: Timer}, now: at(hr),
			want: with(sStartedUp, func(s *State) { s.Status = Down; s.Deadline = time.Time{} }),
			flip: flip(Started, Down, at(hr)), changed: true},
		{name: "started(up) grace end before run deadline",
			s:  State{Status: Started, LastPing: t0, LastStart: at(hr + 5*mins), NPings: 2, Deadline: at(hr + 10*mins)},
			ev: Event{Kind: Timer}, now: at(hr + 10*mins),
			want: State{Status: Down, LastPing: t0, LastStart: at(hr + 5*mins), NPings: 2},
			flip: flip(Started, Down, at(hr+10*mins)), changed: true},
		{name: "paused run overdue", s: State{Status: Paused, LastPing: t0, LastStart: at(hr), NPings: 2, Deadline: at(hr + 10*mins)},
			ev: Event{Kind: Timer}, now: at(hr + 10*mins),
			want: State{Status: Down, LastPing: t0, LastStart: at(hr), NPings: 2}, flip: flip(Paused, Down, at(hr+10*mins)), changed: true},
		{name: "up with a foreign run still going: run deadline first",
			s:  State{Status: Up, LastPing: at(55 * mins), LastStart: at(50 * mins), StartRID: "r1", NPings: 3, Deadline: at(hr)},
			ev: Event{Kind: Timer}, now: at(hr),
			want: State{Status: Down, LastPing: at(55 * mins), LastStart: at(50 * mins), StartRID: "r1", NPings: 3},
			flip: flip(Up, Down, at(hr)), changed: true},
		{name: "stale deadline: nothing due, re-armed later", s: with(sUp, func(s *State) { s.Deadline = at(30 * mins) }),
			ev: Event{Kind: Timer}, now: at(30 * mins), want: sUp, changed: true},
		{name: "cron up→grace at the schedule time", cfg: &cronCfg, s: cronUp, ev: Event{Kind: Timer}, now: at(hr),
			want: with(cronUp, func(s *State) { s.Status = Grace; s.Deadline = at(hr + 5*mins) }), changed: true},
		{name: "cron grace→down", cfg: &cronCfg, s: with(cronUp, func(s *State) { s.Status = Grace; s.Deadline = at(hr + 5*mins) }),
			ev: Event{Kind: Timer}, now: at(hr + 5*mins),
			want: State{Status: Down, LastPing: at(30 * sec), NPings: 1}, flip: flip(Grace, Down, at(hr+5*mins)), changed: true},
	})
}

var now0 = at(30 * mins)

func TestPauseResume(t *testing.T) {
	runSteps(t, []stepCase{
		{name: "up+pause", s: sUp, ev: Event{Kind: Pause}, now: now0,
			want: State{Status: Paused, LastPing: t0, NPings: 1}, changed: true},
		{name: "started+pause clears the run", s: sStartedUp, ev: Event{Kind: Pause}, now: now0,
			want: State{Status: Paused, LastPing: t0, NPings: 2}, changed: true},
		{name: "down+pause is not a flip", s: sDown, ev: Event{Kind: Pause}, now: now0,
			want: State{Status: Paused, LastPing: t0, NPings: 1}, changed: true},
		{name: "new+pause", s: sNew, ev: Event{Kind: Pause}, now: now0, want: State{Status: Paused}, changed: true},
		{name: "paused+pause is a no-op", s: sPaused, ev: Event{Kind: Pause}, now: now0, want: sPaused},
		{name: "paused+resume", s: with(sPaused, func(s *State) { s.LastDuration = mins }), ev: Event{Kind: Resume}, now: now0,
			want: State{Status: New, NPings: 1, LastDuration: mins}, changed: true},
		{name: "paused with run+resume", s: State{Status: Paused, LastPing: t0, LastStart: t0, StartRID: "x", NPings: 2, Deadline: at(10 * mins)},
			ev: Event{Kind: Resume}, now: now0, want: State{Status: New, NPings: 2}, changed: true},
		{name: "up+resume is a no-op", s: sUp, ev: Event{Kind: Resume}, now: now0, want: sUp},
		{name: "down+resume is a no-op", s: sDown, ev: Event{Kind: Resume}, now: now0, want: sDown},
		{name: "new+resume is a no-op", s: sNew, ev: Event{Kind: Resume}, now: now0, want: sNew},
	})
}

func TestReconfigure(t *testing.T) {
	longer := Config{Kind: Simple, Timeout: 2 * hr, Grace: 10 * mins}
	shorter := Config{Kind: Simple, Timeout: 30 * mins, Grace: 10 * mins}
	tiny := Config{Kind: Simple, Timeout: 10 * mins, Grace: 10 * mins}
	shortGrace := Config{Kind: Simple, Timeout: hr, Grace: 2 * mins}
	cronCfg := Config{Kind: Cron, Schedule: "0 13 * * *", Grace: 10 * mins}
	runSteps(t, []stepCase{
		{name: "up, longer period", cfg: &longer, s: sUp, ev: Event{Kind: Reconfigure}, now: now0,
			want: with(sUp, func(s *State) { s.Deadline = at(2 * hr) }), changed: true},
		{name: "grace back to up", cfg: &longer, s: sGrace, ev: Event{Kind: Reconfigure}, now: at(hr + 5*mins),
			want: with(sUp, func(s *State) { s.Deadline = at(2 * hr) }), changed: true},
		{name: "up into grace", cfg: &shorter, s: sUp, ev: Event{Kind: Reconfigure}, now: at(35 * mins),
			want: with(sUp, func(s *State) { s.Status = Grace; s.Deadline = at(40 * mins) }), changed: true},
		{name: "up past new grace end goes down then", cfg: &tiny, s: sUp, ev: Event{Kind: Reconfigure}, now: at(35 * mins),
			want: State{Status: Down, LastPing: t0, NPings: 1}, flip: flip(Up, Down, at(20*mins)), changed: true},
		{name: "unchanged config: nothing to persist", s: sUp, ev: Event{Kind: Reconfigure}, now: now0, want: sUp},
		{name: "started, shorter grace makes the run overdue", cfg: &shortGrace, s: sStartedUp, ev: Event{Kind: Reconfigure}, now: at(55 * mins),
			want: with(sStartedUp, func(s *State) { s.Status = Down; s.Deadline = time.Time{} }),
			flip: flip(Started, Down, at(52*mins)), changed: true},
		{name: "started, shorter grace, still running", cfg: &shortGrace, s: sStartedUp, ev: Event{Kind: Reconfigure}, now: at(51 * mins),
			want: with(sStartedUp, func(s *State) { s.Deadline = at(52 * mins) }), changed: true},
		{name: "simple to cron", cfg: &cronCfg, s: sUp, ev: Event{Kind: Reconfigure}, now: now0,
			want: with(sUp, func(s *State) { s.Deadline = at(hr) }), changed: false},
		{name: "cron, grace start already past", cfg: &cronCfg, s: with(sUp, func(s *State) { s.LastPing = at(-24 * hr) }),
			ev: Event{Kind: Reconfigure}, now: at(-23*hr + 5*mins),
			want: State{Status: Grace, LastPing: at(-24 * hr), NPings: 1, Deadline: at(-23*hr + 10*mins)}, changed: true},
		{name: "down stays down", cfg: &tiny, s: sDown, ev: Event{Kind: Reconfigure}, now: now0, want: sDown},
		{name: "new stays new", cfg: &tiny, s: sNew, ev: Event{Kind: Reconfigure}, now: now0, want: sNew},
		{name: "paused stays paused", cfg: &tiny, s: sPaused, ev: Event{Kind: Reconfigure}, now: now0, want: sPaused},
	})
}

// A ping's exit code is the caller's: /0 is Success, /1-/255 is Fail.
func TestExitCodesAreEvents(t *testing.T) {
	spec := mustCompile(t, simple)
	s, _ := Apply(spec, sUp, Event{Kind: Fail}, now0) // e.g. /ping/<uuid>/1
	if s.Status != Down {
		t.Fatalf("exit status 1 (Fail) should take the check down, got %v", s.Status)
	}
	s, _ = Apply(spec, s, Event{Kind: Success}, now0.Add(mins)) // /ping/<uuid>/0
	if s.Status != Up {
		t.Fatalf("exit status 0 (Success) should bring it up, got %v", s.Status)
	}
}

// A whole life, step by step, with the actor's job (fire Timer at Arm) done by hand.
func TestScenario(t *testing.T) {
	spec := mustCompile(t, simple)
	type step struct {
		ev     EventKind
		rid    string
		now    time.Time
		status Status
		arm    time.Time
		flip   bool
	}
	steps := []step{
		{Start, "a", at(0), Started, at(10 * mins), false},
		{Success, "a", at(2 * mins), Up, at(hr + 2*mins), true}, // first completion: new→up
		{Timer, "", at(hr + 2*mins), Grace, at(hr + 12*mins), false},
		{Start, "b", at(hr + 3*mins), Started, at(hr + 12*mins), false}, // late start cannot extend grace
		{Timer, "", at(hr + 12*mins - nsec), Started, at(hr + 12*mins), false},
		{Timer, "", at(hr + 12*mins), Down, time.Time{}, true},
		{Success, "b", at(hr + 20*mins), Up, at(2*hr + 20*mins), true},
		{Pause, "", at(2 * hr), Paused, time.Time{}, false},
		{Log, "", at(2*hr + mins), Paused, time.Time{}, false},
		{Resume, "", at(3 * hr), New, time.Time{}, false},
		{Fail, "", at(4 * hr), Down, time.Time{}, true},
	}
	var s State
	for i, st := range steps {
		var eff Effects
		s, eff = Apply(spec, s, Event{Kind: st.ev, RID: st.rid}, st.now)
		if s.Status != st.status || !eff.Arm.Equal(st.arm) || (eff.Flip != nil) != st.flip {
			t.Fatalf("step %d (%v at %v): status %v arm %v flip %+v; want %v %v %v", i, st.ev, st.now, s.Status, eff.Arm, eff.Flip, st.status, st.arm, st.flip)
		}
	}
	if s.NPings != 6 {
		t.Errorf("NPings %d, want 6", s.NPings)
	}
	if s.LastDuration != 0 { // the fail had no matching run
		t.Errorf("LastDuration %v", s.LastDuration)
	}
}

func TestNextPing(t *testing.T) {
	spec := mustCompile(t, simple)
	cronSpec := mustCompile(t, Config{Kind: Cron, Schedule: "30 2 * * *", TZ: "America/New_York", Grace: hr})
	ny, _ := time.LoadLocation("America/New_York")
	for _, c := range []struct {
		name string
		spec Spec
		s    State
		want time.Time
	}{
		{"new", spec, sNew, time.Time{}},
		{"up", spec, sUp, at(hr)},
		{"grace: already past", spec, sGrace, at(hr)},
		{"down", spec, sDown, time.Time{}},
		{"paused", spec, sPaused, time.Time{}},
		{"started on new: the run's start", spec, sStartedNew, t0},
		{"started on up: earlier of start and grace start", spec, sStartedUp, at(50 * mins)},
		{"started on up, start after grace start", spec, with(sStartedUp, func(s *State) { s.LastStart = at(2 * hr) }), at(hr)},
		{"down with a run", spec, with(sDown, func(s *State) { s.LastStart = t0 }), time.Time{}},
		{"paused with a run", spec, with(sPaused, func(s *State) { s.LastStart = at(hr) }), at(hr)},
		{"cron across spring-forward", cronSpec,
			State{Status: Up, LastPing: time.Date(2026, 3, 7, 2, 30, 5, 0, ny)},
			time.Date(2026, 3, 8, 3, 0, 0, 0, ny).UTC()},
		{"zero spec", Spec{}, sUp, t0},
		{"zero spec cron kind", Spec{cfg: Config{Kind: Cron}}, sUp, time.Time{}},
	} {
		if got := NextPing(c.spec, c.s); !got.Equal(c.want) {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

func TestDisplayStatus(t *testing.T) {
	spec := mustCompile(t, simple)
	for _, c := range []struct {
		name        string
		s           State
		now         time.Time
		withStarted bool
		want        Status
	}{
		{"up", sUp, at(10 * mins), false, Up},
		{"up, timer not delivered yet", sUp, at(hr), false, Grace},
		{"up, long overdue", sUp, at(hr + 10*mins), false, Down},
		{"grace", sGrace, at(hr + mins), false, Grace},
		{"started on new, v3", sStartedNew, at(mins), false, New},
		{"started on new, v1", sStartedNew, at(mins), true, Started},
		{"started on up, v3", sStartedUp, at(55 * mins), false, Up},
		{"started on up past grace start, v3", with(sStartedUp, func(s *State) { s.LastStart = at(hr + mins) }), at(hr + 2*mins), false, Grace},
		{"run overdue", sStartedNew, at(10 * mins), true, Down},
		{"paused with overdue run", with(sPaused, func(s *State) { s.LastStart = t0 }), at(hr), false, Down},
		{"paused", sPaused, at(5 * hr), false, Paused},
		{"down", sDown, at(5 * hr), false, Down},
		{"new", sNew, at(5 * hr), true, New},
	} {
		if got := DisplayStatus(spec, c.s, c.now, c.withStarted); got != c.want {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

func TestStatusStrings(t *testing.T) {
	for s := New; s <= Started; s++ {
		p, err := ParseStatus(s.String())
		if err != nil || p != s {
			t.Errorf("%v: ParseStatus = %v, %v", s, p, err)
		}
	}
	want := "new up grace down paused started"
	var got []string
	for s := New; s <= Started; s++ {
		got = append(got, s.String())
	}
	if strings.Join(got, " ") != want {
		t.Errorf("names %q", got)
	}
	if _, err := ParseStatus("UP"); err == nil {
		t.Error("ParseStatus is case-sensitive, as the stored names are")
	}
	if Status(42).String() != "status(42)" {
		t.Error(Status(42).String())
	}
}

func TestCompileErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // substring; "" = must compile
	}{
		{Config{Kind: Simple, Timeout: hr}, ""},
		{Config{Kind: Cron, Schedule: "*/5 * * * *", TZ: "Europe/Riga"}, ""},
		{Config{Kind: Cron, Schedule: "0 0 * * 7"}, ""},
		{Config{Kind: Cron, Schedule: "0 0 * * MON-fri"}, ""},
		{Config{Kind: Cron, Schedule: "@daily"}, ""},
		{Config{Kind: Cron, Schedule: "@HOURLY"}, ""},
		{Config{Kind: Cron, Schedule: "0 0 29 2 *"}, ""},
		{Config{Kind: Cron, Schedule: " 0  0 * *  * "}, ""},
		{Config{Kind: Simple, Schedule: "garbage"}, ""}, // schedule unused by simple checks
		{Config{Kind: Cron, Schedule: "0 0 * *"}, `invalid cron expression "0 0 * *": expected 5 fields, found 4`},
		{Config{Kind: Cron, Schedule: "0 0 0 * * *"}, `invalid cron expression "0 0 0 * * *": expected 5 fields`},
		{Config{Kind: Cron, Schedule: ""}, `invalid cron expression "": expected 5 fields, found 0`},
		{Config{Kind: Cron, Schedule: "60 * * * *"}, `invalid cron expression "60 * * * *"`},
		{Config{Kind: Cron, Schedule: "* 24 * * *"}, `invalid cron expression`},
		{Config{Kind: Cron, Schedule: "* * * * 8"}, `bad day-of-week "8"`},
		{Config{Kind: Cron, Schedule: "* * * * 5-1"}, `bad day-of-week`},
		{Config{Kind: Cron, Schedule: "* * * * */0"}, `bad day-of-week`},
		{Config{Kind: Cron, Schedule: "* * * * 1#2"}, `bad day-of-week`},
		{Config{Kind: Cron, Schedule: "* * L * *"}, `invalid cron expression`},
		{Config{Kind: Cron, Schedule: "0 0 30 2 *"}, `day-of-month is past the end`},
		{Config{Kind: Cron, Schedule: "0 0 31 2,4 *"}, `day-of-month is past the end`},
		{Config{Kind: Cron, Schedule: "@every 5m"}, `unsupported descriptor`},
		{Config{Kind: Cron, Schedule: "@reboot"}, `unsupported descriptor`},
		{Config{Kind: Cron, Schedule: "TZ=UTC * * * *"}, `time zone prefixes are not supported`},
		{Config{Kind: Cron, Schedule: "CRON_TZ=UTC"}, `expected 5 fields`},
		{Config{Kind: Cron, Schedule: "* * * * *", TZ: "Mars/Olympus"}, `unknown time zone "Mars/Olympus"`},
		{Config{Kind: Simple, TZ: "Local"}, `unknown time zone "Local"`},
		{Config{Kind: Simple, TZ: "../etc/passwd"}, `unknown time zone`},
		{Config{Kind: Simple, Timeout: -1}, "negative timeout"},
		{Config{Kind: Simple, Grace: -1}, "negative grace"},
		{Config{Kind: 7}, "unknown check kind 7"},
	} {
		_, err := Compile(c.cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: unexpected error %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
	}
	sp := mustCompile(t, Config{Kind: Cron, Schedule: "@daily"})
	if c := sp.Config(); c.TZ != "UTC" || c.Schedule != "@daily" {
		t.Errorf("Config() = %+v", c)
	}
}

// Apply's contract, checked over random event sequences from a fresh check:
// no panic; Arm is the new Deadline; the Deadline is always the one deadline()
// derives (so a carried-over deadline is never stale); a Timer at or after the
// deadline leaves none at or before now (the wheel cannot spin); a deadline
// already past is only ever an overdue transition that a Timer at now performs;
// Down/New/Paused without a run have no deadline; flips go into up or down from
// something else and never into the future; NPings counts pings.
func FuzzApply(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{1, 0, 4, 4, 4, 0, 2, 4, 4, 17, 33, 200, 7, 7, 7})
	f.Add([]byte{5, 1, 9, 0, 9, 4, 12, 4, 99, 5, 0, 6, 1, 3, 0, 4, 200, 4, 255})
	f.Add([]byte{3, 1, 1, 1, 30, 0, 31, 4, 60, 4, 61, 4, 250, 4, 251})
	cfgs := []Config{
		simple,
		{},
		{Kind: Simple, Timeout: mins, Grace: hr, ManualResume: true},
		{Kind: Cron, Schedule: "30 2 * * *", TZ: "America/New_York", Grace: 5 * mins},
		{Kind: Cron, Schedule: "*/15 * * * *", TZ: "Europe/Riga", Grace: 20 * mins},
		{Kind: Cron, Schedule: "0 0 29 2 *", TZ: "Australia/Lord_Howe", Grace: 0},
	}
	specs := make([]Spec, len(cfgs))
	for i, c := range cfgs {
		specs[i] = mustCompile(f, c)
	}
	steps := []time.Duration{0, nsec, sec, 59 * sec, 5 * mins, 10 * mins, 15 * mins, hr, 6 * hr, 24 * hr, 30 * 24 * hr}
	// Start a day before spring-forward in New York, so DST gets crossed.
	start := time.Date(2026, 3, 7, 1, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		si := int(data[0]) % len(specs)
		spec := specs[si]
		now := start.Add(time.Duration(data[0]) * 7 * mins)
		var s State
		for i := 1; i+1 < len(data); i += 2 {
			kind := EventKind(data[i] % 8)
			now = now.Add(steps[int(data[i+1]>>4)%len(steps)] + time.Duration(data[i+1]&15)*sec)
			ev := Event{Kind: kind, RID: []string{"", "a", "b"}[int(data[i+1])%3]}
			if kind == Reconfigure {
				si = int(data[i+1]) % len(specs)
				spec = specs[si]
			}
			prev := s
			var eff Effects
			s, eff = Apply(spec, prev, ev, now)

			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("step %d %v at %v (spec %d)\nprev %+v\nnew  %+v\neff  %+v: %s", i, kind, now, si, prev, s, eff, fmt.Sprintf(format, args...))
			}
			if eff.Arm != s.Deadline {
				fail("Arm != Deadline")
			}
			if want := deadline(spec, s); !s.Deadline.Equal(want) {
				fail("Deadline %v, derived %v", s.Deadline, want)
			}
			if kind == Timer && !prev.Deadline.IsZero() && !now.Before(prev.Deadline) && !s.Deadline.IsZero() && !s.Deadline.After(now) {
				fail("due timer left a deadline at or before now")
			}
			if !s.Deadline.IsZero() && !s.Deadline.After(now) {
				s2, eff2 := Apply(spec, s, Event{Kind: Timer}, now)
				if s2.Status == s.Status || !eff2.Changed {
					fail("deadline %v is past but a timer at now does nothing", s.Deadline)
				}
			}
			if (s.Status == Down || s.LastStart.IsZero() && (s.Status == New || s.Status == Paused)) && !s.Deadline.IsZero() {
				fail("%v without a run has a deadline", s.Status)
			}
			if fl := eff.Flip; fl != nil {
				if fl.To != Up && fl.To != Down || fl.From == fl.To || fl.To != s.Status || fl.At.After(now) {
					fail("bad flip %+v", *fl)
				}
			}
			isPing := kind <= Log
			if eff.LogPing != isPing || isPing && (s.NPings != prev.NPings+1 || eff.N != s.NPings) || !isPing && s.NPings != prev.NPings {
				fail("ping accounting")
			}
			if np := NextPing(spec, s); !np.IsZero() && !s.LastPing.IsZero() && np.Before(s.LastPing) && s.LastStart.IsZero() {
				fail("next ping %v before last ping", np)
			}
			if eff.Changed != (s != prev) {
				fail("Changed %v", eff.Changed)
			}
		}
	})
}

// Garbage in (any state, any spec, any time) must not panic.
func FuzzApplyGarbage(f *testing.F) {
	f.Add(uint8(0), uint8(0), int64(0), int64(0), int64(0), int64(0), int64(0), "", uint8(0))
	f.Add(uint8(9), uint8(3), int64(-1), int64(1<<62), int64(-1<<62), int64(1), int64(1<<40), "r", uint8(2))
	specs := []Spec{{}, mustCompile(f, simple), mustCompile(f, Config{Kind: Cron, Schedule: "0 0 * * 0", TZ: "Pacific/Apia", Grace: hr}),
		mustCompile(f, Config{Kind: Cron, Schedule: "* 2 * * *", TZ: "Australia/Lord_Howe", Grace: time.Duration(1 << 62)}),
		mustCompile(f, Config{Kind: Simple, Timeout: time.Duration(1<<63 - 1), Grace: time.Duration(1<<63 - 1)})}
	f.Fuzz(func(t *testing.T, status, kind uint8, lastPing, lastStart, deadline, now, dur int64, rid string, si uint8) {
		s := State{Status: Status(status % 8), LastPing: time.Unix(0, lastPing), LastStart: time.Unix(0, lastStart),
			StartRID: rid, LastDuration: time.Duration(dur), NPings: uint64(dur), Deadline: time.Unix(0, deadline)}
		if lastPing%3 == 0 {
			s.LastPing = time.Time{}
		}
		if lastStart%3 == 0 {
			s.LastStart = time.Time{}
		}
		spec := specs[int(si)%len(specs)]
		next, eff := Apply(spec, s, Event{Kind: EventKind(kind % 9), RID: rid}, time.Unix(0, now))
		if eff.Arm != next.Deadline {
			t.Fatalf("Arm != Deadline")
		}
		NextPing(spec, next)
		DisplayStatus(spec, next, time.Unix(0, now), kind%2 == 0)
	})
}
