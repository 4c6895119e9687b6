package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/wheel"
)

// ErrNotFound is returned for a check that does not exist, or no longer does; it is
// the store's, so every layer can test for one error.
var ErrNotFound = store.ErrNotFound

// ErrNotPaused is returned by Resume for a check that is not paused.
var ErrNotPaused = errors.New("check is not paused")

// Options configures a Registry. Store, Wheel and System are required.
type Options struct {
	Store  *store.Store
	Wheel  *wheel.Wheel
	System *actor.ActorSystem
	// Now is the clock every state transition is stamped with; default time.Now.
	Now func() time.Time
	// IdleTimeout is how long an actor lives without a message before it
	// passivates (at most twice that; see Passivate); default 30s. Shorter
	// saves memory, longer saves wakes.
	IdleTimeout time.Duration
	// Logger receives errors that have no caller to return to (a failed commit of
	// a deadline transition); default slog.Default().
	Logger *slog.Logger
	// Metrics, if not nil, receives the registry's Prometheus metrics (NewMetrics).
	Metrics *Metrics
	// OnTransition, if not nil, is called by a check's actor after a deadline (a
	// Timer event) changed the check's status: from and to are the statuses,
	// deadline the deadline that was due and at the clock reading the transition
	// was stamped with. It runs on the actor's goroutine, for every check, so it
	// must be fast and safe for concurrent use. For benchmarks (`vigilo bench
	// --scenario deadlines`); nil by default.
	OnTransition func(id uuid.UUID, from, to string, deadline, at time.Time)
	// Alerter, if not nil, turns flips into notifications written in the flip's
	// own batch (package notify).
	Alerter Alerter
}

// Alerter is what a check's actor needs of alerting. Flipped adds the
// notifications for c's flip from → to at at to b, and returns what to run once
// b is durable (nil for nothing); it runs on the actor's goroutine, so it must
// only read memory.
type Alerter interface {
	Flipped(b *store.Batch, c *store.Check, from, to string, at time.Time) (committed func())
}

// WithDefaults fills the zero fields of o with their documented defaults.
func (o Options) WithDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports the first thing wrong with o.
func (o Options) Validate() error {
	switch {
	case o.Store == nil:
		return errors.New("actors: Store is required")
	case o.Wheel == nil:
		return errors.New("actors: Wheel is required")
	case o.System == nil:
		return errors.New("actors: System is required")
	case o.IdleTimeout < 0:
		return fmt.Errorf("actors: IdleTimeout %v is negative", o.IdleTimeout)
	}
	return nil
}

const shardCount = 64

type shard struct {
	mu     sync.RWMutex
	checks map[uuid.UUID]*Check
}

// Registry holds every resident check and delivers events to their actors.
type Registry struct {
	o        Options
	props    *actor.Props
	shards   [shardCount]shard
	count    atomic.Int64
	resident atomic.Int64
	spawns   atomic.Int64
	wakes    atomic.Int64
	idle     idleQueue
	// dispatch runs the actors' mailboxes (see dispatcher).
	dispatch *dispatcher
	// pending counts messages delivered but not yet handled, and commits not yet
	// durable, so Drain knows when every actor is done.
	pending atomic.Int64
	replies sync.Pool // chan Result
	errcs   sync.Pool // chan error
	commits sync.Pool // *commitWait
	// byStatus counts checks by kind (simple, cron) and stored status, kept by
	// whoever changes a record: Load, Create, an actor's step and update, delete.
	byStatus [2][heartbeat.NumStatuses]atomic.Int64
	// perProject counts each project's checks (*atomic.Int64 by project id), so
	// a page of a list knows its total without counting the project.
	perProject sync.Map

	// fired is the deadlines Fire collected for checks without an actor,
	// which FireGroups steps and commits in groups.
	firedMu sync.Mutex
	fired   []firing
	// firedSpare is the previous FireGroups' emptied slice, reused by the
	// next ticks' Fire so that a burst does not regrow one from nil (4% of
	// a 500,000-deadline burst's CPU). Guarded by groupMu.
	firedSpare []firing
	groupMu    sync.Mutex // one FireGroups at a time
	groups     atomic.Int64
}

type firing struct {
	c   *Check
	due time.Time
}

func kindIndex(kind string) int {
	if kind == "cron" {
		return 1
	}
	return 0
}

// recount moves one check from (kind, status) to (kind2, status2); an empty
// kind is no check (before Create, after Delete).
func (r *Registry) recount(kind, status, kind2, status2 string) {
	if kind == kind2 && status == status2 {
		return
	}
	if kind != "" {
		st, _ := heartbeat.ParseStatus(status)
		r.byStatus[kindIndex(kind)][st].Add(-1)
	}
	if kind2 != "" {
		st, _ := heartbeat.ParseStatus(status2)
		r.byStatus[kindIndex(kind2)][st].Add(1)
	}
}

// CountByStatus is the number of checks of kind ("simple" or "cron") whose
// stored status is st.
func (r *Registry) CountByStatus(kind string, st heartbeat.Status) int64 {
	if int(st) >= heartbeat.NumStatuses {
		return 0
	}
	return r.byStatus[kindIndex(kind)][st].Load()
}

// New makes a Registry. It spawns nothing: actors start on their check's first event.
func New(o Options) (*Registry, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r := &Registry{o: o, dispatch: newDispatcher(dispatchWorkers())}
	for i := range r.shards {
		r.shards[i].checks = make(map[uuid.UUID]*Check)
	}
	r.props = actor.PropsFromProducer(func() actor.Actor { return &checkActor{reg: r} },
		actor.WithDispatcher(r.dispatch))
	r.replies.New = func() any { return make(chan Result, 1) }
	r.errcs.New = func() any { return make(chan error, 1) }
	r.commits.New = func() any { return newCommitWait(r) }
	if o.Metrics != nil {
		o.Metrics.reg.Store(r)
	}
	return r, nil
}

func (r *Registry) shard(id uuid.UUID) *shard {
	// uuids are random in their first bytes; the last byte of a v4 is random too.
	return &r.shards[id[15]%shardCount]
}

// Get returns the resident check with id, or nil.
func (r *Registry) Get(id uuid.UUID) *Check {
	s := r.shard(id)
	s.mu.RLock()
	c := s.checks[id]
	s.mu.RUnlock()
	return c
}

// Len is the number of checks.
func (r *Registry) Len() int { return int(r.count.Load()) }

// Resident is the number of running (not passivated) actors.
func (r *Registry) Resident() int { return int(r.resident.Load()) }

// Spawns is the number of actors spawned since start.
func (r *Registry) Spawns() int64 { return r.spawns.Load() }

// Each calls fn for every check, in no particular order.
func (r *Registry) Each(fn func(*Check)) {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.RLock()
		list := make([]*Check, 0, len(s.checks))
		for _, c := range s.checks {
			list = append(list, c)
		}
		s.mu.RUnlock()
		for _, c := range list {
			fn(c)
		}
	}
}

func (r *Registry) add(c *Check) bool {
	s := r.shard(c.rec.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.checks[c.rec.ID]; dup {
		return false
	}
	s.checks[c.rec.ID] = c
	r.count.Add(1)
	r.projectCount(c.rec.ProjectID).Add(1)
	return true
}

func (r *Registry) projectCount(project uuid.UUID) *atomic.Int64 {
	if n, ok := r.perProject.Load(project); ok {
		return n.(*atomic.Int64)
	}
	n, _ := r.perProject.LoadOrStore(project, new(atomic.Int64))
	return n.(*atomic.Int64)
}

// ProjectLen is the number of resident checks of the project.
func (r *Registry) ProjectLen(project uuid.UUID) int {
	if n, ok := r.perProject.Load(project); ok {
		return int(n.(*atomic.Int64).Load())
	}
	return 0
}

func (r *Registry) remove(c *Check) {
	s := r.shard(c.rec.ID)
	s.mu.Lock()
	if s.checks[c.rec.ID] == c {
		delete(s.checks, c.rec.ID)
		r.count.Add(-1)
		r.projectCount(c.rec.ProjectID).Add(-1)
		r.recount(c.rec.Kind, c.rec.Status, "", "")
	}
	s.mu.Unlock()
}

// Load makes a stored check resident and re-arms its deadline, as at start-up. A
// deadline that passed while the server was down fires at the wheel's next tick, so
// the check goes down at once; none fires before its time.
func (r *Registry) Load(rec *store.Check) error {
	spec, err := specOf(rec)
	if err != nil {
		return fmt.Errorf("load check %s: %w", rec.ID, err)
	}
	c := newCheck(rec, spec)
	if !r.add(c) {
		return fmt.Errorf("load check %s: duplicate id", rec.ID)
	}
	r.recount("", "", rec.Kind, rec.Status)
	if !rec.Deadline.IsZero() {
		r.o.Wheel.Schedule(&c.timer, rec.Deadline)
	}
	return nil
}

// Create persists a new check and makes it resident. rec must be complete and valid
// (the API validated it); its runtime state starts as given (normally new).
func (r *Registry) Create(rec *store.Check) (store.Check, error) {
	spec, err := specOf(rec)
	if err != nil {
		return store.Check{}, err
	}
	c := newCheck(rec, spec)
	b := r.o.Store.NewBatch()
	b.PutCheck(nil, &c.rec)
	if err := r.o.Store.Commit(b); err != nil {
		return store.Check{}, fmt.Errorf("create check %s: %w", rec.ID, err)
	}
	if !r.add(c) {
		return store.Check{}, fmt.Errorf("create check %s: duplicate id", rec.ID)
	}
	r.recount("", "", c.rec.Kind, c.rec.Status)
	if !c.rec.Deadline.IsZero() {
		r.o.Wheel.Schedule(&c.timer, c.rec.Deadline)
	}
	return c.rec, nil
}

// afterSpawn, if set (by tests only), runs between an actor's spawn and the
// send of its first message: the window a premature idle timer fell into.
var afterSpawn func()

// inGroup, if set (by tests), runs in fireGroup after each check is stepped,
// before the group's commit is queued.
var inGroup func(c *Check)

// deliver hands msg to c's actor, spawning one if c has none. It reports false for a
// deleted check, whose messages are not sent.
func (r *Registry) deliver(c *Check, msg any) bool {
	c.mu.Lock()
	for c.group != nil {
		g := c.group
		c.mu.Unlock()
		<-g
		c.mu.Lock()
	}
	if c.deleted {
		c.mu.Unlock()
		return false
	}
	spawned := c.pid == nil
	if spawned {
		c.pid = r.wake(c) // queued as of now: that is this message's use
	} else {
		c.used = true
	}
	c.inflight.Add(1)
	r.pending.Add(1)
	pid := c.pid
	c.mu.Unlock()
	if spawned && afterSpawn != nil {
		afterSpawn()
	}
	r.o.System.Root.Send(pid, msg)
	return true
}

func (r *Registry) call(c *Check, build func(done chan Result) any) Result {
	done := r.replies.Get().(chan Result)
	if !r.deliver(c, build(done)) {
		r.replies.Put(done)
		return Result{Err: ErrNotFound}
	}
	res := <-done
	r.replies.Put(done)
	return res
}

// Result is the outcome of an event once it is durable: the check's record after it.
type Result struct {
	Check store.Check
	Err   error
}

// Ping delivers a ping to c and returns once its log entry and the check's new state
// are durable, or why they are not (ErrNotFound for a deleted check).
func (r *Registry) Ping(c *Check, ev heartbeat.Event, p store.Ping) error {
	errc := r.errcs.Get().(chan error)
	if !r.deliver(c, &pingMsg{c: c, ev: ev, ping: p, errc: errc}) {
		r.errcs.Put(errc)
		return ErrNotFound
	}
	err := <-errc
	r.errcs.Put(errc)
	return err
}

// Update applies edit to c's configuration in its actor, re-derives its deadline from
// the new configuration and returns once the change is durable. edit returns an error
// to refuse the change; nothing is written then.
func (r *Registry) Update(c *Check, edit func(*store.Check) error) Result {
	return r.call(c, func(done chan Result) any { return &updateMsg{c: c, edit: edit, done: done} })
}

// Pause pauses c.
func (r *Registry) Pause(c *Check) Result {
	return r.call(c, func(done chan Result) any { return &commandMsg{c: c, ev: heartbeat.Pause, done: done} })
}

// Resume resumes a paused c (to new), or answers ErrNotPaused.
func (r *Registry) Resume(c *Check) Result {
	return r.call(c, func(done chan Result) any { return &commandMsg{c: c, ev: heartbeat.Resume, done: done} })
}

// Delete removes c and everything recorded for it; the result holds its last record.
func (r *Registry) Delete(c *Check) Result {
	return r.call(c, func(done chan Result) any { return &deleteMsg{c: c, done: done} })
}

// Snapshot returns c's record as its actor sees it now (possibly ahead of the store
// by a commit in flight).
func (r *Registry) Snapshot(c *Check) Result {
	return r.call(c, func(done chan Result) any { return &snapshotMsg{c: c, done: done} })
}

// Fire is the wheel's callback: c's deadline is due. A check with an actor
// gets the deadline as a message; one without is kept for FireGroups, which the
// wheel's driver calls after the Advance, so that a burst of deadlines does not
// cost a spawn, a receive timer and a commit each.
func (r *Registry) Fire(t *wheel.Timer, due time.Time) {
	c, ok := t.Owner.(*Check)
	if !ok {
		return
	}
	c.mu.Lock()
	awake := c.pid != nil || c.deleted || c.group != nil
	c.mu.Unlock()
	if awake {
		r.deliver(c, &timerMsg{c: c, due: due})
		return
	}
	r.firedMu.Lock()
	r.fired = append(r.fired, firing{c: c, due: due})
	r.firedMu.Unlock()
}

// GroupSize is how many checks' deadline transitions share one batch.
const GroupSize = 512

// FireGroups steps the checks whose deadlines Fire kept, in groups of
// GroupSize: each check's transition is computed as its actor would (the same
// step, under the check's lock, as the code that spawns an actor touches a
// check without one), the group's records, flips, incidents and notifications
// go in one batch, and the notifications are released once it is durable. A
// check that got an actor meanwhile gets its deadline as a message instead.
// Until a group's batch is queued its checks spawn no actor (Check.group), so
// a later ping's commit cannot overtake the transition. Call it on the
// wheel's driver, after each Advance.
func (r *Registry) FireGroups() {
	r.groupMu.Lock()
	defer r.groupMu.Unlock()
	r.firedMu.Lock()
	all := r.fired
	r.fired = r.firedSpare
	r.firedMu.Unlock()
	for fired := all; len(fired) > 0; {
		n := min(len(fired), GroupSize)
		r.fireGroup(fired[:n])
		clear(fired[:n])
		fired = fired[n:]
	}
	r.firedSpare = nil
	if cap(all) <= maxFiredSpare {
		r.firedSpare = all[:0]
	}
}

// maxFiredSpare bounds the deadline slice kept between ticks (16 B each).
const maxFiredSpare = 1 << 20

func (r *Registry) fireGroup(fired []firing) {
	b := r.o.Store.NewBatch()
	queued := make(chan struct{})
	var committed []func()
	claimed := make([]*Check, 0, len(fired))
	for _, f := range fired {
		c := f.c
		c.mu.Lock()
		if c.pid != nil || c.deleted || (c.group != nil && c.group != queued) {
			c.mu.Unlock()
			r.deliver(c, &timerMsg{c: c, due: f.due})
			continue
		}
		again := c.group == queued // fired twice before a FireGroups: this group hosts it already
		c.group = queued
		a := checkActor{reg: r, c: c}
		a.timer(b, f.due)
		c.mu.Unlock()
		if !again {
			claimed = append(claimed, c)
		}
		if inGroup != nil {
			inGroup(c)
		}
		if a.committed != nil {
			committed = append(committed, a.committed)
		}
	}
	r.pending.Add(1)
	r.groups.Add(1)
	r.o.Store.CommitAsync(b, func(err error) {
		defer r.pending.Add(-1)
		if err != nil {
			r.o.Logger.Error("deadline transitions not persisted", "checks", len(claimed), "err", err)
			return
		}
		for _, fn := range committed {
			fn()
		}
	})
	for _, c := range claimed {
		c.mu.Lock()
		c.group = nil
		c.mu.Unlock()
	}
	close(queued)
}

// Groups is how many deadline groups FireGroups has committed.
func (r *Registry) Groups() int64 { return r.groups.Load() }

// Drain waits until every delivered message is handled and every commit is durable,
// or timeout passes; it reports whether all work finished, and then stops the
// mailbox workers (later messages get goroutines of their own). Call it after
// the inputs (HTTP, the wheel's driver) have stopped.
func (r *Registry) Drain(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for r.pending.Load() > 0 {
		if time.Now().After(deadline) {
			r.dispatch.quitIdle() // a stuck handler keeps its worker
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.dispatch.stop()
	return true
}
