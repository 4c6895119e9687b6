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

// A burst of deadlines on checks without actors is stepped in groups: none
// early, every one once, no actor spawned, one commit per GroupSize checks;
// and while a group's commit is not queued its checks spawn no actor, so a
// ping cannot overtake the transition on disk.
func TestDeadlineGroups(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0).UTC()
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(at time.Time) { mu.Lock(); now = at; mu.Unlock() }
	w, err := wheel.New(wheel.Options{Start: t0, Tick: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	r, err := New(Options{Store: st, Wheel: w, System: sys, Now: clock, IdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const n = 3*GroupSize + 7
	deadline := t0.Add(15 * time.Second)
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
		rec := &store.Check{ID: ids[i], ProjectID: uuid.New(), Kind: "simple", Timeout: 10 * time.Second, Grace: 5 * time.Second,
			Created: t0, Status: "up", LastPing: t0, NPings: 1, Deadline: deadline}
		if err := r.Load(rec); err != nil {
			t.Fatal(err)
		}
	}
	advance := func(at time.Time) {
		set(at)
		w.Advance(at, r.Fire)
		r.FireGroups()
	}

	advance(deadline.Add(-time.Millisecond))
	if down := r.CountByStatus("simple", heartbeat.Down); down != 0 || r.Groups() != 0 {
		t.Fatalf("before the deadline: %d down, %d groups", down, r.Groups())
	}

	var held []chan struct{}
	inGroup = func(c *Check) {
		c.mu.Lock()
		g, pid := c.group, c.pid
		c.mu.Unlock()
		if g == nil || pid != nil {
			t.Errorf("check %s stepped in a group: group %v, actor %v", c.ID(), g, pid)
			return
		}
		select {
		case <-g:
			t.Errorf("check %s: its group released it before queueing the commit", c.ID())
		default:
		}
		if len(held) == 0 || held[len(held)-1] != g {
			held = append(held, g)
		}
	}
	t.Cleanup(func() { inGroup = nil })
	advance(deadline.Add(10 * time.Millisecond))
	inGroup = nil

	if down := r.CountByStatus("simple", heartbeat.Down); down != n {
		t.Fatalf("%d of %d down after the deadline", down, n)
	}
	if g := r.Groups(); g != (n+GroupSize-1)/GroupSize || len(held) != int(g) {
		t.Fatalf("%d groups (%d seen), want %d", g, len(held), (n+GroupSize-1)/GroupSize)
	}
	for _, g := range held {
		select {
		case <-g:
		default:
			t.Fatal("a group still holds its checks after FireGroups")
		}
	}
	if r.Spawns() != 0 {
		t.Fatalf("%d actors spawned for deadlines of checks that had none", r.Spawns())
	}

	// A ping right after: its actor starts from the group's state, and its
	// commit lands after the group's.
	c := r.Get(ids[0])
	if err := r.Ping(c, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{}); err != nil {
		t.Fatalf("ping after the group: %v", err)
	}
	if res := r.Snapshot(c); res.Err != nil || res.Check.Status != "up" {
		t.Fatalf("after the ping: %+v", res)
	}
	if !r.Drain(10 * time.Second) {
		t.Fatal("not drained")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i, id := range ids {
		rec, err := st.GetCheck(id)
		want := "down"
		if i == 0 {
			want = "up"
		}
		if err != nil || rec.Status != want {
			t.Fatalf("check %d on disk: %+v %v, want %s", i, rec, err, want)
		}
		flips, err := st.Flips(id, time.Time{}, t0.Add(time.Hour))
		if err != nil || len(flips) != 1+map[bool]int{true: 1}[i == 0] {
			t.Fatalf("check %d: flips %+v %v", i, flips, err)
		}
	}
}
