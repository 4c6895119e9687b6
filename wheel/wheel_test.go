package wheel

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// origin is deliberately not aligned to any tick.
var origin = time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)

// ---------------------------------------------------------------------------
// Reference model: a heap ordered by due time.

type refItem struct {
	id, idx int
	due     int64
}

type refHeap []*refItem

func (h refHeap) Len() int { return len(h) }
func (h refHeap) Less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].id < h[j].id
}
func (h refHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *refHeap) Push(x any)   { it := x.(*refItem); it.idx = len(*h); *h = append(*h, it) }
func (h *refHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

type model struct {
	h     refHeap
	armed map[int]*refItem
}

func newModel() *model { return &model{armed: map[int]*refItem{}} }

func (m *model) schedule(id int, due int64) {
	if it, ok := m.armed[id]; ok {
		it.due = due
		heap.Fix(&m.h, it.idx)
		return
	}
	it := &refItem{id: id, due: due}
	m.armed[id] = it
	heap.Push(&m.h, it)
}

func (m *model) cancel(id int) bool {
	it, ok := m.armed[id]
	if ok {
		heap.Remove(&m.h, it.idx)
		delete(m.armed, id)
	}
	return ok
}

// popDue removes and returns every timer due at or before now.
func (m *model) popDue(now int64) map[int]int64 {
	out := map[int]int64{}
	for len(m.h) > 0 && m.h[0].due <= now {
		it := heap.Pop(&m.h).(*refItem)
		delete(m.armed, it.id)
		out[it.id] = it.due
	}
	return out
}

// ---------------------------------------------------------------------------
// Harness: drives a Wheel and the model with the same operations and compares.

type owner struct {
	Timer
	id int
}

type harness struct {
	t      *testing.T
	w      *Wheel
	o      Options
	m      *model
	timers []*owner
	rng    *rand.Rand

	now     int64 // last Advance, Unix ns
	pending map[int]int64
	inFire  bool
	// onFire, if set, runs inside fire after the checks.
	onFire func(h *harness, id int)
	fires  int
	total  int // fires over the harness's life
	steps  int // forward Advances
}

func newHarness(t *testing.T, o Options, n int, seed uint64) *harness {
	t.Helper()
	w, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, w: w, o: w.Options(), m: newModel(), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: math.MinInt64}
	for i := range n {
		h.timers = append(h.timers, &owner{Timer: Timer{Owner: i}, id: i})
	}
	return h
}

func (h *harness) schedule(id int, at time.Time) {
	h.w.Schedule(&h.timers[id].Timer, at)
	delete(h.pending, id) // a collected, unfired timer re-armed is not fired
	h.m.schedule(id, toNanos(at))
}

func (h *harness) cancel(id int) {
	got := h.w.Cancel(&h.timers[id].Timer)
	want := h.m.cancel(id)
	if _, ok := h.pending[id]; ok {
		delete(h.pending, id)
		want = true
	}
	if got != want {
		h.t.Fatalf("Cancel(%d) = %v, want %v (inFire=%v)", id, got, want, h.inFire)
	}
}

func (h *harness) advance(now time.Time) {
	h.t.Helper()
	n := toNanos(now)
	if n < h.now {
		h.w.Advance(now, func(t *Timer, due time.Time) {
			h.t.Fatalf("backward Advance fired timer %v", t.Owner)
		})
		return
	}
	h.now = n
	h.steps++
	h.pending = h.m.popDue(n)
	want := len(h.pending)
	h.fires = 0
	h.w.Advance(now, h.fire)
	if len(h.pending) != 0 {
		ids := make([]int, 0, len(h.pending))
		for id := range h.pending {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		h.t.Fatalf("Advance(%v): %d of %d due timers not fired: %v (dues %v)", now, len(ids), want, ids, h.pending[ids[0]])
	}
	h.pending = nil
}

func (h *harness) fire(t *Timer, due time.Time) {
	id := t.Owner.(int)
	d, ok := h.pending[id]
	if !ok {
		h.t.Fatalf("fired timer %d (due %v) not expected at now %v", id, due, fromNanos(h.now))
	}
	delete(h.pending, id)
	if got := toNanos(due); got != d {
		h.t.Fatalf("timer %d fired with due %d, want %d", id, got, d)
	}
	if d > h.now {
		h.t.Fatalf("timer %d fired early: due %d > now %d", id, d, h.now)
	}
	if !t.Due().IsZero() {
		h.t.Fatalf("timer %d is still armed inside fire (Due %v)", id, t.Due())
	}
	h.fires++
	h.total++
	if h.onFire != nil {
		h.inFire = true
		h.onFire(h, id)
		h.inFire = false
	}
}

func (h *harness) checkLen() {
	h.t.Helper()
	if got, want := h.w.Len(), len(h.m.armed); got != want {
		h.t.Fatalf("Len = %d, want %d", got, want)
	}
}

// checkDue compares Timer.Due of every timer with the model.
func (h *harness) checkDue() {
	h.t.Helper()
	for id, o := range h.timers {
		got := o.Due()
		it, ok := h.m.armed[id]
		switch {
		case !ok && !got.IsZero():
			h.t.Fatalf("timer %d: Due = %v, want zero (not armed)", id, got)
		case ok && toNanos(got) != it.due:
			h.t.Fatalf("timer %d: Due = %v, want %v", id, got, fromNanos(it.due))
		}
	}
}

// checkInvariants walks every slot list of w: links are consistent, every linked
// timer is armed and bound to that shard, counts match, and every timer sits in a
// slot that comes due no later than its own tick (the never-late invariant).
func checkInvariants(t *testing.T, w *Wheel) {
	t.Helper()
	for si := range w.shards {
		s := &w.shards[si]
		s.mu.Lock()
		n := 0
		for hi := range s.heads {
			h := &s.heads[hi]
			l, slot := hi>>w.bits, int64(hi)&w.mask
			sh := w.bits * uint(l)
			var due int64 // tick at which this slot is visited
			if l == 0 {
				due = s.cur + (slot-s.cur)&w.mask
			} else {
				c := s.cur >> sh
				k := c + 1 + (slot-c-1)&w.mask
				due = k << sh
			}
			for p, x := h, h.next; x != h; p, x = x, x.next {
				if x.prev != p {
					t.Fatalf("shard %d slot %d: broken prev link", si, hi)
				}
				if x.state.Load() != stateArmed || int(x.shard.Load()) != si+1 {
					t.Fatalf("shard %d slot %d: timer %v state %d shard %d", si, hi, x.Owner, x.state.Load(), x.shard.Load())
				}
				if T := max(w.tickOf(x.due), s.cur); due > T {
					t.Fatalf("shard %d level %d slot %d: timer %v with tick %d visited late at tick %d (cur %d)", si, l, slot, x.Owner, T, due, s.cur)
				}
				n++
			}
		}
		if n != s.n {
			t.Fatalf("shard %d: %d timers linked, n = %d", si, n, s.n)
		}
		if s.scratch.next != &s.scratch || len(s.expired) != 0 {
			t.Fatalf("shard %d: scratch or expired not empty after Advance", si)
		}
		s.mu.Unlock()
	}
}

// randomAt picks a deadline relative to the harness's clock, favouring the edges
// the wheel must get right.
func (h *harness) randomAt() time.Time {
	tick := h.o.Tick
	now := origin
	if h.now != math.MinInt64 {
		now = fromNanos(h.now)
	}
	r := h.rng
	s := int64(h.o.SlotsPerLevel)
	switch r.IntN(12) {
	case 0: // past
		return now.Add(-time.Duration(r.Int64N(int64(3*tick) + 1)))
	case 1: // exactly now
		return now
	case 2: // within the next tick
		return now.Add(time.Duration(r.Int64N(int64(tick)) + 1))
	case 3: // a few ticks
		return now.Add(time.Duration(r.Int64N(int64(8 * tick))))
	case 4: // within two levels
		return now.Add(time.Duration(r.Int64N(int64(tick) * s * s)))
	case 5, 6: // a level boundary relative to Start, +-1ns, +-1 tick
		l := r.IntN(h.w.Levels() + 1)
		span := int64(tick)
		for range l {
			if span > math.MaxInt64/s {
				break
			}
			span *= s
		}
		k := (toNanos(now)-h.w.start)/span + int64(r.IntN(3))
		if k > math.MaxInt64/span/2 {
			k = 1
		}
		base := origin.Add(time.Duration(k * span))
		return base.Add([]time.Duration{-tick, -1, 0, 1, tick}[r.IntN(5)])
	case 7: // up to MaxSpan
		return now.Add(time.Duration(r.Int64N(int64(h.o.MaxSpan))))
	case 8: // at MaxSpan, from now or from Start
		base := now
		if r.IntN(2) == 0 {
			base = origin
		}
		return base.Add(h.o.MaxSpan + []time.Duration{-tick, -1, 0, 1, tick}[r.IntN(5)])
	case 9: // beyond MaxSpan (clamped into the top level)
		return now.Add(h.o.MaxSpan * time.Duration(2+r.IntN(3)))
	case 10: // long past
		return origin.Add(-time.Duration(r.Int64N(int64(1000 * time.Hour))))
	default: // exactly the due of another timer
		if len(h.m.h) > 0 {
			return fromNanos(h.m.h[r.IntN(len(h.m.h))].due)
		}
		return now
	}
}

func (h *harness) randomAdvance() time.Time {
	tick := h.o.Tick
	now := origin
	if h.now != math.MinInt64 {
		now = fromNanos(h.now)
	}
	r := h.rng
	switch r.IntN(12) {
	case 0, 1: // sub-tick
		return now.Add(time.Duration(r.Int64N(int64(tick))))
	case 2: // to the next tick boundary, or 1ns before it
		rel := toNanos(now) - h.w.start
		next := (rel/int64(tick) + 1) * int64(tick)
		return origin.Add(time.Duration(next - r.Int64N(2)))
	case 3, 4: // a few ticks
		return now.Add(time.Duration(r.Int64N(int64(5 * tick))))
	case 5: // exactly the next due, or 1ns before it
		if len(h.m.h) > 0 {
			return fromNanos(h.m.h[0].due - r.Int64N(2))
		}
		return now.Add(tick)
	case 6: // exactly some armed timer's due
		if len(h.m.h) > 0 {
			return fromNanos(h.m.h[r.IntN(len(h.m.h))].due)
		}
		return now
	case 7: // huge jump, up to twice MaxSpan
		return now.Add(time.Duration(r.Int64N(int64(2 * h.o.MaxSpan))))
	case 8: // ten days
		return now.Add(240 * time.Hour)
	case 9: // backwards: a no-op
		return now.Add(-time.Duration(r.Int64N(int64(5*tick)) + 1))
	case 10: // same now again
		return now
	default: // many ticks
		return now.Add(time.Duration(r.Int64N(int64(tick) * int64(h.o.SlotsPerLevel) * 3)))
	}
}

var configs = []struct {
	name string
	o    Options
}{
	{"default", Options{Shards: 4, Start: origin}},
	{"s4-1ms", Options{Tick: time.Millisecond, SlotsPerLevel: 4, MaxSpan: time.Second, Shards: 3, Start: origin}},
	{"s8-7ns-tiny-span", Options{Tick: 7, SlotsPerLevel: 8, MaxSpan: time.Microsecond, Shards: 1, Start: origin}},
	{"one-level", Options{Tick: time.Second, SlotsPerLevel: 64, MaxSpan: 30 * time.Second, Shards: 2, Start: origin}},
	{"1ns-tick", Options{Tick: 1, SlotsPerLevel: 16, MaxSpan: time.Hour, Shards: 2, Start: origin}},
}

// TestAgainstReference drives the wheel and a heap with the same random
// schedules, reschedules, cancels and advances (small steps and huge jumps), with
// fixed seeds, and requires the exact same set of timers to fire on every Advance.
// Fire callbacks re-arm and cancel timers, including ones due in the same Advance.
func TestAgainstReference(t *testing.T) {
	ops := 6000
	if testing.Short() || raceEnabled {
		ops = 2500
	}
	for _, c := range configs {
		for seed := uint64(1); seed <= 3; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", c.name, seed), func(t *testing.T) {
				h := newHarness(t, c.o, 300, seed)
				h.onFire = func(h *harness, id int) {
					switch h.rng.IntN(8) {
					case 0, 1: // re-arm the fired timer (maybe in the past: fires next time)
						h.schedule(id, h.randomAt())
					case 2: // re-arm another timer, maybe one due in this Advance
						h.schedule(h.rng.IntN(len(h.timers)), h.randomAt())
					case 3: // cancel another timer, maybe one due in this Advance
						h.cancel(h.rng.IntN(len(h.timers)))
					case 4: // Advance from inside fire is a no-op
						h.w.Advance(fromNanos(h.now).Add(time.Hour), func(*Timer, time.Time) {
							h.t.Fatal("re-entrant Advance fired")
						})
					}
				}
				for i := range ops {
					switch op := h.rng.IntN(10); {
					case op < 4:
						h.schedule(h.rng.IntN(len(h.timers)), h.randomAt())
					case op < 5:
						h.cancel(h.rng.IntN(len(h.timers)))
					default:
						h.advance(h.randomAdvance())
					}
					if i%97 == 0 {
						h.checkLen()
						h.checkDue()
						checkInvariants(t, h.w)
					}
				}
				// Drain: everything still armed fires exactly once.
				h.onFire = nil
				for len(h.m.h) > 0 {
					h.advance(fromNanos(max(h.m.h[0].due, h.now)))
				}
				h.checkLen()
				checkInvariants(t, h.w)
				t.Logf("%d fires over %d Advances", h.total, h.steps)
			})
		}
	}
}

// TestBoundaries arms timers exactly on level boundaries (Start + k·Tick·S^L), ±1ns
// and ±1 tick, at MaxSpan and beyond it, then steps the clock to 1ns before and
// exactly at every due time: each fires at its exact due and not a nanosecond
// before.
func TestBoundaries(t *testing.T) {
	for _, c := range configs {
		for _, warm := range []time.Duration{0, 3*c.o.WithDefaults().Tick + 5} {
			t.Run(fmt.Sprintf("%s/from+%v", c.name, warm), func(t *testing.T) {
				o := c.o.WithDefaults()
				tick, s := o.Tick, int64(o.SlotsPerLevel)
				var ats []time.Time
				span := int64(tick)
				w, _ := New(o)
				for l := 0; l <= w.Levels(); l++ {
					for _, k := range []int64{1, 2, s - 1, s, s + 1} {
						if span > math.MaxInt64/k/2 {
							continue
						}
						base := origin.Add(time.Duration(k * span))
						for _, d := range []time.Duration{-tick, -1, 0, 1, tick} {
							ats = append(ats, base.Add(d))
						}
					}
					if span > math.MaxInt64/s {
						break
					}
					span *= s
				}
				for _, d := range []time.Duration{-tick, -1, 0, 1, tick} {
					ats = append(ats, origin.Add(o.MaxSpan+d), origin.Add(warm+o.MaxSpan+d), origin.Add(3*o.MaxSpan+d))
				}
				ats = append(ats, origin, origin.Add(-1), origin.Add(1))
				h := newHarness(t, o, len(ats), 7)
				h.advance(origin.Add(warm))
				for i, at := range ats {
					h.schedule(i, at)
				}
				checkInvariants(t, h.w)
				var steps []int64
				for _, it := range h.m.h {
					steps = append(steps, it.due-1, it.due)
				}
				slices.Sort(steps)
				for _, n := range slices.Compact(steps) {
					h.advance(fromNanos(n))
					checkInvariants(t, h.w)
				}
				if h.w.Len() != 0 || len(h.m.armed) != 0 {
					t.Fatalf("Len = %d after all dues passed", h.w.Len())
				}
			})
		}
	}
}

// TestPastFiresAtNextAdvance: a deadline at or before the last Advance fires at
// the next one, even when that one does not move the clock.
func TestPastFiresAtNextAdvance(t *testing.T) {
	h := newHarness(t, Options{Start: origin, Shards: 2}, 4, 1)
	now := origin.Add(90 * time.Minute)
	h.advance(now)
	h.schedule(0, now)
	h.schedule(1, now.Add(-1))
	h.schedule(2, origin.Add(-48*time.Hour)) // before Start
	h.schedule(3, now.Add(1))
	if got := h.w.Len(); got != 4 {
		t.Fatalf("Len = %d, want 4", got)
	}
	h.advance(now) // same now: 0, 1 and 2 fire, 3 does not
	if h.fires != 3 {
		t.Fatalf("fired %d, want 3", h.fires)
	}
	h.advance(now.Add(1))
	if h.fires != 1 {
		t.Fatalf("fired %d, want 1", h.fires)
	}
}

// TestAdvanceBeforeStart: an Advance to a time before Start fires what is due by
// then and nothing else.
func TestAdvanceBeforeStart(t *testing.T) {
	h := newHarness(t, Options{Start: origin}, 3, 1)
	h.schedule(0, origin.Add(-2*time.Hour))
	h.schedule(1, origin.Add(-time.Hour))
	h.schedule(2, origin)
	h.advance(origin.Add(-90 * time.Minute))
	h.advance(origin.Add(-1))
	h.advance(origin)
	h.checkLen()
}

// TestBackwardAdvanceIsNoop: time never goes back, and nothing fires on the way.
func TestBackwardAdvanceIsNoop(t *testing.T) {
	h := newHarness(t, Options{Start: origin}, 1, 1)
	h.advance(origin.Add(time.Hour))
	h.schedule(0, origin.Add(30*time.Minute)) // in the past: fires at the next forward Advance
	h.advance(origin)                         // backward: the harness fails on any fire
	if h.w.Len() != 1 {
		t.Fatal("backward Advance disarmed a timer")
	}
	h.advance(origin.Add(time.Hour))
	h.checkLen()
}

// TestBeyondMaxSpan: a deadline far beyond MaxSpan is parked in the top level,
// cascaded again and again, and fires exactly at its due.
func TestBeyondMaxSpan(t *testing.T) {
	o := Options{Tick: time.Millisecond, SlotsPerLevel: 4, MaxSpan: 100 * time.Millisecond, Start: origin, Shards: 1}
	h := newHarness(t, o, 2, 1)
	due := origin.Add(10*time.Second + 3*time.Microsecond)
	h.schedule(0, due)
	h.schedule(1, origin.Add(1000*time.Hour))
	for now := origin; now.Before(due.Add(-37 * time.Millisecond)); now = now.Add(37 * time.Millisecond) {
		h.advance(now)
		if h.fires != 0 {
			t.Fatalf("fired early at %v", now)
		}
		checkInvariants(t, h.w)
	}
	h.advance(due.Add(-1))
	h.advance(due)
	if h.fires != 1 {
		t.Fatalf("fired %d at due, want 1", h.fires)
	}
	h.advance(origin.Add(1000 * time.Hour))
	if h.fires != 1 {
		t.Fatalf("fired %d at 1000h, want 1", h.fires)
	}
}

// TestHugeGap jumps a 1ns-tick wheel across centuries. Stepping tick by tick would
// take longer than the test timeout, so this only passes if Advance skips empty
// stretches per level.
func TestHugeGap(t *testing.T) {
	start := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, Options{Tick: 1, SlotsPerLevel: 64, Start: start}, 6, 1)
	origin := start
	ats := []time.Time{
		origin.Add(1), origin.Add(time.Hour), origin.AddDate(1, 0, 0),
		origin.AddDate(100, 0, 0), origin.AddDate(150, 0, 0).Add(-1), origin.AddDate(200, 0, 0),
	}
	for i, at := range ats {
		h.schedule(i, at)
	}
	h.advance(origin.AddDate(100, 0, 0)) // fires 0..3
	if h.fires != 4 {
		t.Fatalf("fired %d, want 4", h.fires)
	}
	checkInvariants(t, h.w)
	h.advance(origin.AddDate(150, 0, 0).Add(-2))
	h.advance(origin.AddDate(150, 0, 0).Add(-1))
	h.advance(origin.AddDate(250, 0, 0))
	h.checkLen()
	if h.w.Len() != 0 {
		t.Fatalf("Len = %d", h.w.Len())
	}
}

// TestFireContract covers what fire may do with timers of the same Advance.
func TestFireContract(t *testing.T) {
	w, err := New(Options{Start: origin, Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	ts := make([]owner, 8)
	for i := range ts {
		ts[i].Owner = i
		w.Schedule(&ts[i].Timer, origin.Add(time.Duration(i)*time.Second))
	}
	now := origin.Add(10 * time.Second)
	var fired []int
	first := -1
	w.Advance(now, func(tm *Timer, due time.Time) {
		id := tm.Owner.(int)
		fired = append(fired, id)
		if first >= 0 {
			return
		}
		first = id
		// Cancel and re-arm every other timer of this Advance: none of them may
		// fire now, and each Cancel of a still-pending one reports true.
		for i := range ts {
			if i == id {
				continue
			}
			if !w.Cancel(&ts[i].Timer) {
				t.Errorf("Cancel(%d) inside fire = false, want true", i)
			}
			w.Schedule(&ts[i].Timer, now) // due now, but this Advance is past collecting
		}
		w.Schedule(tm, origin) // the fired timer itself, in the past
		if tm.Due() != origin {
			t.Errorf("Due after re-arm in fire = %v", tm.Due())
		}
	})
	if len(fired) != 1 {
		t.Fatalf("fired %v, want only the first", fired)
	}
	if w.Len() != len(ts) {
		t.Fatalf("Len = %d, want %d", w.Len(), len(ts))
	}
	fired = fired[:0]
	w.Advance(now, func(tm *Timer, due time.Time) { fired = append(fired, tm.Owner.(int)) })
	if len(fired) != len(ts) || w.Len() != 0 {
		t.Fatalf("second Advance fired %v, Len %d", fired, w.Len())
	}
	if w.Cancel(&ts[0].Timer) {
		t.Fatal("Cancel of a fired timer = true")
	}
	var never Timer
	if w.Cancel(&never) || !never.Due().IsZero() {
		t.Fatal("never-scheduled timer reports armed")
	}
}

// TestFirePanicRecovers: timers collected when fire panics fire at the next
// Advance, and the wheel keeps working.
func TestFirePanicRecovers(t *testing.T) {
	w, _ := New(Options{Start: origin, Shards: 1})
	ts := make([]owner, 3)
	for i := range ts {
		ts[i].Owner = i
		w.Schedule(&ts[i].Timer, origin.Add(time.Second))
	}
	func() {
		defer func() { _ = recover() }()
		w.Advance(origin.Add(time.Second), func(*Timer, time.Time) { panic("boom") })
	}()
	n := 0
	w.Advance(origin.Add(time.Second), func(*Timer, time.Time) { n++ })
	if n != 2 {
		t.Fatalf("fired %d after panic, want the 2 left over", n)
	}
	checkInvariants(t, w)
}

// TestConcurrent: goroutines, each owning a set of timers as the engine's actors
// do, schedule, re-arm and cancel while a driver advances a fake clock. Every
// arming is accounted for: fired once at or after its due, cancelled, or replaced.
func TestConcurrent(t *testing.T) {
	const (
		workers = 6
		per     = 100
		ops     = 3000
		tick    = time.Millisecond
	)
	w, err := New(Options{Tick: tick, SlotsPerLevel: 8, MaxSpan: time.Second, Shards: 4, Start: origin})
	if err != nil {
		t.Fatal(err)
	}
	type ctimer struct {
		Timer
		mu    sync.Mutex
		fires map[int64]int // due -> times fired
		// Owner-side record, read after the workers finish.
		last      int64 // last due scheduled
		cancelled bool  // last op was a Cancel
		cancelOK  bool
		seq       int64
	}
	all := make([]*ctimer, workers*per)
	for i := range all {
		all[i] = &ctimer{fires: map[int64]int{}}
		all[i].Owner = all[i]
	}
	var clock atomic.Int64 // whole ticks since origin
	var done atomic.Bool
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 42))
			mine := all[g*per : (g+1)*per]
			for i := range ops {
				// Keep pace with the driver so that arming, firing and
				// cancelling interleave: every 20 ops wait for a tick.
				for clock.Load() < int64(i/20) {
					runtime.Gosched()
				}
				c := mine[r.IntN(per)]
				if r.IntN(4) == 0 {
					c.cancelOK = w.Cancel(&c.Timer)
					c.cancelled = true
					continue
				}
				// Unique per timer: whole ticks plus a per-timer sequence in ns.
				c.seq++
				ticks := clock.Load() + int64(r.IntN(40)) - 5
				due := origin.Add(time.Duration(ticks)*tick + time.Duration(c.seq))
				w.Schedule(&c.Timer, due)
				c.last, c.cancelled = toNanos(due), false
				if got := c.Due(); !got.IsZero() && toNanos(got) != c.last {
					// Only a fire can have disarmed it meanwhile; never a different due.
					t.Errorf("Due = %v, want %v", got, due)
				}
			}
		}()
	}
	var nowNs, nfired atomic.Int64
	fire := func(tm *Timer, due time.Time) {
		nfired.Add(1)
		c := tm.Owner.(*ctimer)
		d := toNanos(due)
		if d > nowNs.Load() {
			t.Errorf("fired early: due %d > now %d", d, nowNs.Load())
		}
		c.mu.Lock()
		c.fires[d]++
		c.mu.Unlock()
	}
	driverDone := make(chan struct{})
	go func() {
		defer close(driverDone)
		for !done.Load() {
			k := clock.Add(1)
			now := origin.Add(time.Duration(k) * tick)
			nowNs.Store(toNanos(now))
			w.Advance(now, fire)
			runtime.Gosched()
		}
	}()
	wg.Wait()
	done.Store(true)
	<-driverDone
	// Drain everything still armed.
	end := origin.Add(time.Duration(clock.Load())*tick + 2*time.Second)
	nowNs.Store(toNanos(end))
	w.Advance(end, fire)
	if n := w.Len(); n != 0 {
		t.Fatalf("Len = %d after drain", n)
	}
	checkInvariants(t, w)
	t.Logf("%d fires over %d ticks", nfired.Load(), clock.Load())
	for i, c := range all {
		for d, n := range c.fires {
			if n != 1 {
				t.Fatalf("timer %d: due %d fired %d times", i, d, n)
			}
		}
		if c.seq == 0 {
			continue
		}
		lastFired := c.fires[c.last] == 1
		switch {
		case !c.cancelled && !lastFired:
			t.Fatalf("timer %d: last arming (due %d) never fired", i, c.last)
		case c.cancelled && c.cancelOK && lastFired:
			t.Fatalf("timer %d: cancelled (true) but its last arming fired", i)
		}
	}
}

// TestZeroAllocs: arming, re-arming both ways, cancelling and advancing in steady
// state allocate nothing.
func TestZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	w, _ := New(Options{Start: origin})
	ts := make([]owner, 1024)
	for i := range ts {
		w.Schedule(&ts[i].Timer, origin.Add(time.Duration(i)*time.Second))
	}
	i := 0
	now := origin
	fire := func(tm *Timer, due time.Time) { w.Schedule(tm, due.Add(time.Hour)) }
	cases := []struct {
		name string
		f    func()
	}{
		{"reschedule-later", func() { tm := &ts[i%len(ts)].Timer; w.Schedule(tm, tm.Due().Add(time.Second)); i++ }},
		{"reschedule-earlier", func() { tm := &ts[i%len(ts)].Timer; w.Schedule(tm, tm.Due().Add(-time.Millisecond)); i++ }},
		{"cancel+arm", func() { tm := &ts[i%len(ts)].Timer; w.Cancel(tm); w.Schedule(tm, now.Add(time.Minute)); i++ }},
		{"advance", func() { now = now.Add(time.Second); w.Advance(now, fire) }},
	}
	for _, c := range cases {
		c.f() // warm the expired slices
		if a := testing.AllocsPerRun(1000, c.f); a != 0 {
			t.Errorf("%s: %v allocs/op, want 0", c.name, a)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Options{Start: origin}.WithDefaults()
	with := func(f func(*Options)) Options { o := ok; f(&o); return o }
	tests := []struct {
		name string
		o    Options
		want string // substring of the error, "" for valid
	}{
		{"defaults", ok, ""},
		{"custom", Options{Tick: time.Second, SlotsPerLevel: 256, MaxSpan: time.Hour, Shards: 3, Start: origin}, ""},
		{"zero tick", with(func(o *Options) { o.Tick = 0 }), "Tick is 0s"},
		{"negative tick", with(func(o *Options) { o.Tick = -time.Second }), "Tick is -1s"},
		{"slots not pow2", with(func(o *Options) { o.SlotsPerLevel = 48 }), "power of two"},
		{"slots too few", with(func(o *Options) { o.SlotsPerLevel = 2 }), "SlotsPerLevel is 2"},
		{"slots too many", with(func(o *Options) { o.SlotsPerLevel = 1 << 13 }), "SlotsPerLevel is 8192"},
		{"span below tick", with(func(o *Options) { o.MaxSpan = time.Millisecond }), "MaxSpan is 1ms"},
		{"negative span", with(func(o *Options) { o.MaxSpan = -1 }), "MaxSpan"},
		{"zero shards", with(func(o *Options) { o.Shards = 0 }), "Shards is 0"},
		{"too many shards", with(func(o *Options) { o.Shards = 5000 }), "Shards is 5000"},
		{"zero start", with(func(o *Options) { o.Start = time.Time{} }), "Start is required"},
		{"start out of range", with(func(o *Options) { o.Start = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }), "outside the years"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want error containing %q", err, tc.want)
			case tc.want != "" && !errors.Is(err, ErrInvalidOptions):
				t.Fatalf("Validate = %v, does not wrap ErrInvalidOptions", err)
			}
		})
	}
	// Several problems are reported together.
	err := Options{Tick: -1, SlotsPerLevel: 3}.Validate()
	for _, want := range []string{"Tick", "SlotsPerLevel", "Start"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("joined error %v lacks %q", err, want)
		}
	}
}

func TestWithDefaultsAndNew(t *testing.T) {
	o := Options{Start: origin}.WithDefaults()
	if o.Tick != 100*time.Millisecond || o.SlotsPerLevel != 64 || o.MaxSpan != 400*24*time.Hour {
		t.Fatalf("defaults: %+v", o)
	}
	if o.Shards < runtime.GOMAXPROCS(0) || o.Shards&(o.Shards-1) != 0 {
		t.Fatalf("default Shards %d is not GOMAXPROCS (%d) rounded up to a power of two", o.Shards, runtime.GOMAXPROCS(0))
	}
	neg := Options{Tick: -1, Start: origin}.WithDefaults()
	if neg.Tick != -1 {
		t.Fatal("WithDefaults replaced a negative Tick")
	}
	w, err := New(Options{Start: origin})
	if err != nil {
		t.Fatal(err)
	}
	// 64^4 ticks of 100ms is 19 days, too short for 400 days.
	if w.Levels() != 5 {
		t.Fatalf("default Levels = %d, want 5", w.Levels())
	}
	if _, err := New(Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New(zero) = %v, want ErrInvalidOptions", err)
	}
}
