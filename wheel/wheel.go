package wheel

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"
)

// Timer states. Only a shard's lock holder moves a timer into or out of armed; the
// driver moves firing to idle without the lock (CAS), racing only Schedule and
// Cancel, which both resolve the race in one atomic step.
const (
	stateIdle   uint32 = iota
	stateArmed         // linked into a slot of its shard
	stateFiring        // collected by Advance, not yet handed to fire; in no list
)

// Timer is one deadline on a Wheel. Embed it by value in the per-check struct so
// that scheduling allocates nothing. Its zero value is an idle timer.
//
// A Timer must not be copied after its first Schedule (go vet flags copies), and it
// belongs to the first Wheel it is scheduled on.
type Timer struct {
	Owner any // set once by the caller; the wheel never touches it

	next, prev *Timer // intrusive slot list; nil unless armed
	// due is the deadline in Unix nanoseconds. Only Schedule writes it, so the
	// owner (the goroutine that schedules this timer) may read it without a lock.
	due   int64
	state atomic.Uint32
	shard atomic.Uint32 // 1 + shard index, 0 until the first Schedule
}

// Due returns the deadline the timer is armed for, or the zero time when it is not
// armed (never scheduled, cancelled, or already handed to fire).
//
// Call it only from the goroutine that schedules this timer (its owner), or with
// other synchronisation against every Schedule of it: Schedule writes the deadline
// without the owner's knowledge otherwise, and the race detector will say so. A
// concurrent Advance may disarm the timer at any moment, so a non-zero result can
// be stale by the time it is used.
func (t *Timer) Due() time.Time {
	if t.state.Load() != stateArmed {
		return time.Time{}
	}
	return fromNanos(t.due)
}

// Wheel is a sharded hierarchical timing wheel. Schedule, Cancel and Len are safe
// for concurrent use; Advance is for one driver goroutine.
type Wheel struct {
	o       Options
	tick    int64 // ns
	start   int64 // Unix ns
	slots   int64 // S, slots per level
	mask    int64 // S-1
	bits    uint  // log2(S)
	top     int   // highest level
	levelOf [65]uint8
	shards  []shard
	rr      atomic.Uint32 // round-robin shard assignment

	// The driver's state, guarded by advancing.
	advancing atomic.Bool
	lastNow   int64
}

// shard is an independent wheel with its own lock and clock; all shards are
// advanced to the same tick by each Advance.
type shard struct {
	mu sync.Mutex
	// cur is the tick this shard is in: every slot for an earlier tick has been
	// emptied, and level 0's slot for cur holds the timers due within it (plus any
	// scheduled in the past), which each Advance scans against the exact now.
	cur   int64
	n     int     // armed timers
	heads []Timer // list sentinels, level L slot i at L*S+i

	scratch  Timer   // sentinel of the slots being cascaded by advance
	expired  []fired // collected by Advance, handed to fire without the lock
	nextFire int     // expired[nextFire:] are still to be handed to fire

	_ [64]byte // keep the next shard's lock off this cache line
}

type fired struct {
	t   *Timer
	due int64
}

// largeExpired is the capacity above which Advance gives its expired slice back
// to the GC instead of keeping it for the next call.
const largeExpired = 1 << 16

// New returns a wheel at o.Start, after applying WithDefaults and Validate.
func New(o Options) (*Wheel, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	w := &Wheel{
		o:       o,
		tick:    int64(o.Tick),
		start:   toNanos(o.Start),
		slots:   int64(o.SlotsPerLevel),
		mask:    int64(o.SlotsPerLevel - 1),
		bits:    uint(bits.TrailingZeros(uint(o.SlotsPerLevel))),
		top:     o.levels() - 1,
		shards:  make([]shard, o.Shards),
		lastNow: math.MinInt64,
	}
	// A due tick T goes to the lowest level L whose parent block (S^(L+1) ticks)
	// it shares with the current tick: L = (index of the highest bit where T and
	// cur differ) / log2(S), capped at the top level.
	for p := 1; p < len(w.levelOf); p++ {
		w.levelOf[p] = uint8(min((p-1)/int(w.bits), w.top))
	}
	for i := range w.shards {
		s := &w.shards[i]
		s.heads = make([]Timer, (w.top+1)*o.SlotsPerLevel)
		for j := range s.heads {
			h := &s.heads[j]
			h.next, h.prev = h, h
		}
		s.scratch.next, s.scratch.prev = &s.scratch, &s.scratch
	}
	return w, nil
}

// Options returns the effective options (defaults applied).
func (w *Wheel) Options() Options { return w.o }

// Levels returns the number of levels, derived from MaxSpan, Tick and SlotsPerLevel.
func (w *Wheel) Levels() int { return w.top + 1 }

// Schedule arms t to fire at the first Advance whose now is at or after at, or
// re-arms it if already armed (the earlier deadline is then dropped). An at at or
// before the last Advance fires at the next one. An at beyond MaxSpan is accepted
// and still fires on time; times outside the years 1678..2262 are clamped to them.
//
// When Schedule returns, the previous deadline of t will not be handed to fire
// unless fire was already running for it. Schedule may be called from fire. t must
// not be nil.
func (w *Wheel) Schedule(t *Timer, at time.Time) {
	d := toNanos(at)
	s := w.shardFor(t)
	s.mu.Lock()
	if t.state.Load() == stateArmed {
		if d >= t.due {
			// Later deadline (every ping): the timer's slot comes due no later
			// than the new deadline, where it is re-placed, so it can stay put.
			t.due = d
			s.mu.Unlock()
			return
		}
		unlink(t)
	} else {
		// Idle, or firing and not yet fired: this arming supersedes that fire
		// (Advance's CAS from firing fails against this store).
		t.state.Store(stateArmed)
		s.n++
	}
	t.due = d
	s.place(w, t, w.tickOf(d))
	s.mu.Unlock()
}

// Cancel disarms t and reports whether that stopped a pending fire: true if t was
// armed, or had been collected by an Advance still in progress but not yet handed
// to fire (as when one fire cancels another timer due in the same Advance).
func (w *Wheel) Cancel(t *Timer) bool {
	i := t.shard.Load()
	if i == 0 {
		return false // never scheduled
	}
	s := &w.shards[i-1]
	s.mu.Lock()
	ok := false
	switch t.state.Load() {
	case stateArmed:
		unlink(t)
		t.state.Store(stateIdle)
		s.n--
		ok = true
	case stateFiring:
		ok = t.state.CompareAndSwap(stateFiring, stateIdle)
	}
	s.mu.Unlock()
	return ok
}

// Len returns the number of armed timers.
func (w *Wheel) Len() int {
	n := 0
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		n += s.n
		s.mu.Unlock()
	}
	return n
}

// Advance moves the wheel to now and calls fire for every armed timer due at or
// before now, and for none due after it. A now earlier than the last Advance's is
// a no-op. A long gap costs at most SlotsPerLevel slot visits per level plus the
// timers in them, not one step per tick.
//
// Expired timers are first collected under each shard's lock, then disarmed and
// handed to fire with no lock held, so fire may Schedule or Cancel any timer,
// including the one fired. A timer re-armed or cancelled by an earlier fire of the
// same Advance is not fired; one armed by fire at a time not after now fires at
// the next Advance. fire's due is the deadline that expired.
//
// Advance is for one driver goroutine: a call made while another is running
// (concurrently, or from inside fire) returns at once without doing anything. If
// fire panics, the timers collected but not yet fired are fired by the next
// Advance. A nil fire just disarms the expired timers.
func (w *Wheel) Advance(now time.Time, fire func(t *Timer, due time.Time)) {
	if !w.advancing.CompareAndSwap(false, true) {
		return
	}
	defer w.advancing.Store(false)
	n := toNanos(now)
	if n < w.lastNow {
		return
	}
	w.lastNow = n
	target := w.tickOf(n)
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		s.advance(w, target, n)
		s.mu.Unlock()
	}
	for i := range w.shards {
		s := &w.shards[i]
		for s.nextFire < len(s.expired) {
			f := s.expired[s.nextFire]
			s.nextFire++
			if f.t.state.CompareAndSwap(stateFiring, stateIdle) && fire != nil {
				fire(f.t, fromNanos(f.due))
			}
		}
		if cap(s.expired) > largeExpired {
			s.expired = nil
		} else {
			clear(s.expired) // drop the pointers so fired owners can be collected
			s.expired = s.expired[:0]
		}
		s.nextFire = 0
	}
}

// shardFor binds t to a shard at its first Schedule; it stays there so that its
// links are only ever touched under one lock.
func (w *Wheel) shardFor(t *Timer) *shard {
	i := t.shard.Load()
	if i == 0 {
		i = w.rr.Add(1)%uint32(len(w.shards)) + 1
		if !t.shard.CompareAndSwap(0, i) {
			i = t.shard.Load()
		}
	}
	return &w.shards[i-1]
}

// tickOf returns the tick (counted from Start) whose interval [k, k+1) ticks holds
// Unix nanosecond d, or -1 for a d before Start.
func (w *Wheel) tickOf(d int64) int64 {
	if d < w.start {
		return -1
	}
	rel := d - w.start
	if rel < 0 { // overflow: Start before 1970, d near the end of time
		rel = math.MaxInt64
	}
	return rel / w.tick
}

// place links t into the slot that comes due no later than its due tick T and is
// not visited again before then. The caller holds s.mu.
//
// Level L slot i holds timers whose tick has block index k = T>>(L·log2 S) with
// k&mask == i; the slot is cascaded when the shard's tick reaches k's first tick.
// Below the top, T shares its level-(L+1) block with cur, so k is less than S
// blocks ahead and the slot cannot alias. At the top, a T more than S-1 blocks
// ahead is clamped to the last slot before aliasing and re-placed from there.
func (s *shard) place(w *Wheel, t *Timer, T int64) {
	cur := s.cur
	if T < cur {
		T = cur // already due: the current slot, scanned by the next Advance
	}
	l := int(w.levelOf[bits.Len64(uint64(T^cur))])
	sh := w.bits * uint(l)
	k := T >> sh
	if l == w.top {
		if c := cur >> sh; k-c >= w.slots {
			k = c + w.slots - 1
		}
	}
	link(&s.heads[l<<w.bits|int(k&w.mask)], t)
}

// advance moves s to tick target and collects the timers due at or before now
// (Unix ns, within target's tick) into s.expired. The caller holds s.mu.
//
// Every slot that would come due in (cur, target] is emptied into scratch: level 0
// slots for ticks cur..target-1, and at each higher level the slots whose block
// starts in (cur, target]. That is at most S slots per level, however long the
// gap. The timers taken are then fired if due before target's tick, or re-placed
// relative to the new cur (lazily rescheduled ones included), and finally the
// current slot is scanned against the exact now.
func (s *shard) advance(w *Wheel, target, now int64) {
	if target > s.cur {
		old := s.cur
		for i := range min(target-old, w.slots) {
			s.takeSlot(&s.heads[(old+i)&w.mask])
		}
		for l := 1; l <= w.top; l++ {
			sh := w.bits * uint(l)
			ob, nb := old>>sh, target>>sh
			if ob == nb {
				break // and so at every higher level
			}
			base := l << w.bits
			for j := int64(1); j <= min(nb-ob, w.slots); j++ {
				s.takeSlot(&s.heads[base|int((ob+j)&w.mask)])
			}
		}
		s.cur = target
		sc := &s.scratch
		for t := sc.next; t != sc; {
			next := t.next
			if T := w.tickOf(t.due); T < target {
				s.collect(t)
			} else {
				s.place(w, t, T)
			}
			t = next
		}
		sc.next, sc.prev = sc, sc
	}
	h := &s.heads[s.cur&w.mask]
	for t := h.next; t != h; {
		next := t.next
		if t.due <= now {
			unlink(t)
			s.collect(t)
		}
		t = next
	}
}

// takeSlot moves the whole list of h to the end of s.scratch in O(1).
func (s *shard) takeSlot(h *Timer) {
	if h.next == h {
		return
	}
	first, last, sc := h.next, h.prev, &s.scratch
	first.prev = sc.prev
	sc.prev.next = first
	last.next = sc
	sc.prev = last
	h.next, h.prev = h, h
}

// collect disarms t (already out of its list) for the fire phase.
func (s *shard) collect(t *Timer) {
	t.next, t.prev = nil, nil
	t.state.Store(stateFiring)
	s.n--
	s.expired = append(s.expired, fired{t, t.due})
}

func link(h, t *Timer) {
	t.prev = h
	t.next = h.next
	h.next.prev = t
	h.next = t
}

func unlink(t *Timer) {
	t.prev.next = t.next
	t.next.prev = t.prev
	t.next, t.prev = nil, nil
}

// Unix seconds within which UnixNano is exact.
const (
	maxUnixSec = math.MaxInt64/int64(time.Second) - 1
	minUnixSec = math.MinInt64/int64(time.Second) + 1
)

// toNanos converts at to Unix nanoseconds, clamping times outside int64's range.
// It uses the wall clock only: deadlines come from storage without a monotonic
// reading, so comparing by the monotonic clock would mix two clocks.
func toNanos(at time.Time) int64 {
	switch sec := at.Unix(); {
	case sec > maxUnixSec:
		return math.MaxInt64
	case sec < minUnixSec:
		return math.MinInt64
	}
	return at.UnixNano()
}

func fromNanos(d int64) time.Time { return time.Unix(0, d).UTC() }
