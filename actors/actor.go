package actors

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
)

// Every message names its check, so one Props serves all actors and an actor learns
// which check it hosts from its first message.
type (
	// A ping's caller needs only whether it is durable, not the record.
	pingMsg struct {
		c    *Check
		ev   heartbeat.Event
		ping store.Ping
		errc chan error
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
	case *pingMsg:
		a.handled(m.c, func() { a.onPing(m) })
	case *timerMsg:
		a.handled(m.c, func() { a.onTimer(m) })
	case *updateMsg:
		a.handled(m.c, func() { a.onUpdate(m) })
	case *commandMsg:
		a.handled(m.c, func() { a.onCommand(m) })
	case *deleteMsg:
		a.handled(m.c, func() { a.onDelete(m) })
	case *snapshotMsg:
		// Through the committer, so the answer comes after every earlier commit
		// of this check is durable: a snapshot is also a barrier.
		a.handled(m.c, func() { a.commit(a.reg.o.Store.NewBatch(), m.done, nil) })
	}
}

// handled runs one delivered message and then counts it as no longer in flight.
// The actor hosts the check the message names: a vacant actor reused for
// another check (see idle.go) learns it here.
func (a *checkActor) handled(c *Check, handle func()) {
	a.c = c
	handle()
	c.inflight.Add(-1)
	a.reg.pending.Add(-1)
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
	if eff.LogPing && ping != nil {
		ping.N = eff.N
		ping.Kind = eff.PingKind
		ping.Time = now
		ping.Duration = eff.Duration
		b.AppendPing(&c.rec, ping) // before PutCheck: it updates the record
		if m := a.reg.o.Metrics; m != nil {
			m.ping(eff.PingKind)
		}
	}
	b.PutCheck(&c.rec, &c.rec)
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
// store's committer once the batch is synced, to done with the record as it is
// now, or to errc with the error only (a ping's). Batches complete in order, so
// even an empty one answers only after this check's earlier writes are durable.
func (a *checkActor) commit(b *store.Batch, done chan Result, errc chan error) {
	w := a.reg.commits.Get().(*commitWait)
	w.id, w.committed, w.done, w.errc = a.c.rec.ID, a.committed, done, errc
	if done != nil {
		w.snap = a.c.rec
	}
	a.committed = nil
	a.reg.pending.Add(1)
	if a.reg.o.Metrics != nil {
		w.start = time.Now()
	}
	a.reg.o.Store.CommitAsync(b, w.finish)
}

// commitWait is what a check's commit does once durable; pooled, with its
// finish bound once, so that a commit allocates no closure.
type commitWait struct {
	reg       *Registry
	id        uuid.UUID
	committed func()
	start     time.Time
	done      chan Result
	errc      chan error
	snap      store.Check
	finish    func(error)
}

func newCommitWait(r *Registry) *commitWait {
	w := &commitWait{reg: r}
	w.finish = w.complete
	return w
}

func (w *commitWait) complete(err error) {
	r := w.reg
	defer r.pending.Add(-1)
	if m := r.o.Metrics; m != nil {
		m.commit.Observe(time.Since(w.start).Seconds())
	}
	if err != nil {
		err = fmt.Errorf("commit check %s: %w", w.id, err)
		if w.done == nil && w.errc == nil {
			r.o.Logger.Error("deadline transition not persisted", "check", w.id, "err", err)
		}
	} else if w.committed != nil {
		w.committed()
	}
	switch {
	case w.done != nil:
		w.done <- Result{Check: w.snap, Err: err}
	case w.errc != nil:
		w.errc <- err
	}
	*w = commitWait{reg: r, finish: w.finish}
	r.commits.Put(w)
}

func (a *checkActor) onPing(m *pingMsg) {
	b := a.reg.o.Store.NewBatch()
	ev := m.ev
	if ev.Method == "" {
		ev.Method = m.ping.Method
	}
	a.step(b, ev, a.reg.o.Now(), &m.ping)
	a.commit(b, nil, m.errc)
}

func (a *checkActor) onTimer(m *timerMsg) {
	b := a.reg.o.Store.NewBatch()
	a.timer(b, m.due)
	a.commit(b, nil, nil)
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
	a.commit(b, m.done, nil)
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
	a.commit(b, m.done, nil)
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
