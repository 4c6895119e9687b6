package engine

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) set(t time.Time) {
	f.mu.Lock()
	f.now = t
	f.mu.Unlock()
}

const testTick = 100 * time.Millisecond

func openTest(t testing.TB, dir string, clock *fakeClock, idle time.Duration) *Engine {
	t.Helper()
	return openTestWith(t, dir, clock, idle, func(*Options) {})
}

// openTestWith is openTest with edit applied to the options.
func openTestWith(t testing.TB, dir string, clock *fakeClock, idle time.Duration, edit func(*Options)) *Engine {
	t.Helper()
	o := Options{
		DataDir: dir, MinPeriod: time.Second, APIKey: "k", ReadOnlyKey: "r",
		Now: clock.Now, ManualClock: true, Tick: testTick, ActorIdle: idle,
	}
	edit(&o)
	e, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// status reads the check through its actor, after every message sent before it.
func status(t *testing.T, e *Engine, id uuid.UUID) store.Check {
	t.Helper()
	c := e.reg.Get(id)
	if c == nil {
		t.Fatalf("check %s not resident", id)
	}
	res := e.reg.Snapshot(c)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	return res.Check
}

// advance moves the fake clock and the wheel to at.
func advance(e *Engine, clock *fakeClock, at time.Time) {
	clock.set(at)
	e.Advance(at)
}

// Each transition happens within one tick of its due time and never before it.
func TestDeadlinesNeverEarlyWithinOneTick(t *testing.T) {
	t0 := time.Date(2026, 3, 29, 0, 59, 59, 123456789, time.UTC)
	clock := &fakeClock{now: t0}
	e := openTest(t, t.TempDir(), clock, time.Minute)
	defer e.Close()

	const timeout, grace = 5 * time.Second, 3 * time.Second
	rec, created, err := e.CreateCheck(DefaultProjectID, store.Match{}, func(c *store.Check) error {
		c.Timeout, c.Grace = timeout, grace
		return nil
	})
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if err := e.Ping(rec.ID, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{ExitStatus: -1}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at   time.Time
		want string
	}{
		{t0.Add(timeout - time.Nanosecond), "up"},
		{t0.Add(timeout + testTick), "grace"},
		{t0.Add(timeout + grace - time.Nanosecond), "grace"},
		{t0.Add(timeout + grace + testTick), "down"},
	}
	for _, s := range steps {
		advance(e, clock, s.at)
		if got := status(t, e, rec.ID).Status; got != s.want {
			t.Fatalf("at %v: status %s, want %s", s.at.Sub(t0), got, s.want)
		}
	}
	flips, err := e.Flips(DefaultProjectID, rec.ID, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	due := t0.Add(timeout + grace)
	if len(flips) != 2 || flips[0].To != "down" || flips[0].Time.Before(due) || flips[0].Time.After(due.Add(testTick)) {
		t.Fatalf("flips %+v: down must be in [%v, %v]", flips, due, due.Add(testTick))
	}
}

// After a restart, a check whose deadline passed while the server was down goes
// down at the first tick, and one not yet due stays up until its time.
func TestRestartRearms(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	e := openTest(t, dir, clock, time.Minute)
	mk := func(timeout time.Duration) uuid.UUID {
		rec, _, err := e.CreateCheck(DefaultProjectID, store.Match{}, func(c *store.Check) error {
			c.Timeout, c.Grace = timeout, time.Second
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Ping(rec.ID, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{ExitStatus: -1}); err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	short, long := mk(2*time.Second), mk(time.Hour)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	clock.set(t0.Add(10 * time.Second))
	e = openTest(t, dir, clock, time.Minute)
	defer e.Close()
	if e.CheckCount() != 2 {
		t.Fatalf("loaded %d checks", e.CheckCount())
	}
	if got := status(t, e, short).Status; got != "grace" && got != "up" {
		t.Fatalf("before the first tick: %s", got)
	}
	advance(e, clock, t0.Add(10*time.Second+testTick))
	// The overdue check passes through grace to down on successive firings.
	advance(e, clock, t0.Add(10*time.Second+2*testTick))
	if got := status(t, e, short).Status; got != "down" {
		t.Fatalf("overdue check after restart: %s", got)
	}
	if got := status(t, e, long).Status; got != "up" {
		t.Fatalf("check not yet due after restart: %s", got)
	}
}

// An idle actor passivates on the tick after ActorIdle (no sooner), and a later
// event wakes the check again, on the vacant actor, with the same state.
func TestPassivation(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	const idle = time.Minute
	e := openTest(t, t.TempDir(), clock, idle)
	defer e.Close()
	rec, _, err := e.CreateCheck(DefaultProjectID, store.Match{}, func(c *store.Check) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if e.reg.Resident() != 0 {
		t.Fatalf("creating a check spawned an actor")
	}
	now := t0
	for i := 1; i <= 2; i++ {
		if err := e.Ping(rec.ID, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{ExitStatus: -1}); err != nil {
			t.Fatal(err)
		}
		if e.reg.Resident() != 1 {
			t.Fatalf("ping %d: %d actors running, want 1", i, e.reg.Resident())
		}
		now = now.Add(idle - time.Second)
		clock.set(now)
		e.Advance(now)
		if e.reg.Resident() != 1 {
			t.Fatalf("ping %d: passivated before ActorIdle", i)
		}
		now = now.Add(2 * time.Second)
		clock.set(now)
		e.Advance(now)
		if e.reg.Resident() != 0 {
			t.Fatalf("ping %d: %d actors running after ActorIdle, want 0", i, e.reg.Resident())
		}
	}
	if e.reg.Wakes() != 2 || e.reg.Spawns() != 1 {
		t.Fatalf("wakes %d, spawns %d; want 2 wakes (one per ping after passivation) on 1 actor", e.reg.Wakes(), e.reg.Spawns())
	}
	if got := status(t, e, rec.ID); got.NPings != 2 || got.Status != "up" {
		t.Fatalf("state across passivation: %+v", got)
	}
}

// Options.OnTransition is told of each status change a deadline caused, with the
// deadline and the clock reading, and of nothing else.
func TestOnTransition(t *testing.T) {
	t0 := time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	type call struct {
		id           uuid.UUID
		from, to     string
		deadline, at time.Time
	}
	var mu sync.Mutex
	var calls []call
	e, err := Open(Options{
		DataDir: t.TempDir(), MinPeriod: time.Second, APIKey: "k", ReadOnlyKey: "r",
		Now: clock.Now, ManualClock: true, Tick: testTick,
		OnTransition: func(id uuid.UUID, from, to string, deadline, at time.Time) {
			mu.Lock()
			calls = append(calls, call{id, from, to, deadline, at})
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rec, _, err := e.CreateCheck(DefaultProjectID, store.Match{}, func(c *store.Check) error {
		c.Timeout, c.Grace = 5*time.Second, 3*time.Second
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Ping(rec.ID, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{ExitStatus: -1}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{t0.Add(5050 * time.Millisecond), t0.Add(8050 * time.Millisecond), t0.Add(20 * time.Second)} {
		advance(e, clock, at)
		status(t, e, rec.ID)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []call{
		{rec.ID, "up", "grace", t0.Add(5 * time.Second), t0.Add(5050 * time.Millisecond)},
		{rec.ID, "grace", "down", t0.Add(8 * time.Second), t0.Add(8050 * time.Millisecond)},
	}
	if len(calls) != len(want) {
		t.Fatalf("calls %+v, want %+v", calls, want)
	}
	for i, c := range calls {
		w := want[i]
		if c.id != w.id || c.from != w.from || c.to != w.to || !c.deadline.Equal(w.deadline) || !c.at.Equal(w.at) {
			t.Errorf("call %d: %+v, want %+v", i, c, w)
		}
	}
}

// A heartbeat's outage is an incident in the record monitors use: opened by the
// flip to down at the time the check went down, resolved by the flip back up.
func TestHeartbeatIncidents(t *testing.T) {
	t0 := time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC)
	clock := &fakeClock{now: t0}
	e, err := Open(Options{DataDir: t.TempDir(), MinPeriod: time.Second, APIKey: "k", ReadOnlyKey: "r",
		Now: clock.Now, ManualClock: true, Tick: testTick})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rec, _, err := e.CreateCheck(DefaultProjectID, store.Match{}, func(c *store.Check) error {
		c.Timeout, c.Grace = 5*time.Second, 3*time.Second
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ping := func() {
		if err := e.Ping(rec.ID, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{ExitStatus: -1}); err != nil {
			t.Fatal(err)
		}
	}
	ping()
	for _, at := range []time.Time{t0.Add(5050 * time.Millisecond), t0.Add(8050 * time.Millisecond)} {
		advance(e, clock, at)
		status(t, e, rec.ID)
	}
	ping() // at 8.05 s: back up at once, while the down flip may still be committing
	status(t, e, rec.ID)
	ins, err := e.Store().Incidents(rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || !ins[0].Start.Equal(t0.Add(8*time.Second)) || !ins[0].End.Equal(t0.Add(8050*time.Millisecond)) {
		t.Fatalf("incidents %+v, want one from 8 s (down) to 8.05 s (the ping)", ins)
	}
	// Retention keeps it until it started IncidentRetention ago, then drops it.
	clock.set(t0.Add(store.IncidentRetention))
	if n, err := e.PruneIncidents(); err != nil || n != 0 {
		t.Fatalf("pruned %d within retention (%v)", n, err)
	}
	clock.set(t0.Add(store.IncidentRetention + 9*time.Second))
	if n, err := e.PruneIncidents(); err != nil || n != 1 {
		t.Fatalf("pruned %d past retention (%v), want 1", n, err)
	}
	if ins, _ := e.Store().Incidents(rec.ID); len(ins) != 0 {
		t.Fatalf("incidents past retention: %+v", ins)
	}
}

// TestTrimmedBodyGoesAcrossRestart: the record a ping writes already knows
// whether that ping had a body, so a body written just before a restart is
// still trimmed after it, not left behind under its number.
func TestTrimmedBodyGoesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)}
	limit := func(o *Options) { o.PingLogLimit = 2 }
	e := openTestWith(t, dir, clock, time.Minute, limit)
	rec, _, err := e.CreateCheck(DefaultProjectID, store.Match{}, func(*store.Check) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	ping := func(e *Engine, body string) {
		t.Helper()
		p := store.Ping{ExitStatus: -1}
		if body != "" {
			p.Body = []byte(body)
		}
		if err := e.Ping(rec.ID, heartbeat.Event{Kind: heartbeat.Success}, p); err != nil {
			t.Fatal(err)
		}
	}
	ping(e, "")
	ping(e, "output of run 2")
	if b, err := e.PingBody(DefaultProjectID, rec.ID, 2); err != nil || string(b) != "output of run 2" {
		t.Fatalf("body 2 before the restart: %q, %v", b, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openTestWith(t, dir, clock, time.Minute, limit)
	defer e.Close()
	ping(e, "")
	ping(e, "") // ping 4 trims ping 2
	if b, err := e.PingBody(DefaultProjectID, rec.ID, 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("body 2 after it was trimmed: %q, %v", b, err)
	}
	if b, err := e.PingBody(DefaultProjectID, rec.ID, 4); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ping 4 had no body: %q, %v", b, err)
	}
}
