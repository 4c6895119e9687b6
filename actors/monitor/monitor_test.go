package monitor

import (
	"strings"
	"testing"
	"time"
)

const (
	nsec = time.Nanosecond
	ms   = time.Millisecond
	sec  = time.Second
	mins = time.Minute
	hr   = time.Hour
)

var testID = [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}

// base: probe every minute, 2 minutes to confirm, 3 to recover, no window.
var base = Config{ID: testID, CheckFrequency: mins, ConfirmationPeriod: 2 * mins, RecoveryPeriod: 3 * mins}

func mustCompile(t testing.TB, c Config) Spec {
	t.Helper()
	s, err := Compile(c)
	if err != nil {
		t.Fatalf("Compile(%+v): %v", c, err)
	}
	return s
}

func cfgWith(f func(*Config)) *Config { c := base; f(&c); return &c }

// t0 is a probe instant of base: every at(k*mins) is one too.
var t0 = func() time.Time {
	spec, _ := Compile(base)
	return NextProbe(spec, time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
}()

func at(d time.Duration) time.Time { return t0.Add(d) }

func probe(up bool, when time.Time) Event {
	r := ProbeResult{Up: up, At: when}
	if !up {
		r.Err = "connection refused"
	}
	return Event{Kind: Probed, Result: r}
}

var (
	ok   = func(when time.Time) Event { return probe(true, when) }
	fail = func(when time.Time) Event { return probe(false, when) }
)

func flip(from, to Status, when time.Time, incident bool) *Flip {
	return &Flip{From: from, To: to, At: when, Incident: incident}
}

func with(s State, f func(*State)) State { f(&s); return s }

func probeAt(d time.Duration) func(*State) {
	return func(s *State) { s.Next, s.Wake = at(d), WakeProbe }
}

// Reference states of base, last probed at t0 (the next probe is at +1m).
var (
	sPending = State{Status: Pending, Since: at(-30 * sec), Next: t0, Wake: WakeProbe}
	sUp      = State{Status: Up, Since: at(-hr), LastProbe: t0, Next: at(mins), Wake: WakeProbe}
	// up, failing since t0
	sConfirm = with(sUp, func(s *State) { s.FailingSince = t0 })
	// down since t0, incident open since t0-2m
	sDown = State{Status: Down, Since: t0, IncidentSince: at(-2 * mins), LastProbe: t0, Next: at(mins), Wake: WakeProbe}
	// validating since t0
	sValid  = with(sDown, func(s *State) { s.Status = Validating; s.RecoveringSince = t0 })
	sPaused = State{Status: Paused, Since: at(-hr), LastProbe: at(-hr)}
)

type stepCase struct {
	name             string
	cfg              *Config // nil: base
	s                State
	ev               Event
	now              time.Time
	want             State
	flip             *Flip
	opened, resolved time.Time
	record           bool
	changed          bool
}

func runSteps(t *testing.T, cases []stepCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			if c.cfg != nil {
				cfg = *c.cfg
			}
			got, eff := Apply(mustCompile(t, cfg), c.s, c.ev, c.now)
			if got != c.want {
				t.Errorf("state\n got %+v\nwant %+v", got, c.want)
			}
			if eff.Next != got.Next || eff.Wake != got.Wake {
				t.Errorf("effects wake %v %v != state's %v %v", eff.Next, eff.Wake, got.Next, got.Wake)
			}
			if (eff.Flip == nil) != (c.flip == nil) || (eff.Flip != nil && *eff.Flip != *c.flip) {
				t.Errorf("flip got %+v want %+v", eff.Flip, c.flip)
			}
			if !eff.IncidentOpened.Equal(c.opened) || !eff.IncidentResolved.Equal(c.resolved) {
				t.Errorf("incident opened %v resolved %v, want %v %v", eff.IncidentOpened, eff.IncidentResolved, c.opened, c.resolved)
			}
			if eff.Record != c.record {
				t.Errorf("record got %v want %v", eff.Record, c.record)
			}
			if eff.Changed != c.changed {
				t.Errorf("changed got %v want %v", eff.Changed, c.changed)
			}
		})
	}
}

func TestVerdicts(t *testing.T) {
	cp0 := cfgWith(func(c *Config) { c.ConfirmationPeriod = 0 })
	rp0 := cfgWith(func(c *Config) { c.RecoveryPeriod = 0 })
	now := at(2 * sec) // results arrive 2s after their probe started
	runSteps(t, []stepCase{
		// pending
		{name: "pending+success: up, not alertable", s: sPending, ev: ok(t0), now: now,
			want: State{Status: Up, Since: t0, LastProbe: t0, Next: at(mins), Wake: WakeProbe},
			flip: flip(Pending, Up, t0, false), record: true, changed: true},
		{name: "pending+failure starts confirming", s: sPending, ev: fail(t0), now: now,
			want:   with(sPending, func(s *State) { s.FailingSince, s.LastProbe = t0, t0; probeAt(mins)(s) }),
			record: true, changed: true},
		{name: "pending confirming 1ns short", s: with(sPending, func(s *State) { s.FailingSince = t0 }),
			ev: fail(at(2*mins - nsec)), now: at(2*mins - nsec),
			want:   with(sPending, func(s *State) { s.FailingSince, s.LastProbe = t0, at(2*mins-nsec); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "pending confirmed exactly: down, incident from the first failure", s: with(sPending, func(s *State) { s.FailingSince = t0 }),
			ev: fail(at(2 * mins)), now: at(2*mins + sec),
			want: State{Status: Down, Since: at(2 * mins), IncidentSince: t0, LastProbe: at(2 * mins), Next: at(3 * mins), Wake: WakeProbe},
			flip: flip(Pending, Down, at(2*mins), true), opened: t0, record: true, changed: true},
		{name: "pending+failure, confirmation 0: down at once", cfg: cp0, s: sPending, ev: fail(t0), now: now,
			want: State{Status: Down, Since: t0, IncidentSince: t0, LastProbe: t0, Next: at(mins), Wake: WakeProbe},
			flip: flip(Pending, Down, t0, true), opened: t0, record: true, changed: true},

		// up
		{name: "up+success", s: sUp, ev: ok(at(mins)), now: at(mins + sec),
			want:   with(sUp, func(s *State) { s.LastProbe = at(mins); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "up+failure starts confirming, status stays up", s: sUp, ev: fail(at(mins)), now: at(mins + sec),
			want:   with(sUp, func(s *State) { s.FailingSince, s.LastProbe = at(mins), at(mins); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "confirming+success: cleared, no incident", s: sConfirm, ev: ok(at(mins)), now: at(mins + sec),
			want:   with(sUp, func(s *State) { s.LastProbe = at(mins); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "confirming+failure before the period keeps the first failure", s: sConfirm, ev: fail(at(mins)), now: at(mins + sec),
			want:   with(sConfirm, func(s *State) { s.LastProbe = at(mins); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "confirming+failure 1ns short of the period", s: sConfirm, ev: fail(at(2*mins - nsec)), now: at(2*mins - nsec),
			want:   with(sConfirm, func(s *State) { s.LastProbe = at(2*mins - nsec); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "confirming+failure exactly at the period: down", s: sConfirm, ev: fail(at(2 * mins)), now: at(2*mins + 3*sec),
			want: State{Status: Down, Since: at(2 * mins), IncidentSince: t0, LastProbe: at(2 * mins), Next: at(3 * mins), Wake: WakeProbe},
			flip: flip(Up, Down, at(2*mins), true), opened: t0, record: true, changed: true},
		{name: "up+failure, confirmation 0: down at once", cfg: cp0, s: sUp, ev: fail(at(mins)), now: at(mins + sec),
			want: State{Status: Down, Since: at(mins), IncidentSince: at(mins), LastProbe: at(mins), Next: at(2 * mins), Wake: WakeProbe},
			flip: flip(Up, Down, at(mins), true), opened: at(mins), record: true, changed: true},

		// down
		{name: "down+failure: same incident", s: sDown, ev: fail(at(mins)), now: at(mins + sec),
			want:   with(sDown, func(s *State) { s.LastProbe = at(mins); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "down+success: validating", s: sDown, ev: ok(at(mins)), now: at(mins + sec),
			want: with(sDown, func(s *State) {
				s.Status, s.Since, s.RecoveringSince, s.LastProbe = Validating, at(mins), at(mins), at(mins)
				probeAt(2 * mins)(s)
			}),
			flip: flip(Down, Validating, at(mins), false), record: true, changed: true},
		{name: "down+success, recovery 0: up, resolved", cfg: rp0, s: sDown, ev: ok(at(mins)), now: at(mins + sec),
			want: State{Status: Up, Since: at(mins), LastProbe: at(mins), Next: at(2 * mins), Wake: WakeProbe},
			flip: flip(Down, Up, at(mins), true), resolved: at(mins), record: true, changed: true},

		// validating
		{name: "validating+success before the period", s: sValid, ev: ok(at(mins)), now: at(mins + sec),
			want:   with(sValid, func(s *State) { s.LastProbe = at(mins); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "validating+success 1ns short", s: sValid, ev: ok(at(3*mins - nsec)), now: at(3*mins - nsec),
			want:   with(sValid, func(s *State) { s.LastProbe = at(3*mins - nsec); probeAt(3 * mins)(s) }),
			record: true, changed: true},
		{name: "validating+success exactly at the period: up, resolved", s: sValid, ev: ok(at(3 * mins)), now: at(3*mins + sec),
			want: State{Status: Up, Since: at(3 * mins), LastProbe: at(3 * mins), Next: at(4 * mins), Wake: WakeProbe},
			flip: flip(Validating, Up, at(3*mins), true), resolved: at(3 * mins), record: true, changed: true},
		{name: "validating+failure: back down, same incident", s: sValid, ev: fail(at(mins)), now: at(mins + sec),
			want: with(sDown, func(s *State) { s.Since, s.LastProbe = at(mins), at(mins); probeAt(2 * mins)(s) }),
			flip: flip(Validating, Down, at(mins), false), record: true, changed: true},

		// pending with an incident left open by a pause or window
		{name: "pending+incident+failure: down, no new incident", s: with(sPending, func(s *State) { s.IncidentSince = at(-hr) }),
			ev: fail(t0), now: now,
			want: State{Status: Down, Since: t0, IncidentSince: at(-hr), LastProbe: t0, Next: at(mins), Wake: WakeProbe},
			flip: flip(Pending, Down, t0, false), record: true, changed: true},
		{name: "pending+incident+success: validating", s: with(sPending, func(s *State) { s.IncidentSince = at(-hr) }),
			ev: ok(t0), now: now,
			want: State{Status: Validating, Since: t0, RecoveringSince: t0, IncidentSince: at(-hr), LastProbe: t0, Next: at(mins), Wake: WakeProbe},
			flip: flip(Pending, Validating, t0, false), record: true, changed: true},
		{name: "pending+incident+success, recovery 0: resolved", cfg: rp0, s: with(sPending, func(s *State) { s.IncidentSince = at(-hr) }),
			ev: ok(t0), now: now,
			want: State{Status: Up, Since: t0, LastProbe: t0, Next: at(mins), Wake: WakeProbe},
			flip: flip(Pending, Up, t0, true), resolved: t0, record: true, changed: true},
	})
}

// A period ending between two grid instants gets its own probe.
func TestExtraProbes(t *testing.T) {
	cp90 := cfgWith(func(c *Config) { c.ConfirmationPeriod = 90 * sec })
	cp30 := cfgWith(func(c *Config) { c.ConfirmationPeriod = 30 * sec })
	rp90 := cfgWith(func(c *Config) { c.RecoveryPeriod = 90 * sec })
	runSteps(t, []stepCase{
		{name: "confirmation end after the next grid instant: regular probe", cfg: cp90, s: sUp, ev: fail(at(mins)), now: at(mins + sec),
			want:   with(sUp, func(s *State) { s.FailingSince, s.LastProbe = at(mins), at(mins); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "confirmation end before the next grid instant: probe then", cfg: cp90, s: sConfirm, ev: fail(at(mins)), now: at(mins + sec),
			want:   with(sConfirm, func(s *State) { s.LastProbe = at(mins); probeAt(90 * sec)(s) }),
			record: true, changed: true},
		{name: "off-grid confirmation probe decides", cfg: cp90, s: with(sConfirm, probeAt(90*sec)), ev: fail(at(90 * sec)), now: at(91 * sec),
			want: State{Status: Down, Since: at(90 * sec), IncidentSince: t0, LastProbe: at(90 * sec), Next: at(2 * mins), Wake: WakeProbe},
			flip: flip(Up, Down, at(90*sec), true), opened: t0, record: true, changed: true},
		{name: "short confirmation", cfg: cp30, s: sUp, ev: fail(at(mins)), now: at(mins + sec),
			want:   with(sUp, func(s *State) { s.FailingSince, s.LastProbe = at(mins), at(mins); probeAt(mins + 30*sec)(s) }),
			record: true, changed: true},
		{name: "slow probe: confirmation already over, probe now", cfg: cp30, s: sUp, ev: fail(at(mins)), now: at(mins + 45*sec),
			want:   with(sUp, func(s *State) { s.FailingSince, s.LastProbe = at(mins), at(mins); probeAt(mins + 45*sec)(s) }),
			record: true, changed: true},
		{name: "recovery end before the next grid instant", cfg: rp90, s: sValid, ev: ok(at(mins)), now: at(mins + sec),
			want:   with(sValid, func(s *State) { s.LastProbe = at(mins); probeAt(90 * sec)(s) }),
			record: true, changed: true},
	})
}

func TestStaleResults(t *testing.T) {
	runSteps(t, []stepCase{
		{name: "older than the last probe", s: sDown, ev: ok(at(-mins)), now: at(sec), want: sDown},
		{name: "duplicate of the last probe", s: sDown, ev: ok(t0), now: at(sec), want: sDown},
		{name: "started before the current status (resume)", s: with(sPending, func(s *State) { s.LastProbe = at(-hr); s.Since = at(-sec) }),
			ev: fail(at(-2 * sec)), now: at(-sec / 2), want: with(sPending, func(s *State) { s.LastProbe = at(-hr); s.Since = at(-sec) })},
		{name: "started exactly when the status began counts", s: with(sPending, func(s *State) { s.Since = at(-30 * sec) }),
			ev: ok(at(-30 * sec)), now: at(-29 * sec),
			want: State{Status: Up, Since: at(-30 * sec), LastProbe: at(-30 * sec), Next: t0, Wake: WakeProbe},
			flip: flip(Pending, Up, at(-30*sec), false), record: true, changed: true},
		{name: "zero At is read as now", s: sUp, ev: ok(time.Time{}), now: at(mins + sec),
			want:   with(sUp, func(s *State) { s.LastProbe = at(mins + sec); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "future At is read as now", s: sUp, ev: fail(at(hr)), now: at(mins + sec),
			want:   with(sUp, func(s *State) { s.FailingSince, s.LastProbe = at(mins+sec), at(mins+sec); probeAt(2 * mins)(s) }),
			record: true, changed: true},
		{name: "At in another zone is normalised", s: sUp, ev: ok(at(mins).In(time.FixedZone("X", 3600))), now: at(mins + sec),
			want:   with(sUp, func(s *State) { s.LastProbe = at(mins); probeAt(2 * mins)(s) }),
			record: true, changed: true},
	})
}

func TestTimerAndPause(t *testing.T) {
	resumed := State{Status: Pending, Since: at(30 * sec), LastProbe: at(-hr), Next: at(mins), Wake: WakeProbe}
	runSteps(t, []stepCase{
		{name: "early timer keeps the stored wake", s: sUp, ev: Event{Kind: Timer}, now: at(mins - nsec), want: sUp},
		{name: "spurious timer without a wake", s: sPaused, ev: Event{Kind: Timer}, now: at(mins), want: sPaused},
		{name: "timer on a probe wake re-derives it", s: sUp, ev: Event{Kind: Timer}, now: at(mins),
			want: with(sUp, probeAt(2*mins)), changed: true},
		{name: "up+pause", s: sConfirm, ev: Event{Kind: Pause}, now: at(30 * sec),
			want: State{Status: Paused, Since: at(30 * sec), LastProbe: t0},
			flip: flip(Up, Paused, at(30*sec), false), changed: true},
		{name: "down+pause keeps the incident open", s: sDown, ev: Event{Kind: Pause}, now: at(30 * sec),
			want: State{Status: Paused, Since: at(30 * sec), IncidentSince: at(-2 * mins), LastProbe: t0},
			flip: flip(Down, Paused, at(30*sec), false), changed: true},
		{name: "paused+pause: no-op", s: sPaused, ev: Event{Kind: Pause}, now: at(30 * sec), want: sPaused},
		{name: "paused+result ignored", s: sPaused, ev: fail(t0), now: at(30 * sec), want: sPaused},
		{name: "paused+reconfigure stays asleep", cfg: cfgWith(func(c *Config) { c.CheckFrequency = sec }), s: sPaused,
			ev: Event{Kind: Reconfigure}, now: at(30 * sec), want: sPaused},
		{name: "resume: pending, first probe on the grid, not now", s: sPaused, ev: Event{Kind: Resume}, now: at(30 * sec),
			want: resumed, flip: flip(Paused, Pending, at(30*sec), false), changed: true},
		{name: "resume on the grid instant waits a period", s: sPaused, ev: Event{Kind: Resume}, now: t0,
			want: with(resumed, func(s *State) { s.Since = t0 }), flip: flip(Paused, Pending, t0, false), changed: true},
		{name: "up+resume: no-op", s: sUp, ev: Event{Kind: Resume}, now: at(30 * sec), want: sUp},
		{name: "result started before the pause, arriving after resume", s: resumed, ev: fail(at(29 * sec)), now: at(31 * sec), want: resumed},
	})
}

func TestMaintenance(t *testing.T) {
	// 23:00→01:00 UTC, probing hourly so that the window boundaries are the
	// only thing between probes.
	night := &Config{ID: testID, CheckFrequency: hr, ConfirmationPeriod: 2 * mins, RecoveryPeriod: 3 * mins,
		MaintenanceFrom: 23 * hr, MaintenanceTo: hr}
	spec := mustCompile(t, *night)
	d := func(h, m int, s, ns int) time.Time { return time.Date(2026, 5, 1, h, m, s, ns, time.UTC) }
	start, end := d(23, 0, 0, 0), d(25, 0, 0, 0)
	upNight := State{Status: Up, Since: d(10, 0, 0, 0), LastProbe: d(22, 0, 0, 0), Next: start, Wake: WakeTimer}
	inMaint := State{Status: Maintenance, Since: start, LastProbe: d(22, 0, 0, 0), Next: end, Wake: WakeTimer}
	downNight := State{Status: Down, Since: d(22, 0, 0, 0), IncidentSince: d(21, 0, 0, 0), LastProbe: d(22, 0, 0, 0), Next: start, Wake: WakeTimer}
	after := NextProbe(spec, end)
	runSteps(t, []stepCase{
		{name: "timer at the window start", cfg: night, s: upNight, ev: Event{Kind: Timer}, now: start,
			want: inMaint, flip: flip(Up, Maintenance, start, false), changed: true},
		{name: "late timer, 23:30", cfg: night, s: upNight, ev: Event{Kind: Timer}, now: d(23, 30, 0, 0),
			want: with(inMaint, func(s *State) { s.Since = d(23, 30, 0, 0) }), flip: flip(Up, Maintenance, d(23, 30, 0, 0), false), changed: true},
		{name: "result at 23:30 when not yet in maintenance: ignored, maintenance", cfg: night,
			s: with(upNight, func(s *State) { s.FailingSince = d(22, 0, 0, 0) }), ev: fail(d(22, 59, 59, 0)), now: d(23, 30, 0, 0),
			want: with(inMaint, func(s *State) { s.Since = d(23, 30, 0, 0) }), flip: flip(Up, Maintenance, d(23, 30, 0, 0), false), changed: true},
		{name: "result at 00:30 in maintenance: ignored", cfg: night, s: inMaint, ev: fail(d(24, 30, 0, 0)), now: d(24, 30, 1, 0), want: inMaint},
		{name: "pause in maintenance", cfg: night, s: inMaint, ev: Event{Kind: Pause}, now: d(24, 30, 0, 0),
			want: State{Status: Paused, Since: d(24, 30, 0, 0), LastProbe: d(22, 0, 0, 0)},
			flip: flip(Maintenance, Paused, d(24, 30, 0, 0), false), changed: true},
		{name: "resume inside the window lands in maintenance", cfg: night, s: sPaused, ev: Event{Kind: Resume}, now: d(24, 30, 0, 0),
			want: State{Status: Maintenance, Since: d(24, 30, 0, 0), LastProbe: at(-hr), Next: end, Wake: WakeTimer},
			flip: flip(Paused, Maintenance, d(24, 30, 0, 0), false), changed: true},
		{name: "early timer at 00:59:59.999", cfg: night, s: inMaint, ev: Event{Kind: Timer}, now: end.Add(-ms), want: inMaint},
		{name: "timer at 01:00:00 exactly: pending, next grid probe", cfg: night, s: inMaint, ev: Event{Kind: Timer}, now: end,
			want: State{Status: Pending, Since: end, LastProbe: d(22, 0, 0, 0), Next: after, Wake: WakeProbe},
			flip: flip(Maintenance, Pending, end, false), changed: true},
		{name: "any event after the window ends it", cfg: night, s: inMaint, ev: Event{Kind: Reconfigure}, now: end.Add(mins),
			want: State{Status: Pending, Since: end.Add(mins), LastProbe: d(22, 0, 0, 0), Next: NextProbe(spec, end.Add(mins)), Wake: WakeProbe},
			flip: flip(Maintenance, Pending, end.Add(mins), false), changed: true},
		{name: "22:59:59.999: outside, the window start is the next wake", cfg: night,
			s: with(upNight, func(s *State) { s.Next, s.Wake = d(22, 0, 0, 0), WakeProbe }), ev: ok(start.Add(-ms)), now: start.Add(-ms),
			want: with(upNight, func(s *State) { s.LastProbe = start.Add(-ms) }), record: true, changed: true},
		{name: "down into maintenance keeps the incident", cfg: night, s: downNight, ev: Event{Kind: Timer}, now: start,
			want: State{Status: Maintenance, Since: start, IncidentSince: d(21, 0, 0, 0), LastProbe: d(22, 0, 0, 0), Next: end, Wake: WakeTimer},
			flip: flip(Down, Maintenance, start, false), changed: true},
		{name: "after the window the incident is still open", cfg: night,
			s:  State{Status: Maintenance, Since: start, IncidentSince: d(21, 0, 0, 0), LastProbe: d(22, 0, 0, 0), Next: end, Wake: WakeTimer},
			ev: Event{Kind: Timer}, now: end,
			want: State{Status: Pending, Since: end, IncidentSince: d(21, 0, 0, 0), LastProbe: d(22, 0, 0, 0), Next: after, Wake: WakeProbe},
			flip: flip(Maintenance, Pending, end, false), changed: true},
		{name: "confirmation does not survive maintenance", cfg: night,
			s:  with(upNight, func(s *State) { s.FailingSince = d(22, 0, 0, 0) }),
			ev: Event{Kind: Timer}, now: start, want: inMaint, flip: flip(Up, Maintenance, start, false), changed: true},
	})
}

func TestReconfigure(t *testing.T) {
	now := at(30 * sec)
	fast := cfgWith(func(c *Config) { c.CheckFrequency = 10 * sec })
	cp30 := cfgWith(func(c *Config) { c.ConfirmationPeriod = 20 * sec })
	nowTOD := timeOfDay(now)
	around := cfgWith(func(c *Config) { c.MaintenanceFrom, c.MaintenanceTo = nowTOD-hr, nowTOD+hr })
	later := cfgWith(func(c *Config) { c.MaintenanceFrom, c.MaintenanceTo = nowTOD+15*sec, nowTOD+hr })
	inMaint := State{Status: Maintenance, Since: at(-mins), LastProbe: t0, Next: at(hr), Wake: WakeTimer}
	runSteps(t, []stepCase{
		{name: "unchanged: nothing to persist", s: sUp, ev: Event{Kind: Reconfigure}, now: now, want: sUp},
		{name: "new frequency re-derives the next probe", cfg: fast, s: sUp, ev: Event{Kind: Reconfigure}, now: now,
			want: with(sUp, func(s *State) { s.Next = NextProbe(mustCompile(t, *fast), now) }), changed: true},
		{name: "shorter confirmation already over: probe now", cfg: cp30, s: sConfirm, ev: Event{Kind: Reconfigure}, now: now,
			want: with(sConfirm, func(s *State) { s.Next = now }), changed: true},
		{name: "status kept", cfg: fast, s: sDown, ev: Event{Kind: Reconfigure}, now: now,
			want: with(sDown, func(s *State) { s.Next = NextProbe(mustCompile(t, *fast), now) }), changed: true},
		{name: "new window around now: maintenance", cfg: around, s: sConfirm, ev: Event{Kind: Reconfigure}, now: now,
			want: State{Status: Maintenance, Since: now, LastProbe: t0, Next: now.Add(hr), Wake: WakeTimer},
			flip: flip(Up, Maintenance, now, false), changed: true},
		{name: "new window starting before the next probe", cfg: later, s: sUp, ev: Event{Kind: Reconfigure}, now: now,
			want: with(sUp, func(s *State) { s.Next, s.Wake = now.Add(15*sec), WakeTimer }), changed: true},
		{name: "window removed: maintenance ends", s: inMaint, ev: Event{Kind: Reconfigure}, now: now,
			want: State{Status: Pending, Since: now, LastProbe: t0, Next: at(mins), Wake: WakeProbe},
			flip: flip(Maintenance, Pending, now, false), changed: true},
		{name: "unknown stored status starts over as pending", s: with(sUp, func(s *State) { s.Status = 42 }), ev: Event{Kind: Reconfigure}, now: now,
			want: sUp.withStatus(Pending), flip: flip(42, Pending, now, false), changed: true},
	})
}

func (s State) withStatus(st Status) State { s.Status = st; return s }

func TestNew(t *testing.T) {
	spec := mustCompile(t, base)
	now := at(30 * sec)
	s, eff := New(spec, now)
	want := State{Status: Pending, Since: now, Next: at(mins), Wake: WakeProbe}
	if s != want || !eff.Changed || eff.Flip != nil || eff.Next != at(mins) || eff.Wake != WakeProbe {
		t.Errorf("New = %+v %+v", s, eff)
	}
	night := mustCompile(t, Config{ID: testID, CheckFrequency: mins, MaintenanceFrom: timeOfDay(now) - mins, MaintenanceTo: timeOfDay(now) + mins})
	s, eff = New(night, now)
	if s.Status != Maintenance || eff.Wake != WakeTimer || eff.Next != now.Add(mins) {
		t.Errorf("New inside the window = %+v %+v", s, eff)
	}
}

// A whole life, with the host's job (wake at Next, probe or deliver a Timer)
// done by simulate.
func TestScenario(t *testing.T) {
	spec := mustCompile(t, base)
	// The service is down from t0+10m to t0+20m (exclusive).
	upAt := func(p time.Time) bool { return p.Before(at(10*mins)) || !p.Before(at(20*mins)) }
	var s State
	s, _ = New(spec, at(-30*sec))
	var opened, resolved []time.Time
	var flips []string
	for i := 0; i < 100 && s.Next.Before(at(40*mins)); i++ {
		var ev Event
		now := s.Next
		if s.Wake == WakeProbe {
			ev = probe(upAt(now), now)
			now = now.Add(300 * ms)
		} else {
			ev = Event{Kind: Timer}
		}
		var eff Effects
		s, eff = Apply(spec, s, ev, now)
		if !eff.IncidentOpened.IsZero() {
			opened = append(opened, eff.IncidentOpened)
		}
		if !eff.IncidentResolved.IsZero() {
			resolved = append(resolved, eff.IncidentResolved)
		}
		if eff.Flip != nil {
			flips = append(flips, eff.Flip.To.String())
		}
	}
	if len(opened) != 1 || !opened[0].Equal(at(10*mins)) {
		t.Errorf("opened %v, want [t0+10m]", opened)
	}
	if len(resolved) != 1 || !resolved[0].Equal(at(23*mins)) {
		t.Errorf("resolved %v, want [t0+23m]", resolved)
	}
	if got := strings.Join(flips, " "); got != "up down validating up" {
		t.Errorf("flips %q", got)
	}
}

func TestStatusStrings(t *testing.T) {
	var got []string
	for s := Pending; s <= Maintenance; s++ {
		p, err := ParseStatus(s.String())
		if err != nil || p != s {
			t.Errorf("%v: ParseStatus = %v, %v", s, p, err)
		}
		got = append(got, s.String())
	}
	if want := "pending up validating down paused maintenance"; strings.Join(got, " ") != want {
		t.Errorf("names %q", got)
	}
	for _, bad := range []string{"UP", "", "grace"} {
		if _, err := ParseStatus(bad); err == nil {
			t.Errorf("ParseStatus(%q) accepted", bad)
		}
	}
	for _, c := range []struct{ got, want string }{
		{Status(42).String(), "status(42)"},
		{EventKind(9).String(), "event(9)"},
		{Wake(7).String(), "wake(7)"},
		{Probed.String(), "probed"},
		{Reconfigure.String(), "reconfigure"},
		{WakeProbe.String(), "probe"},
		{WakeTimer.String(), "timer"},
	} {
		if c.got != c.want {
			t.Errorf("got %q want %q", c.got, c.want)
		}
	}
}

func TestAlertable(t *testing.T) {
	for _, c := range []struct {
		f    Flip
		want bool
	}{
		{Flip{From: Up, To: Down, Incident: true}, true},
		{Flip{From: Validating, To: Up, Incident: true}, true},
		{Flip{From: Pending, To: Up}, false},
		{Flip{From: Validating, To: Down}, false},
		{Flip{From: Up, To: Maintenance}, false},
	} {
		if c.f.Alertable() != c.want {
			t.Errorf("%+v: Alertable %v", c.f, !c.want)
		}
	}
}

func BenchmarkApply(b *testing.B) {
	spec := mustCompile(b, Config{ID: testID, CheckFrequency: 30 * sec, ConfirmationPeriod: mins, RecoveryPeriod: mins,
		MaintenanceFrom: 23 * hr, MaintenanceTo: hr})
	s := State{Status: Up, Since: t0}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		// A day in 30s steps crosses the window twice; its flips (the only
		// allocations) amortise to 0 allocs/op.
		now = now.Add(30 * sec)
		s, _ = Apply(spec, s, Event{Kind: Probed, Result: ProbeResult{Up: true, At: now.Add(-100 * ms)}}, now)
	}
}
