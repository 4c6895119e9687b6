package notify

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/notify/channel"
)

// Outbox owns the projects' channels and every notification not yet delivered.
type Outbox struct {
	o Options

	mu       sync.Mutex
	channels map[uuid.UUID]*chanState   // by channel id
	byProj   map[uuid.UUID][]*chanState // by project, in creation order
	lanes    map[laneKey]*lane
	due      laneHeap // lanes whose head waits for its next attempt
	pending  int      // notifications queued, in flight or waiting

	wake   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the scheduler and every delivery goroutine
	closed bool
}

type chanState struct {
	rec      store.Channel
	cfg      channel.Config
	deleted  bool
	inflight int
	ready    []*lane // lanes whose head may be sent now, waiting for a slot
}

type laneKey struct{ channel, check uuid.UUID }

// lane is the ordered queue of one check's notifications through one channel.
// While running, its head belongs to the goroutine delivering it.
type lane struct {
	key     laneKey
	ch      *chanState
	items   []*store.Notification
	next    time.Time // when the head may be tried (again)
	tries   int       // failed attempts of the head so far
	running bool
	queued  bool // in ch.ready
	// forgotten: the check was deleted; the lane drains without sending.
	forgotten bool
	heapIdx   int // index in Outbox.due, -1 when not in it
}

// New makes an Outbox; Start loads it and starts delivering.
func New(o Options) (*Outbox, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	x := &Outbox{
		o:        o,
		channels: make(map[uuid.UUID]*chanState),
		byProj:   make(map[uuid.UUID][]*chanState),
		lanes:    make(map[laneKey]*lane),
		wake:     make(chan struct{}, 1),
	}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	if o.Metrics != nil {
		o.Metrics.outbox.Store(x)
	}
	return x, nil
}

// Start loads the channels and the outbox from the store and starts the
// scheduler: notifications left undelivered by a crash are sent again, in the
// order they were made.
func (x *Outbox) Start() error {
	chans, err := x.o.Store.AllChannels()
	if err != nil {
		return fmt.Errorf("load channels: %w", err)
	}
	x.mu.Lock()
	for _, rec := range chans {
		cfg, err := channel.Parse(rec.Kind, rec.Config)
		if err != nil {
			// Stored configs were valid when written; one that no longer parses
			// (a newer version's kind) is kept and fails its deliveries visibly.
			x.o.Logger.Error("channel config does not parse", "channel", rec.ID, "err", err)
		}
		x.addChannelLocked(rec, cfg)
	}
	x.mu.Unlock()

	var drop []uuid.UUID
	var queue []*store.Notification
	err = x.o.Store.Outbox(func(id uuid.UUID, n *store.Notification) error {
		if n == nil || n.State != store.NotifyPending {
			drop = append(drop, id)
			return nil
		}
		queue = append(queue, n)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load outbox: %w", err)
	}
	if len(drop) > 0 {
		b := x.o.Store.NewBatch()
		for _, id := range drop {
			b.DropOutbox(id)
		}
		if err := x.o.Store.Commit(b); err != nil {
			return fmt.Errorf("drop stale outbox entries: %w", err)
		}
	}
	x.enqueue(queue)
	x.wg.Add(1)
	go x.schedule()
	return nil
}

// Close stops delivering, waits for attempts in flight to end (their context is
// cancelled, so that is quick) and for their records to be written. What is
// still pending stays in the store's outbox for the next start.
func (x *Outbox) Close() {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return
	}
	x.closed = true
	x.mu.Unlock()
	x.cancel()
	x.wg.Wait()
}

// Pending is the number of notifications not yet delivered or given up.
func (x *Outbox) Pending() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.pending
}

// ---- channels ----

func (x *Outbox) addChannelLocked(rec store.Channel, cfg channel.Config) {
	cs := &chanState{rec: rec, cfg: cfg}
	if old := x.channels[rec.ID]; old != nil {
		// An update keeps the lanes and slots of the channel; only what it is changes.
		old.rec, old.cfg = rec, cfg
		return
	}
	x.channels[rec.ID] = cs
	x.byProj[rec.ProjectID] = append(x.byProj[rec.ProjectID], cs)
}

// ConfigError is a channel configuration the kind refuses; its message is for
// the API's caller.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// SaveChannel validates and stores a new or changed channel.
func (x *Outbox) SaveChannel(rec store.Channel) (store.Channel, error) {
	cfg, err := channel.Parse(rec.Kind, rec.Config)
	if err != nil {
		return store.Channel{}, &ConfigError{err}
	}
	b := x.o.Store.NewBatch()
	b.PutChannel(&rec)
	if err := x.o.Store.Commit(b); err != nil {
		return store.Channel{}, fmt.Errorf("save channel %s: %w", rec.ID, err)
	}
	x.mu.Lock()
	x.addChannelLocked(rec, cfg)
	x.mu.Unlock()
	return rec, nil
}

// DeleteChannel removes a channel; its undelivered notifications fail.
func (x *Outbox) DeleteChannel(project, id uuid.UUID) error {
	x.mu.Lock()
	cs := x.channels[id]
	x.mu.Unlock()
	if cs == nil || cs.rec.ProjectID != project {
		return store.ErrNotFound
	}
	b := x.o.Store.NewBatch()
	b.DeleteChannel(project, id)
	if err := x.o.Store.Commit(b); err != nil {
		return fmt.Errorf("delete channel %s: %w", id, err)
	}
	x.mu.Lock()
	x.dropChannelLocked(cs)
	x.mu.Unlock()
	return nil
}

func (x *Outbox) dropChannelLocked(cs *chanState) {
	cs.deleted = true
	delete(x.channels, cs.rec.ID)
	list := x.byProj[cs.rec.ProjectID]
	for i, c := range list {
		if c == cs {
			x.byProj[cs.rec.ProjectID] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	// Its lanes run on without sending: each head fails as "channel deleted".
	for _, l := range x.lanes {
		if l.ch == cs && !l.running {
			x.readyLocked(l)
		}
	}
}

// ForgetProject drops a deleted project's channels from memory (the store
// deletes them with the project).
func (x *Outbox) ForgetProject(project uuid.UUID) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, cs := range append([]*chanState(nil), x.byProj[project]...) {
		x.dropChannelLocked(cs)
	}
	delete(x.byProj, project)
}

// Channels returns the project's channels, oldest first.
func (x *Outbox) Channels(project uuid.UUID) []store.Channel {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]store.Channel, 0, len(x.byProj[project]))
	for _, cs := range x.byProj[project] {
		out = append(out, cs.rec)
	}
	return out
}

// Channel returns one of the project's channels.
func (x *Outbox) Channel(project, id uuid.UUID) (store.Channel, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	cs := x.channels[id]
	if cs == nil || cs.rec.ProjectID != project {
		return store.Channel{}, false
	}
	return cs.rec, true
}

// Test sends a test notification through a channel now, outside the outbox, and
// returns the attempt.
func (x *Outbox) Test(ctx context.Context, project, id uuid.UUID) (store.Attempt, error) {
	x.mu.Lock()
	cs := x.channels[id]
	var kind string
	var cfg channel.Config
	if cs != nil {
		kind, cfg = cs.rec.Kind, cs.cfg
	}
	x.mu.Unlock()
	if cs == nil || cs.rec.ProjectID != project {
		return store.Attempt{}, store.ErrNotFound
	}
	nid, err := uuid.NewV7()
	if err != nil {
		return store.Attempt{}, fmt.Errorf("test notification id: %w", err)
	}
	now := x.o.Now()
	n := &store.Notification{ID: nid, Event: "test", Created: now, FlipAt: now,
		Check: store.NotifiedCheck{Name: "vigilo test notification", Status: "down"}}
	a, _ := x.attempt(ctx, kind, cfg, n)
	return a, nil
}

// ---- planning: flips into notifications ----

// Flipped adds to b the notifications for check c's flip from → to at at, and
// returns a function to call once b is durable (nil if there are none). It
// runs on the check's actor, so it only reads memory.
func (x *Outbox) Flipped(b *store.Batch, c *store.Check, from, to string, at time.Time) func() {
	event := ""
	switch {
	case to == "down":
		event = "down"
	case to == "up" && from == "down":
		event = "up"
	default:
		return nil // new → up, paused → up: nothing was reported down
	}
	x.mu.Lock()
	targets := x.recipientsLocked(c)
	x.mu.Unlock()
	if len(targets) == 0 {
		return nil
	}
	now := x.o.Now()
	snap := store.NotifiedCheck{Name: c.Name, Slug: c.Slug, Desc: c.Desc, Tags: c.Tags,
		Status: c.Status, LastPing: c.LastPing}
	if d := c.Dialect; d != nil {
		snap.AlertMessage, snap.AlertTags, snap.AlertPriority = d.AlertMessage, d.AlertTags, d.AlertPriority
	}
	made := make([]*store.Notification, 0, len(targets))
	for _, ch := range targets {
		id, err := uuid.NewV7()
		if err != nil {
			x.o.Logger.Error("notification id", "check", c.ID, "err", err)
			continue
		}
		n := &store.Notification{ID: id, CheckID: c.ID, ProjectID: c.ProjectID, ChannelID: ch,
			Event: event, Created: now, FlipAt: at, State: store.NotifyPending, Check: snap}
		b.PutNotification(n)
		made = append(made, n)
	}
	if m := x.o.Metrics; m != nil {
		m.created.Add(float64(len(made)))
	}
	return func() { x.enqueue(made) }
}

// recipientsLocked is the ids of the channels c notifies: those assigned to it
// (Healthchecks' channels field), every opsgenie channel of the project for a
// heartbeat created through the Opsgenie API (Opsgenie opens an alert when a
// heartbeat expires), and every email channel for one created through Better
// Uptime's whose email flag is on (on by default, as there).
func (x *Outbox) recipientsLocked(c *store.Check) []uuid.UUID {
	var out []uuid.UUID
	seen := func(id uuid.UUID) bool {
		for _, o := range out {
			if o == id {
				return true
			}
		}
		return false
	}
	for _, s := range strings.Split(c.Channels, ",") {
		id, err := uuid.Parse(strings.TrimSpace(s))
		if err != nil {
			continue
		}
		if cs := x.channels[id]; cs != nil && cs.rec.ProjectID == c.ProjectID && !seen(id) {
			out = append(out, id)
		}
	}
	d := c.Dialect
	var kind string
	switch {
	case d == nil:
		return out
	case d.Origin == "opsgenie":
		kind = "opsgenie"
	case d.Origin == "betteruptime" && (d.Email == nil || *d.Email):
		kind = "email"
	default:
		return out
	}
	for _, cs := range x.byProj[c.ProjectID] {
		if cs.rec.Kind == kind && !seen(cs.rec.ID) {
			out = append(out, cs.rec.ID)
		}
	}
	return out
}

// Forget is called when a check is deleted: its queued notifications are
// dropped from the outbox unsent (its log is gone with it).
func (x *Outbox) Forget(check uuid.UUID) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, l := range x.lanes {
		if k.check == check {
			l.forgotten = true
			if !l.running {
				x.readyLocked(l)
			}
		}
	}
}

// ---- delivery ----

func (x *Outbox) enqueue(ns []*store.Notification) {
	if len(ns) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, n := range ns {
		k := laneKey{n.ChannelID, n.CheckID}
		l := x.lanes[k]
		if l == nil {
			cs := x.channels[n.ChannelID]
			if cs == nil {
				// Deleted since: a stand-in that fails its notifications.
				cs = &chanState{rec: store.Channel{ID: n.ChannelID, ProjectID: n.ProjectID}, deleted: true}
			}
			l = &lane{key: k, ch: cs, heapIdx: -1}
			x.lanes[k] = l
		}
		l.items = append(l.items, n)
		x.pending++
		if len(l.items) == 1 && !l.running {
			x.readyLocked(l)
		}
	}
}

// readyLocked queues l for a slot on its channel and starts what fits.
func (x *Outbox) readyLocked(l *lane) {
	if l.heapIdx >= 0 {
		heap.Remove(&x.due, l.heapIdx)
	}
	if !l.queued {
		l.queued = true
		l.ch.ready = append(l.ch.ready, l)
	}
	x.pumpLocked(l.ch)
}

// pumpLocked starts deliveries on cs while it has ready lanes and free slots.
// A deleted channel sends nothing, so it needs no slot limit.
func (x *Outbox) pumpLocked(cs *chanState) {
	for len(cs.ready) > 0 && (cs.inflight < x.o.PerChannel || cs.deleted) && !x.closed {
		l := cs.ready[0]
		cs.ready = cs.ready[1:]
		l.queued = false
		if len(l.items) == 0 || l.running {
			continue
		}
		l.running = true
		cs.inflight++
		x.wg.Add(1)
		go x.deliver(l, l.items[0])
	}
}

// deliver makes one attempt at l's head n and records it.
func (x *Outbox) deliver(l *lane, n *store.Notification) {
	defer x.wg.Done()
	x.mu.Lock()
	cs, forgotten, deleted, cfg := l.ch, l.forgotten, l.ch.deleted, l.ch.cfg
	kind := cs.rec.Kind
	x.mu.Unlock()

	var a store.Attempt
	permanent := false
	switch {
	case forgotten:
	case deleted:
		a = store.Attempt{At: x.o.Now(), Error: "channel deleted"}
	default:
		ctx, cancel := context.WithTimeout(x.ctx, x.o.Timeout)
		if f := x.o.Fence; f != nil {
			if err := f(ctx); err != nil {
				cancel()
				if m := x.o.Metrics; m != nil {
					m.result(kind, "fenced")
				}
				if x.ctx.Err() != nil {
					x.finish(l, false, time.Time{})
				} else {
					x.finish(l, false, x.o.Now())
				}
				return
			}
		}
		a, permanent = x.attempt(ctx, kind, cfg, n)
		cancel()
		if x.ctx.Err() != nil {
			// Interrupted by Close: not an attempt of the receiver's; it stays
			// pending, as stored, for the next start.
			x.finish(l, false, time.Time{})
			return
		}
	}

	now := x.o.Now()
	b := x.o.Store.NewBatch()
	done := true
	result := "delivered"
	switch {
	case forgotten:
		b.DropOutbox(n.ID)
		result = "dropped"
	default:
		n.AddAttempt(a)
		switch {
		case a.Error == "":
			n.State = store.NotifyDelivered
		case deleted || permanent || now.Sub(n.Created) >= x.o.MaxAge:
			n.State, result = store.NotifyFailed, "failed"
		default:
			done, result = false, "retry"
		}
		b.PutNotification(n)
	}
	if m := x.o.Metrics; m != nil {
		m.result(kind, result)
	}
	x.o.Store.CommitAsync(b, func(err error) {
		if err != nil {
			x.o.Logger.Error("notification attempt not recorded", "notification", n.ID, "err", err)
		}
	})
	x.finish(l, done, now)
}

// attempt sends n through a channel of kind with cfg once, and says how it
// went and whether retrying could help.
func (x *Outbox) attempt(ctx context.Context, kind string, cfg channel.Config, n *store.Notification) (store.Attempt, bool) {
	start := x.o.Now()
	a := store.Attempt{At: start}
	if cfg == nil {
		a.Error = "channel configuration does not parse"
		return a, true
	}
	status, err := channel.Send(ctx, x.o.Env, cfg, message(n))
	a.Latency = x.o.Now().Sub(start)
	a.Status = status
	if err != nil {
		a.Error = err.Error()
	}
	if m := x.o.Metrics; m != nil {
		m.latency.WithLabelValues(kind).Observe(a.Latency.Seconds())
	}
	return a, errors.Is(err, channel.ErrPermanent)
}

// finish ends l's running attempt: pop the head if it is done, else schedule
// its retry, then give the slot to the next ready lane.
func (x *Outbox) finish(l *lane, done bool, now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	l.running = false
	l.ch.inflight--
	switch {
	case done:
		l.items[0] = nil
		l.items = l.items[1:]
		l.tries = 0
		x.pending--
		if len(l.items) == 0 {
			delete(x.lanes, l.key)
		} else {
			x.readyLocked(l)
		}
	case !now.IsZero():
		l.tries++
		l.next = now.Add(x.backoff(l.tries))
		heap.Push(&x.due, l)
		x.poke()
	}
	x.pumpLocked(l.ch)
}

// backoff is the wait before retry number tries (1 = the first retry):
// full jitter over an exponentially growing cap, so many lanes failing at once
// do not retry in step.
func (x *Outbox) backoff(tries int) time.Duration {
	ceil := x.o.FirstBackoff
	for i := 1; i < tries && ceil < x.o.MaxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, x.o.MaxBackoff)
	if ceil <= 0 {
		return 0
	}
	return ceil/2 + rand.N(ceil/2+1)
}

func (x *Outbox) poke() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// schedule moves lanes whose retry time has come to their channel's ready
// queue. It owns no other work, so it never waits on a receiver.
func (x *Outbox) schedule() {
	defer x.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		x.mu.Lock()
		now := x.o.Now()
		for len(x.due) > 0 && !x.due[0].next.After(now) {
			l := heap.Pop(&x.due).(*lane)
			x.readyLocked(l)
		}
		wait := time.Hour
		if len(x.due) > 0 {
			wait = x.due[0].next.Sub(now)
		}
		x.mu.Unlock()
		timer.Reset(wait)
		select {
		case <-x.ctx.Done():
			return
		case <-x.wake:
		case <-timer.C:
		}
	}
}

func message(n *store.Notification) channel.Message {
	return channel.Message{
		ID:     n.ID.String(),
		Event:  n.Event,
		FlipAt: n.FlipAt,
		Check: channel.Check{
			UUID:          n.CheckID.String(),
			Name:          n.Check.Name,
			Slug:          n.Check.Slug,
			Desc:          n.Check.Desc,
			Status:        n.Check.Status,
			Tags:          strings.Fields(n.Check.Tags),
			LastPing:      n.Check.LastPing,
			AlertMessage:  n.Check.AlertMessage,
			AlertTags:     n.Check.AlertTags,
			AlertPriority: n.Check.AlertPriority,
		},
	}
}

// laneHeap orders lanes by their next attempt time.
type laneHeap []*lane

func (h laneHeap) Len() int           { return len(h) }
func (h laneHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h laneHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *laneHeap) Push(v any) {
	l := v.(*lane)
	l.heapIdx = len(*h)
	*h = append(*h, l)
}
func (h *laneHeap) Pop() any {
	old := *h
	l := old[len(old)-1]
	old[len(old)-1] = nil
	l.heapIdx = -1
	*h = old[:len(old)-1]
	return l
}
