package monitor

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var fuzzCfgs = []Config{
	base,
	{ID: [16]byte{1}, CheckFrequency: 30 * sec},                                                     // both periods 0
	{ID: [16]byte{2}, CheckFrequency: mins, ConfirmationPeriod: 90 * sec, RecoveryPeriod: 45 * sec}, // off-grid extra probes
	{ID: [16]byte{3}, CheckFrequency: 3 * mins, ConfirmationPeriod: 10 * mins, MaintenanceFrom: 23 * hr, // window across midnight
		MaintenanceTo: hr},
	{ID: [16]byte{4}, CheckFrequency: 10 * sec, RecoveryPeriod: mins, MaintenanceFrom: 12*hr + 5*mins, MaintenanceTo: 12*hr + 20*mins},
	{ID: [16]byte{5}, CheckFrequency: 7*sec + 3*ms, ConfirmationPeriod: 7 * sec, RecoveryPeriod: 7 * sec}, // periods = frequency, off-second grid
}

// checker follows one monitor through a sequence of steps and checks Apply's
// contract after each.
type checker struct {
	t        testing.TB
	failures map[time.Time]bool // applied failed probes, by start
	lastOK   time.Time          // start of the latest applied success
	lastIdle time.Time          // last step that left the monitor paused or in maintenance
}

func (c *checker) step(spec Spec, prev State, ev Event, now time.Time) State {
	t := c.t
	t.Helper()
	s, eff := Apply(spec, prev, ev, now)
	now = now.UTC()
	cfg := spec.Config()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%v at %v (cfg %+v)\nev   %+v\nprev %+v\nnew  %+v\neff  %+v: %s", ev.Kind, now, cfg, ev, prev, s, eff, fmt.Sprintf(format, args...))
	}
	if s2, eff2 := Apply(spec, prev, ev, now); s2 != s || eff2.Changed != eff.Changed || eff2.Next != eff.Next {
		fail("not deterministic")
	}
	if eff.Changed != (s != prev) {
		fail("Changed %v", eff.Changed)
	}
	if eff.Next != s.Next || eff.Wake != s.Wake {
		fail("effects wake differs from state")
	}
	if s.Next.IsZero() != (s.Wake == WakeNone) {
		fail("Next/Wake mismatch")
	}
	if !s.Next.IsZero() && s.Next.Before(now) {
		fail("Next before now")
	}
	if (s.Status == Paused) != s.Next.IsZero() {
		fail("paused ⇔ no wake violated")
	}
	if s.Status > Maintenance {
		fail("unknown status")
	}
	if s.Status != Paused && (s.Status == Maintenance) != spec.InWindow(now) {
		fail("maintenance ⇔ inside the window violated")
	}
	switch s.Wake {
	case WakeTimer:
		if tod := timeOfDay(s.Next); tod != cfg.MaintenanceFrom && tod != cfg.MaintenanceTo {
			fail("timer at %v is not a window boundary", tod)
		}
	case WakeProbe:
		onGrid := NextProbe(spec, s.Next.Add(-nsec)).Equal(s.Next)
		conf := !s.FailingSince.IsZero() && s.Next.Equal(s.FailingSince.Add(cfg.ConfirmationPeriod))
		rec := !s.RecoveringSince.IsZero() && s.Next.Equal(s.RecoveringSince.Add(cfg.RecoveryPeriod))
		if !onGrid && !conf && !rec && !s.Next.Equal(now) {
			fail("probe at %v is neither on the grid nor a period's end", s.Next)
		}
		if b := spec.nextBoundary(now); !b.IsZero() && !b.After(s.Next) {
			fail("probe scheduled at or after the window start %v", b)
		}
	}
	if s.Status == Maintenance && (s.Wake != WakeTimer || !s.Next.Equal(spec.nextBoundary(now))) {
		fail("maintenance must wake at the window's end")
	}
	switch s.Status {
	case Down, Validating:
		if s.IncidentSince.IsZero() {
			fail("%v without an incident", s.Status)
		}
	case Up:
		if !s.IncidentSince.IsZero() {
			fail("up with an open incident")
		}
	}
	if !s.FailingSince.IsZero() && s.Status != Pending && s.Status != Up {
		fail("confirming while %v", s.Status)
	}
	if !s.RecoveringSince.IsZero() != (s.Status == Validating) {
		fail("RecoveringSince ⇔ validating violated")
	}

	if fl := eff.Flip; (fl != nil) != (s.Status != prev.Status) {
		fail("flip iff status change violated")
	} else if fl != nil {
		if fl.From != prev.Status || fl.To != s.Status || fl.At.After(now) {
			fail("bad flip %+v", *fl)
		}
		if fl.Alertable() != (!eff.IncidentOpened.IsZero() || !eff.IncidentResolved.IsZero()) {
			fail("alertable ⇔ incident edge violated")
		}
	} else if !eff.IncidentOpened.IsZero() || !eff.IncidentResolved.IsZero() {
		fail("incident edge without a flip")
	}

	if eff.Record {
		at := ev.Result.At.UTC()
		if at.IsZero() || at.After(now) {
			at = now
		}
		if ev.Kind != Probed || !s.LastProbe.Equal(at) || !s.LastProbe.After(prev.LastProbe) {
			fail("recorded result accounting")
		}
		if ev.Result.Up {
			c.lastOK = at
		} else {
			c.failures[at] = true
		}
	} else if !s.LastProbe.Equal(prev.LastProbe) {
		fail("LastProbe moved without a recorded result")
	}

	if o := eff.IncidentOpened; !o.IsZero() {
		switch {
		case !prev.IncidentSince.IsZero():
			fail("opened an incident while one is open")
		case !s.IncidentSince.Equal(o) || s.Status != Down:
			fail("opened incident not recorded")
		case eff.Flip.At.Sub(o) < cfg.ConfirmationPeriod:
			fail("down after %v of failure, confirmation is %v", eff.Flip.At.Sub(o), cfg.ConfirmationPeriod)
		case !c.failures[o]:
			fail("incident start %v is not an applied failure", o)
		case !c.lastOK.Before(o):
			fail("a success at %v interrupts the failures since %v", c.lastOK, o)
		case o.Before(c.lastIdle):
			fail("failures since %v span a pause or window ending at %v", o, c.lastIdle)
		}
	}
	if r := eff.IncidentResolved; !r.IsZero() {
		switch {
		case prev.IncidentSince.IsZero():
			fail("resolved an incident none was open")
		case !eff.IncidentOpened.IsZero():
			fail("opened and resolved at once")
		case !s.IncidentSince.IsZero() || s.Status != Up:
			fail("resolved incident still open")
		case r.Before(prev.IncidentSince):
			fail("incident ends before it starts")
		case prev.Status == Validating && r.Sub(prev.RecoveringSince) < cfg.RecoveryPeriod:
			fail("resolved after %v of recovery, period is %v", r.Sub(prev.RecoveringSince), cfg.RecoveryPeriod)
		case prev.Status != Validating && cfg.RecoveryPeriod > 0:
			fail("resolved without validating")
		}
	}

	// Next is a function of state, spec and now: re-deriving it changes nothing.
	if s2, eff2 := Apply(spec, s, Event{Kind: Reconfigure}, now); eff2.Changed {
		fail("a no-op reconfigure changed the state to %+v", s2)
	}
	if s.Status == Paused || s.Status == Maintenance {
		c.lastIdle = now
	}
	return s
}

// runSequence interprets data as steps from a fresh monitor: mostly what the
// host does (wake at Next, probe or deliver a Timer), and stray events: results
// out of order, early timers, pause, resume, reconfigure.
func runSequence(t testing.TB, specs []Spec, data []byte) {
	if len(data) == 0 {
		return
	}
	spec := specs[int(data[0])%len(specs)]
	// Start an hour before a midnight window opens, so windows get crossed.
	now := time.Date(2026, 5, 1, 22, 0, 0, 0, time.UTC).Add(time.Duration(data[0]) * 7 * mins)
	c := &checker{t: t, failures: map[time.Time]bool{}}
	s, _ := New(spec, now)
	gaps := []time.Duration{0, nsec, ms, sec, 10 * sec, 59 * sec, 3 * mins, 17 * mins, hr, 5 * hr}
	for i := 1; i+1 < len(data); i += 2 {
		op, arg := data[i], data[i+1]
		var ev Event
		switch op % 10 {
		case 0, 1, 2, 3, 4: // the host at work
			if s.Next.IsZero() {
				now = now.Add(gaps[int(arg)%len(gaps)])
				ev = Event{Kind: Resume}
				break
			}
			if s.Next.After(now) {
				now = s.Next
			}
			if s.Wake == WakeTimer {
				ev = Event{Kind: Timer}
				break
			}
			// Mostly up or down in runs; the result arrives 0–2.55s later.
			up := op&0x30 != 0x30
			ev = probe(up, now)
			now = now.Add(time.Duration(arg) * 10 * ms)
		case 5: // a stray result: out of order, duplicate, or from the future
			now = now.Add(gaps[int(arg)%len(gaps)])
			ev = probe(op&0x10 == 0, now.Add(-time.Duration(arg)*sec))
			if arg%7 == 0 {
				ev.Result.At = time.Time{}
			}
			if arg%11 == 0 {
				ev.Result.At = now.Add(hr)
			}
		case 6: // a timer, maybe early
			now = now.Add(gaps[int(arg)%len(gaps)])
			ev = Event{Kind: Timer}
		case 7:
			now = now.Add(gaps[int(arg)%len(gaps)])
			ev = Event{Kind: Pause}
		case 8:
			now = now.Add(gaps[int(arg)%len(gaps)])
			ev = Event{Kind: Resume}
		case 9:
			now = now.Add(gaps[int(arg)%len(gaps)])
			spec = specs[int(arg)%len(specs)]
			ev = Event{Kind: Reconfigure}
		}
		s = c.step(spec, s, ev, now)
	}
}

func compileAll(t testing.TB) []Spec {
	specs := make([]Spec, len(fuzzCfgs))
	for i, c := range fuzzCfgs {
		specs[i] = mustCompile(t, c)
	}
	return specs
}

// FuzzApply checks Apply's contract (see checker.step) over event sequences
// with monotonically increasing now.
func FuzzApply(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0x30, 5, 0x30, 5, 0, 5, 7, 1, 8, 1, 0, 5, 9, 3, 0x30, 0, 0x30, 0})
	f.Add([]byte{3, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0, 0x30, 0, 6, 9, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{5, 0x35, 0, 0x30, 200, 0x30, 250, 0, 3, 0, 3, 0, 3, 0, 3, 9, 2, 0x30, 0, 0x30, 0, 0x30, 0})
	specs := compileAll(f)
	f.Fuzz(func(t *testing.T, data []byte) { runSequence(t, specs, data) })
}

// TestRandomSequences runs many sequences through the fuzz body, so that the
// invariants get exercised by plain go test as well.
func TestRandomSequences(t *testing.T) {
	specs := compileAll(t)
	rng := rand.New(rand.NewPCG(5, 6))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for i := 0; i < n; i++ {
		data := make([]byte, 1+2*rng.IntN(200))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		// Bias toward the host's own steps and long failure runs.
		for j := 1; j+1 < len(data); j += 2 {
			if rng.IntN(3) > 0 {
				data[j] = data[j] % 5
				if i%2 == 0 {
					data[j] |= 0x30
				}
			}
		}
		runSequence(t, specs, data)
	}
}

// Garbage in (any state, any spec, any time) must not panic, and the wake must
// still not be in the past except for an early Timer, which keeps it.
func FuzzApplyGarbage(f *testing.F) {
	f.Add(uint8(0), uint8(0), int64(0), int64(0), int64(0), int64(0), int64(0), true, uint8(0))
	f.Add(uint8(9), uint8(3), int64(-1), int64(1<<62), int64(-1<<62), int64(1), int64(1<<40), false, uint8(2))
	specs := append(compileAll(f), Spec{},
		mustCompile(f, Config{CheckFrequency: time.Duration(1<<63 - 1), ConfirmationPeriod: time.Duration(1<<63 - 1),
			RecoveryPeriod: time.Duration(1<<63 - 1), MaintenanceFrom: 24*hr - 1, MaintenanceTo: 0}),
		mustCompile(f, Config{CheckFrequency: nsec}))
	f.Fuzz(func(t *testing.T, status, kind uint8, t1, t2, t3, now, at int64, up bool, si uint8) {
		tm := func(v int64) time.Time {
			if v%5 == 0 {
				return time.Time{}
			}
			return time.Unix(v/7, v)
		}
		s := State{Status: Status(status % 8), Since: tm(t1), FailingSince: tm(t2), RecoveringSince: tm(t3),
			IncidentSince: tm(t1 ^ t2), LastProbe: tm(t2 ^ t3), Next: tm(now ^ t1), Wake: Wake(status >> 4)}
		spec := specs[int(si)%len(specs)]
		ev := Event{Kind: EventKind(kind % 6), Result: ProbeResult{Up: up, At: tm(at)}}
		n := time.Unix(0, now)
		ns, eff := Apply(spec, s, ev, n)
		if eff.Next != ns.Next {
			t.Fatalf("Next mismatch")
		}
		if !ns.Next.IsZero() && ns.Next.Before(n.UTC()) && ns.Next != s.Next {
			t.Fatalf("new wake %v before now %v", ns.Next, n)
		}
		New(spec, n)
	})
}

// timeOfDay is t's wall-clock time of day in UTC, as the fuzzed windows are.
func timeOfDay(t time.Time) time.Duration {
	t = t.UTC()
	return t.Sub(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC))
}
