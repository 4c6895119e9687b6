package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/wheel"
)

type idleRig struct {
	r     *Registry
	mu    sync.Mutex
	now   time.Time
	idle  time.Duration
	store *store.Store
}

func newIdleRig(t *testing.T, idle time.Duration) *idleRig {
	t.Helper()
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := &idleRig{now: time.Unix(1_700_000_000, 0).UTC(), idle: idle, store: st}
	w, err := wheel.New(wheel.Options{Start: g.now})
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	g.r, err = New(Options{Store: st, Wheel: w, System: sys, Now: g.clock, IdleTimeout: idle})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.r.Drain(10 * time.Second) })
	return g
}

func (g *idleRig) clock() time.Time { g.mu.Lock(); defer g.mu.Unlock(); return g.now }

// sweep moves the clock by d and runs the idle sweep at the new time.
func (g *idleRig) sweep(d time.Duration) {
	g.mu.Lock()
	g.now = g.now.Add(d)
	now := g.now
	g.mu.Unlock()
	g.r.Passivate(now)
}

func (g *idleRig) create(t *testing.T) *Check {
	t.Helper()
	rec, err := g.r.Create(&store.Check{ID: uuid.New(), ProjectID: uuid.New(), Kind: "simple",
		Timeout: time.Hour, Grace: time.Hour, Created: g.clock(), Status: "new"})
	if err != nil {
		t.Fatal(err)
	}
	return g.r.Get(rec.ID)
}

func (g *idleRig) ping(t *testing.T, c *Check, wantPings uint64) {
	t.Helper()
	done := make(chan Result, 1)
	go func() {
		if err := g.r.Ping(c, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{}); err != nil {
			done <- Result{Err: err}
			return
		}
		// From the store, not the actor: a Snapshot would be a use of it.
		rec, err := g.store.GetCheck(c.ID())
		if err != nil {
			done <- Result{Err: err}
			return
		}
		done <- Result{Check: *rec}
	}()
	select {
	case res := <-done:
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if res.Check.ID != c.ID() || res.Check.NPings != wantPings {
			t.Fatalf("ping answered for check %s with %d pings, want %s with %d", res.Check.ID, res.Check.NPings, c.ID(), wantPings)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("ping of %s never answered", c.ID())
	}
}

// A sweep between a check's wake and the send of its first message (here
// forced into that window, long past IdleTimeout) does not passivate it: the
// message is counted in flight before the check is queued for the sweep. The
// actor passivates at the first sweep IdleTimeout after its last message and
// not before, and the next wake reuses it.
func TestSweepWaitsForFirstMessage(t *testing.T) {
	g := newIdleRig(t, time.Minute)
	c := g.create(t)
	afterSpawn = func() { g.sweep(time.Hour) }
	g.ping(t, c, 1)
	afterSpawn = nil
	if g.r.Resident() != 1 {
		t.Fatalf("%d actors running after a ping whose wake was swept, want 1", g.r.Resident())
	}
	// The sweep in the window found the check busy and queued it again from
	// then: it is idle a minute later, not before.
	g.sweep(time.Minute - time.Second)
	if g.r.Resident() != 1 {
		t.Fatal("passivated before IdleTimeout")
	}
	g.sweep(time.Second)
	if g.r.Resident() != 0 {
		t.Fatalf("%d actors running after IdleTimeout, want 0", g.r.Resident())
	}
	g.ping(t, c, 2)
	if g.r.Wakes() != 2 || g.r.Spawns() != 1 {
		t.Fatalf("wakes %d, spawns %d: want 2 wakes on 1 actor", g.r.Wakes(), g.r.Spawns())
	}
}

// A check used after its wake is kept by the sweep that finds it used, and
// passivates IdleTimeout after that sweep.
func TestSweepKeepsUsedCheck(t *testing.T) {
	g := newIdleRig(t, time.Minute)
	c := g.create(t)
	g.ping(t, c, 1)
	g.sweep(30 * time.Second)
	g.ping(t, c, 2)
	g.sweep(31 * time.Second) // a minute after the wake, 31 s after the last ping
	if g.r.Resident() != 1 {
		t.Fatal("a check pinged 31 s ago passivated with a 1 min IdleTimeout")
	}
	g.sweep(time.Minute)
	if g.r.Resident() != 0 {
		t.Fatalf("%d actors running a minute after the last look, want 0", g.r.Resident())
	}
}

// A vacant actor hosts whichever check wakes next, with that check's state;
// the check it hosted before keeps its own. Beyond vacantActors the
// passivated actors are stopped, not kept.
func TestVacantActorsHostOtherChecks(t *testing.T) {
	g := newIdleRig(t, time.Minute)
	a, b := g.create(t), g.create(t)
	g.ping(t, a, 1)
	g.sweep(time.Minute)
	g.ping(t, b, 1) // on a's former actor
	g.sweep(time.Minute)
	g.ping(t, a, 2)
	if g.r.Spawns() != 1 || g.r.Wakes() != 3 {
		t.Fatalf("spawns %d, wakes %d: want 3 wakes on 1 actor", g.r.Spawns(), g.r.Wakes())
	}
	for _, want := range []struct {
		c *Check
		n uint64
	}{{a, 2}, {b, 1}} {
		got, err := g.store.GetCheck(want.c.ID())
		if err != nil {
			t.Fatal(err)
		}
		if got.NPings != want.n {
			t.Fatalf("check %s stored with %d pings, want %d", want.c.ID(), got.NPings, want.n)
		}
	}

	// Wake more checks at once than vacantActors, then let them all go idle.
	n := vacantActors + 100
	checks := make([]*Check, n)
	for i := range checks {
		checks[i] = g.create(t)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 64 {
		wg.Go(func() {
			for i := w; i < n; i += 64 {
				if err := g.r.Ping(checks[i], heartbeat.Event{Kind: heartbeat.Success}, store.Ping{}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if g.r.Resident() != n+1 { // and a, still awake
		t.Fatalf("%d actors running, want %d", g.r.Resident(), n+1)
	}
	g.sweep(time.Minute)
	if g.r.Resident() != 0 {
		t.Fatalf("%d actors running after the sweep, want 0", g.r.Resident())
	}
	if v := len(g.r.idle.vacant); v != vacantActors {
		t.Fatalf("%d vacant actors kept, want the bound %d", v, vacantActors)
	}
}
