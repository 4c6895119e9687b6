package engine

import (
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/vigilo/vigilo/actors"
	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
)

// A closed engine keeps nothing alive: its actors, goroutines and checks are
// all released, so a process that closes one and opens another (the bench's
// cold run, an embedder's restart) does not carry, and collect, two heaps.
func TestClosedEngineIsCollected(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	type held struct {
		engine weak.Pointer[Engine]
		reg    weak.Pointer[actors.Registry]
		check  weak.Pointer[actors.Check]
	}
	open := func() held {
		e, err := Open(Options{
			DataDir: dir, MinPeriod: time.Second, APIKey: "k", ManualClock: true,
			Now: clock.Now, Tick: testTick, ActorIdle: time.Minute,
			// Its own listener: a second server, with its own worker pool.
			MetricsListen: "127.0.0.1:0",
		})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Serve(ln); err != nil {
			t.Fatal(err)
		}
		for i := range 64 {
			c, _, err := e.CreateCheck(DefaultProjectID, store.Match{}, func(*store.Check) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			// A ping spawns the check's actor, which must be stopped too;
			// every other one comes over HTTP, through the server's workers.
			if i%2 == 0 {
				resp, err := http.Get("http://" + ln.Addr().String() + "/ping/" + c.ID.String())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("ping: %s", resp.Status)
				}
			} else if err := e.Ping(c.ID, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{ExitStatus: -1}); err != nil {
				t.Fatal(err)
			}
		}
		var c *actors.Check
		e.reg.Each(func(x *actors.Check) { c = x })
		h := held{weak.Make(e), weak.Make(e.reg), weak.Make(c)}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		return h
	}
	h := open()
	for i := range 5 {
		runtime.GC()
		if h.engine.Value() == nil && h.reg.Value() == nil && h.check.Value() == nil {
			t.Logf("collected after %d GCs", i+1)
			return
		}
	}
	t.Fatalf("still reachable after close: engine %v, registry %v, a check %v",
		h.engine.Value() != nil, h.reg.Value() != nil, h.check.Value() != nil)
}
