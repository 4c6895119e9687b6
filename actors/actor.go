package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
)

// Every message names its check, so one Props serves all actors and an actor learns
// which check it hosts from its first message.
type (
	pingMsg struct {
		c    *Check
		ev   heartbeat.Event
		ping store.Ping
		done chan Result
	}
	timerMsg struct {
		c   *Check
		due time.Time
	}
	updateMsg struct {
		c    *Check
		edit func(*store.Check) error
		done chan Result
	}
	commandMsg struct {
		c    *Check
		ev   heartbeat.EventKind
		done chan Result
	}
	deleteMsg struct {
		c    *Check
		done chan Result
	}
	snapshotMsg struct {
		c    *Check
		done chan Result
	}
)

type checkActor struct {
	reg *Registry
	c   *Check
	// committed is what the batch being built must run once durable (the
	// notifications of a flip); commit takes it.
	committed func()
}

func (a *checkActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.ReceiveTimeout:
		a.passivate(ctx)
	case *pingMsg:
		a.handled(ctx, m.c, func() { a.onPing(m) })
	case *timerMsg:
		a.handled(ctx, m.c, func() { a.onTimer(m) })
	case *updateMsg:
		a.handled(ctx, m.c, func() { a.onUpdate(m) })
	case *commandMsg:
		a.handled(ctx, m.c, func() { a.onCommand(m) })
	case *deleteMsg:
		a.handled(ctx, m.c, func() { a.onDelete(m) })
	case *snapshotMsg:
		// Through the committer, so the answer comes after every earlier commit
		// of this check is durable: a snapshot is also a barrier.
		a.handled(ctx, m.c, func() { a.commit(a.reg.o.Store.NewBatch(), m.done) })
	}
}

// handled runs one delivered message and then counts it as no longer in flight.
// The idle timer is armed by the first message, not at Started: armed at
// Started, it could fire between the spawn and the first send (a short
// IdleTimeout under load) and stop an actor its check still pointed at, whose
// messages then went nowhere.
func (a *checkActor) handled(ctx actor.Context, c *Check, handle func()) {
	if a.c == nil {
		ctx.SetReceiveTimeout(a.reg.o.IdleTimeout)
	}
	a.c = c
	handle()
	c.inflight.Add(-1)
	a.reg.pending.Add(-1)
}

// passivate stops the actor if no message is on its way to it; see the package doc.
func (a *checkActor) passivate(ctx actor.Context) {
	c := a.c
	if c == nil { // the timer is armed by the first message: cannot happen
		return
	}
	c.mu.Lock()
	if c.inflight.Load() != 0 {
		c.mu.Unlock()
		ctx.SetReceiveTimeout(a.reg.o.IdleTimeout)
		return
	}
	c.pid = nil
	c.mu.Unlock()
	ctx.Stop(ctx.Self())
	a.reg.resident.Add(-1)
}

// step runs the state machine and writes what it decided into b.
func (a *checkActor) step(b *store.Batch, ev heartbeat.Event, now time.Time, ping *store.Ping) heartbeat.Effects {
	c := a.c
	st, eff := heartbeat.Apply(c.spec, StateOf(&c.rec), ev, now)
	if !eff.Changed && !eff.LogPing && eff.Flip == nil {
		a.arm(eff.Arm)
		return eff
	}
	from := c.rec.Status
	setState(&c.rec, st)
	a.reg.recount(c.rec.Kind, from, c.rec.Kind, c.rec.Status)
	b.PutCheck(&c.rec, &c.rec)
	if eff.LogPing && ping != nil {
		ping.N = eff.N
		ping.Kind = eff.PingKind
		ping.Time = now
		ping.Duration = eff.Duration
		b.AppendPing(c.rec.ID, ping)
		if m := a.reg.o.Metrics; m != nil {
			m.ping(eff.PingKind)
		}
	}
	if eff.Flip != nil {
		b.AddFlip(c.rec.ID, store.Flip{Time: eff.Flip.At, From: eff.Flip.From.String(), To: eff.Flip.To.String()})
		if m := a.reg.o.Metrics; m != nil {
			m.flip(eff.Flip.To.String())
		}
		if al := a.reg.o.Alerter; al != nil {
			a.committed = al.Flipped(b, &c.rec, eff.Flip.From.String(), eff.Flip.To.String(), eff.Flip.At)
		}
		a.incident(b, eff.Flip)
	}
	a.arm(eff.Arm)
	return eff
}

func (a *checkActor) arm(at time.Time) {
	if at.IsZero() {
		a.reg.o.Wheel.Cancel(&a.c.timer)
		return
	}
	a.reg.o.Wheel.Schedule(&a.c.timer, at)
}

// commit makes b durable without holding up the actor: the reply goes out from the
// store's committer once the batch is synced. Batches complete in order, so even an
// empty one answers only after this check's earlier writes are durable.
func (a *checkActor) commit(b *store.Batch, done chan Result) {
	snap := a.c.rec
	committed := a.committed
	a.committed = nil
	a.reg.pending.Add(1)
	var start time.Time
	if a.reg.o.Metrics != nil {
		start = time.Now()
	}
	a.reg.o.Store.CommitAsync(b, func(err error) {
		defer a.reg.pending.Add(-1)
		if m := a.reg.o.Metrics; m != nil {
			m.commit.Observe(time.Since(start).Seconds())
		}
		if err != nil {
			err = fmt.Errorf("commit check %s: %w", snap.ID, err)
			if done == nil {
				a.reg.o.Logger.Error("deadline transition not persisted", "check", snap.ID, "err", err)
			}
		} else if committed != nil {
			committed()
		}
		if done != nil {
			done <- Result{Check: snap, Err: err}
		}
	})
}

func (a *checkActor) onPing(m *pingMsg) {
	b := a.reg.o.Store.NewBatch()
	ev := m.ev
	if ev.Method == "" {
		ev.Method = m.ping.Method
	}
	a.step(b, ev, a.reg.o.Now(), &m.ping)
	a.commit(b, m.done)
}

func (a *checkActor) onTimer(m *timerMsg) {
	b := a.reg.o.Store.NewBatch()
	a.timer(b, m.due)
	a.commit(b, nil)
}

// timer steps the check on its deadline, due, into b: in its actor, or for a
// check with none in a group of the same tick (Registry.FireGroups).
func (a *checkActor) timer(b *store.Batch, due time.Time) {
	now := a.reg.o.Now()
	if mt := a.reg.o.Metrics; mt != nil {
		mt.lateness.Observe(max(now.Sub(due), 0).Seconds())
	}
	from, deadline := a.c.rec.Status, a.c.rec.Deadline
	a.step(b, heartbeat.Event{Kind: heartbeat.Timer}, now, nil)
	if fn := a.reg.o.OnTransition; fn != nil && a.c.rec.Status != from {
		fn(a.c.rec.ID, from, a.c.rec.Status, deadline, now)
	}
}

func (a *checkActor) onCommand(m *commandMsg) {
	c := a.c
	if m.ev == heartbeat.Resume && c.rec.Status != heartbeat.Paused.String() {
		m.done <- Result{Check: c.rec, Err: ErrNotPaused}
		return
	}
	b := a.reg.o.Store.NewBatch()
	a.step(b, heartbeat.Event{Kind: m.ev}, a.reg.o.Now(), nil)
	a.commit(b, m.done)
}

func (a *checkActor) onUpdate(m *updateMsg) {
	c := a.c
	old := c.rec
	next := c.rec
	if err := m.edit(&next); err != nil {
		m.done <- Result{Check: old, Err: err}
		return
	}
	spec, err := specOf(&next)
	if err != nil {
		m.done <- Result{Check: old, Err: err}
		return
	}
	c.rec, c.spec = next, spec
	a.reg.recount(old.Kind, old.Status, next.Kind, next.Status)
	b := a.reg.o.Store.NewBatch()
	b.PutCheck(&old, &c.rec)
	// Reconfigure re-derives the deadline from the new period; its own PutCheck
	// overwrites the one above in the same batch.
	a.step(b, heartbeat.Event{Kind: heartbeat.Reconfigure}, a.reg.o.Now(), nil)
	a.commit(b, m.done)
}

func (a *checkActor) onDelete(m *deleteMsg) {
	c := a.c
	a.reg.o.Wheel.Cancel(&c.timer)
	if err := a.reg.o.Store.DeleteCheck(&c.rec); err != nil {
		// Still resident and armed as before: nothing half-done is visible.
		if !c.rec.Deadline.IsZero() {
			a.reg.o.Wheel.Schedule(&c.timer, c.rec.Deadline)
		}
		m.done <- Result{Check: c.rec, Err: fmt.Errorf("delete check %s: %w", c.rec.ID, err)}
		return
	}
	c.mu.Lock()
	c.deleted = true
	c.mu.Unlock()
	a.reg.remove(c)
	m.done <- Result{Check: c.rec}
}

// incident keeps the check's incidents in the record monitors use, so SLA is
// computed the same way for both: a flip to down opens one, the flip back up
// resolves the open one.
func (a *checkActor) incident(b *store.Batch, f *heartbeat.Flip) {
	id := a.c.rec.ID
	switch {
	case f.To == heartbeat.Down:
		b.PutIncident(id, &store.Incident{Start: f.At, Cause: "no ping in time"})
		a.c.openIncident = f.At
	case f.To == heartbeat.Up && f.From == heartbeat.Down:
		open := store.Incident{Start: a.c.openIncident, Cause: "no ping in time"}
		if open.Start.IsZero() {
			// Opened before this actor was spawned, so long durable: read it
			// back (a recovery is rare enough to afford it).
			ins, err := a.reg.o.Store.Incidents(id)
			if err != nil || len(ins) == 0 || !ins[len(ins)-1].End.IsZero() {
				return
			}
			open = ins[len(ins)-1]
		}
		open.End = f.At
		b.PutIncident(id, &open)
		a.c.openIncident = time.Time{}
	}
}
