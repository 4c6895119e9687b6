package actors

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Passivation without a timer per actor. An actor used to arm protoactor's
// receive timeout on its first message and reset it on every one: a runtime
// timer per actor, the context extras it lives in, a ReceiveTimeout message
// and a Stop, then a Spawn at the next wake — a third of a cold ping's CPU.
// Instead the registry keeps the awake checks in wake order and the wheel's
// driver sweeps the oldest (Registry.Passivate), and a passivated actor is
// not stopped but kept vacant, to host the next check that wakes.
//
// An actor hosts one check at a time: it is bound to a check when the check
// wakes (deliver) and unbound, under the check's mutex, only when no message
// is on its way to it, so a vacant actor's mailbox is empty and nothing it
// does afterwards touches the check it hosted.

// vacantActors bounds the actors kept for reuse; beyond it, a passivated
// actor is stopped. A sweep frees about a tick's worth of wakes, so a few
// thousand absorb any steady rate, at some 700 bytes each.
const vacantActors = 4096

// sweepMax bounds the checks one sweep looks at, so that passivating after a
// burst does not hold up the wheel's tick; the rest wait for the next ones.
const sweepMax = 16384

type awake struct {
	c *Check
	// since is when c was queued (woken, or found busy by a sweep), in Now's
	// unix nanoseconds.
	since int64
}

// idleQueue is the awake checks, oldest first, and the vacant actors.
type idleQueue struct {
	mu     sync.Mutex
	queue  []awake
	head   int
	vacant []*actor.PID
	// sweepMu makes Passivate one sweep at a time; sweep is its buffer.
	sweepMu sync.Mutex
	sweep   []awake
}

// wake returns an actor for c, whose pid is nil, and queues c for the sweep;
// the caller holds c.mu.
func (r *Registry) wake(c *Check) *actor.PID {
	now := r.o.Now().UnixNano()
	q := &r.idle
	q.mu.Lock()
	var pid *actor.PID
	if n := len(q.vacant); n > 0 {
		pid = q.vacant[n-1]
		q.vacant[n-1] = nil
		q.vacant = q.vacant[:n-1]
	}
	q.queue = append(q.queue, awake{c: c, since: now})
	q.mu.Unlock()
	if pid == nil {
		pid = r.o.System.Root.Spawn(r.props)
		r.spawns.Add(1)
	}
	r.resident.Add(1)
	r.wakes.Add(1)
	return pid
}

// Passivate unbinds the actors of the checks that have had no message for at
// least IdleTimeout before now: a check passivates between IdleTimeout and
// twice that after its last message. The engine calls it on the wheel's
// driver after each tick.
func (r *Registry) Passivate(now time.Time) {
	cutoff := now.Add(-r.o.IdleTimeout).UnixNano()
	q := &r.idle
	q.sweepMu.Lock()
	defer q.sweepMu.Unlock()
	q.mu.Lock()
	due := q.sweep[:0]
	for q.head < len(q.queue) && len(due) < sweepMax && q.queue[q.head].since <= cutoff {
		due = append(due, q.queue[q.head])
		q.queue[q.head] = awake{}
		q.head++
	}
	if q.head == len(q.queue) {
		q.queue, q.head = q.queue[:0], 0
	} else if q.head > len(q.queue)/2 && q.head > 1024 {
		n := copy(q.queue, q.queue[q.head:])
		clear(q.queue[n:])
		q.queue, q.head = q.queue[:n], 0
	}
	q.mu.Unlock()
	if len(due) == 0 {
		q.sweep = due
		return
	}
	// Each entry becomes either a check still awake (kept in due[:kept],
	// queued again from now) or a freed actor.
	kept := 0
	var freed []*actor.PID
	stamp := now.UnixNano()
	for _, e := range due {
		c := e.c
		c.mu.Lock()
		switch {
		case c.pid == nil:
		case c.used || c.inflight.Load() != 0:
			c.used = false
			due[kept] = awake{c: c, since: stamp}
			kept++
		default:
			freed = append(freed, c.pid)
			c.pid = nil
		}
		c.mu.Unlock()
	}
	var stop []*actor.PID
	q.mu.Lock()
	q.queue = append(q.queue, due[:kept]...)
	room := max(vacantActors-len(q.vacant), 0)
	if len(freed) > room {
		stop = freed[room:]
		freed = freed[:room]
	}
	q.vacant = append(q.vacant, freed...)
	q.mu.Unlock()
	clear(due)
	q.sweep = due[:0]
	r.resident.Add(-int64(len(freed) + len(stop)))
	for _, pid := range stop {
		r.o.System.Root.Stop(pid)
	}
}

// Wakes is the number of times a check without an actor was given one: a
// spawn, or a vacant actor reused.
func (r *Registry) Wakes() int64 { return r.wakes.Load() }
