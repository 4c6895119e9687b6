package actors

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/wheel"
)

// TestIdleTimerWaitsForFirstMessage: an actor whose first message is slow to
// come (here held back past IdleTimeout between spawn and send) still handles
// it, and passivates only after it. With the idle timer armed at Started the
// actor stopped in that window and the ping was never answered.
func TestIdleTimerWaitsForFirstMessage(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Unix(1_700_000_000, 0)
	w, err := wheel.New(wheel.Options{Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	r, err := New(Options{Store: st, Wheel: w, System: sys, Now: func() time.Time { return t0 }, IdleTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// A real timer has to be given the time to fire: the window is held open
	// twenty idle timeouts.
	afterSpawn = func() { time.Sleep(20 * time.Millisecond) }
	t.Cleanup(func() { afterSpawn = nil })

	rec, err := r.Create(&store.Check{ID: uuid.New(), ProjectID: uuid.New(), Kind: "simple",
		Timeout: time.Minute, Grace: time.Minute, Created: t0, Status: "new"})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Get(rec.ID)
	for i := range 3 {
		done := make(chan Result, 1)
		go func() { done <- r.Ping(c, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{}) }()
		select {
		case res := <-done:
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if res.Check.NPings != uint64(i+1) {
				t.Fatalf("ping %d: check has %d pings", i+1, res.Check.NPings)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ping %d never answered: its actor stopped before its first message", i+1)
		}
		// Passivated before the next ping, so each one spawns anew.
		for r.Resident() != 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if got := r.Spawns(); got != 3 {
		t.Fatalf("%d spawns, want 3 (one per ping, each after a passivation)", got)
	}
}
