package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/monitor"
	"github.com/vigilo/vigilo/actors/probe"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/wheel"
)

// Active monitors: each is its own actor, armed on the wheel at its next wake,
// hosting the pure state machine of package monitor. Unlike a check's, a
// monitor's actor does not passivate: it wakes every check_frequency anyway.
// Probes run off the actor, on MonitorOptions.Workers long-lived workers, so
// a slow target never holds the wheel, the actor or another monitor; a
// monitor has at most one probe in flight.

// MonitorSpec is what the engine compiles a monitor record into.
type MonitorSpec struct {
	Machine monitor.Spec
	Target  probe.Target
	Prober  probe.Prober
	// Timeout bounds one probe.
	Timeout time.Duration
	// SSLExpiration, if > 0, fails a probe whose certificate expires within
	// that many days.
	SSLExpiration int
	// DomainExpiration, if > 0, fails a probe while the target's domain
	// registration (RDAP) expires within that many days.
	DomainExpiration int
	// For alerts: the name notifications use, and whether the monitor's email
	// flag is on.
	Name  string
	Email bool
}

// MonitorOptions configures Monitors. Store, Wheel, System, Env and Compile are
// required.
type MonitorOptions struct {
	Store  *store.Store
	Wheel  *wheel.Wheel
	System *actor.ActorSystem
	Env    *probe.Env
	// Compile turns a record into its spec; it fails for a record it cannot
	// monitor (the API validated it, so only a newer version's record can).
	Compile func(*store.Monitor) (MonitorSpec, error)
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Workers bounds the probes in flight; default 512.
	Workers int
	// Region labels response times (--region); default "local".
	Region string
	// Alerter, if not nil, is told of flips that open or resolve incidents.
	Alerter Alerter
	Logger  *slog.Logger
	// RDAPServer is where domain expiry is looked up; default
	// probe.DefaultRDAPServer. RDAPEvery is how often per monitor; default 12h.
	RDAPServer string
	RDAPEvery  time.Duration
	// Metrics, if not nil, receives the probes' metrics (NewMonitorMetrics).
	Metrics *MonitorMetrics
	// OnProbe, if not nil, is called after each probe with when it was due and
	// when it started (for `vigilo bench --scenario monitors`).
	OnProbe func(id uuid.UUID, due, started time.Time, up bool)
}

// Monitor is the resident part of one monitor; only its actor touches rec and
// spec after it is made.
type Monitor struct {
	// id and project are copies of rec's, immutable, for readers other than
	// the actor (rec is the actor's alone).
	id, project uuid.UUID
	timer       wheel.Timer
	pid         *actor.PID
	rec         store.Monitor
	spec        *MonitorSpec // replaced whole, never changed: queued probes share it
	probing     bool
	// mu orders sends against the delete: a message is sent only under mu
	// with deleted false, and deleted is set under mu before the actor is
	// poisoned, so every message sent reaches the actor before its poison.
	mu      sync.Mutex
	deleted atomic.Bool
	// The domain's expiry as RDAP last told, and when it was asked; touched
	// only by the monitor's probe, of which one at a time runs.
	domainExpiry, domainAsked time.Time
	// armed is the probe made ready for the timer's next expiry, when that
	// expiry is a probe's: the wheel's Fire queues it for the workers itself,
	// sparing the actor a wake message per probe (each one a mailbox push and
	// a goroutine, a tenth of the node's CPU at 10,000 probes a second). Only
	// the actor stores a job; Fire and the actor's disarm race to take it
	// with CompareAndSwap, so it runs at most once. armedJob is the actor's
	// own note of what it stored.
	armed    atomic.Pointer[probeJob]
	armedJob *probeJob
}

// arm makes a probe ready for the timer's next expiry if that is a probe's
// and none is in flight. The actor calls it before scheduling the timer, so
// an expiry never finds the job missing.
func (m *Monitor) arm() {
	if m.probing || m.armedJob != nil || monitor.Wake(m.rec.Wake) != monitor.WakeProbe || m.rec.Next.IsZero() {
		return
	}
	j := &probeJob{m: m, spec: m.spec}
	m.armedJob = j
	m.armed.Store(j)
}

// disarm takes back the armed probe; when the wheel took it first, it is in
// flight, and the monitor is probing until its result comes.
func (m *Monitor) disarm() {
	if j := m.armedJob; j != nil {
		m.armedJob = nil
		if !m.armed.CompareAndSwap(j, nil) {
			m.probing = true
		}
	}
}

// ID is the monitor's uuid.
func (m *Monitor) ID() uuid.UUID { return m.id }

// ProjectID is the monitor's project.
func (m *Monitor) ProjectID() uuid.UUID { return m.project }

// Monitors holds every monitor.
type Monitors struct {
	o    MonitorOptions
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup // the probe workers

	// The probe queue and its workers (started on the first probe).
	jobsMu         sync.Mutex
	jobsCond       sync.Cond
	jobs           []*probeJob
	workersStarted bool

	mu   sync.RWMutex
	byID map[uuid.UUID]*Monitor
	// byNumber indexes monitors by store.CheckNumber, the id Better Uptime's
	// API addresses them by.
	byNumber map[uint64][]*Monitor
	// pending counts messages and commits not yet done, for Drain.
	pending atomic.Int64
	// dispatch runs the actors' mailboxes (see dispatcher).
	dispatch *dispatcher
}

// NewMonitors makes the registry; it spawns an actor per monitor loaded or created.
func NewMonitors(o MonitorOptions) (*Monitors, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers == 0 {
		o.Workers = 512
	}
	if o.Region == "" {
		o.Region = "local"
	}
	if o.RDAPServer == "" {
		o.RDAPServer = probe.DefaultRDAPServer
	}
	if o.RDAPEvery == 0 {
		o.RDAPEvery = 12 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.Store == nil || o.Wheel == nil || o.System == nil || o.Env == nil || o.Compile == nil:
		return nil, errors.New("actors: monitors need Store, Wheel, System, Env and Compile")
	case o.Workers < 0:
		return nil, fmt.Errorf("actors: monitor workers %d is negative", o.Workers)
	}
	ms := &Monitors{o: o, byID: make(map[uuid.UUID]*Monitor), byNumber: make(map[uint64][]*Monitor),
		dispatch: newDispatcher(dispatchWorkers())}
	ms.ctx, ms.stop = context.WithCancel(context.Background())
	ms.jobsCond.L = &ms.jobsMu
	return ms, nil
}

// Len is the number of monitors.
func (ms *Monitors) Len() int {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	return len(ms.byID)
}

// Get returns the monitor with id, or nil.
func (ms *Monitors) Get(id uuid.UUID) *Monitor {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	return ms.byID[id]
}

// ByNumber returns the monitor of project whose store.CheckNumber is n, or nil.
func (ms *Monitors) ByNumber(project uuid.UUID, n uint64) *Monitor {
	ms.mu.RLock()
	defer ms.mu.RUnlock()
	for _, m := range ms.byNumber[n] {
		if m.project == project {
			return m
		}
	}
	return nil
}

// Each calls fn for every monitor, in no order.
func (ms *Monitors) Each(fn func(*Monitor)) {
	ms.mu.RLock()
	list := make([]*Monitor, 0, len(ms.byID))
	for _, m := range ms.byID {
		list = append(list, m)
	}
	ms.mu.RUnlock()
	for _, m := range list {
		fn(m)
	}
}

func (ms *Monitors) add(m *Monitor) error {
	m.timer.Owner = m
	m.id, m.project = m.rec.ID, m.rec.ProjectID
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if _, dup := ms.byID[m.rec.ID]; dup {
		return fmt.Errorf("monitor %s: duplicate id", m.rec.ID)
	}
	ms.byID[m.rec.ID] = m
	n := store.CheckNumber(m.rec.ID)
	ms.byNumber[n] = append(ms.byNumber[n], m)
	m.pid = ms.o.System.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &monitorActor{ms: ms, m: m} },
		actor.WithDispatcher(ms.dispatch)))
	return nil
}

// Load makes a stored monitor resident and arms its next wake. A probe that
// fell due while the server was down (or whose Next was not written, see
// step) comes when the state machine would schedule it now: at the next
// instant of the monitor's grid, or at a confirmation or recovery period's
// end, so that a restart does not probe every monitor in one burst. Other
// passed wakes (a maintenance window's edge) come at the next tick.
func (ms *Monitors) Load(rec *store.Monitor) error {
	spec, err := ms.o.Compile(rec)
	if err != nil {
		return fmt.Errorf("load monitor %s: %w", rec.ID, err)
	}
	if now := ms.o.Now(); monitor.Wake(rec.Wake) == monitor.WakeProbe && rec.Next.Before(now) {
		st, _ := monitor.Apply(spec.Machine, monitorStateOf(rec), monitor.Event{Kind: monitor.Reconfigure}, now)
		if st.Status.String() == rec.Status && monitor.Wake(st.Wake) == monitor.WakeProbe {
			rec.Next = st.Next
		}
	}
	m := &Monitor{rec: *rec, spec: &spec}
	m.arm() // before add publishes m to the API and its actor
	if err := ms.add(m); err != nil {
		return err
	}
	if !rec.Next.IsZero() {
		ms.o.Wheel.Schedule(&m.timer, rec.Next)
	}
	return nil
}

// Create persists a new monitor (rec.Attrs set, state empty), starts its state
// machine and arms its first probe; paused makes it start paused.
func (ms *Monitors) Create(rec store.Monitor, paused bool) (store.Monitor, error) {
	spec, err := ms.o.Compile(&rec)
	if err != nil {
		return store.Monitor{}, err
	}
	now := ms.o.Now()
	st, _ := monitor.New(spec.Machine, now)
	if paused {
		st, _ = monitor.Apply(spec.Machine, st, monitor.Event{Kind: monitor.Pause}, now)
		rec.PausedAt = now
	}
	setMonitorState(&rec, st)
	b := ms.o.Store.NewBatch()
	b.PutMonitor(&rec)
	if err := ms.o.Store.Commit(b); err != nil {
		return store.Monitor{}, fmt.Errorf("create monitor %s: %w", rec.ID, err)
	}
	m := &Monitor{rec: rec, spec: &spec}
	m.arm() // before add publishes m to the API and its actor
	if err := ms.add(m); err != nil {
		return store.Monitor{}, err
	}
	if !rec.Next.IsZero() {
		ms.o.Wheel.Schedule(&m.timer, rec.Next)
	}
	return rec, nil
}

// MonitorResult is an operation's outcome once durable.
type MonitorResult struct {
	Monitor store.Monitor
	Err     error
}

func (ms *Monitors) call(m *Monitor, msg func(done chan MonitorResult) any) MonitorResult {
	done := make(chan MonitorResult, 1)
	if !ms.send(m, msg(done)) {
		return MonitorResult{Err: ErrNotFound}
	}
	return <-done
}

// send delivers msg to m's actor, counted as pending, unless m is deleted.
func (ms *Monitors) send(m *Monitor, msg any) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.deleted.Load() {
		return false
	}
	ms.pending.Add(1)
	ms.o.System.Root.Send(m.pid, msg)
	return true
}

// Update replaces m's attributes with attrs (recompiled), and pauses or
// resumes it when paused is not nil, in its actor; it returns once durable.
func (ms *Monitors) Update(m *Monitor, attrs []byte, paused *bool) MonitorResult {
	return ms.call(m, func(done chan MonitorResult) any {
		return &monUpdateMsg{attrs: attrs, paused: paused, done: done}
	})
}

// Snapshot returns m's record as its actor sees it, after every earlier write
// of it is durable.
func (ms *Monitors) Snapshot(m *Monitor) MonitorResult {
	return ms.call(m, func(done chan MonitorResult) any { return &monSnapshotMsg{done: done} })
}

// Delete removes m and everything recorded for it.
func (ms *Monitors) Delete(m *Monitor) MonitorResult {
	return ms.call(m, func(done chan MonitorResult) any { return &monDeleteMsg{done: done} })
}

// Fire is the wheel's callback for a monitor's timer: it queues the armed
// probe, or wakes the actor for anything else (a maintenance window's edge, a
// probe its actor did not arm).
func (ms *Monitors) Fire(t *wheel.Timer, due time.Time) {
	m, ok := t.Owner.(*Monitor)
	if !ok {
		return
	}
	if j := m.armed.Load(); j != nil && m.armed.CompareAndSwap(j, nil) {
		j.due, j.started = due, ms.o.Now()
		ms.pending.Add(1) // the result message
		ms.queue(j)
		return
	}
	ms.send(m, &monWakeMsg{due: due})
}

// Drain waits until every message is handled, every probe is back and every
// commit is durable, or timeout passes. Probes still running are cancelled.
func (ms *Monitors) Drain(timeout time.Duration) bool {
	ms.stop()
	ms.jobsMu.Lock()
	ms.jobsCond.Broadcast() // idle workers see the stop and leave
	ms.jobsMu.Unlock()
	deadline := time.Now().Add(timeout)
	for ms.pending.Load() > 0 {
		if time.Now().After(deadline) {
			ms.dispatch.quitIdle() // a stuck handler keeps its worker
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	ms.wg.Wait()
	ms.dispatch.stop()
	return true
}

type (
	monWakeMsg   struct{ due time.Time }
	monResultMsg struct {
		job          *probeJob
		due, started time.Time
		res          probe.Result
		// aborted: the probe was cut short by shutdown; it says nothing about
		// the target and must not count as a failure.
		aborted bool
	}
	monUpdateMsg struct {
		attrs  []byte
		paused *bool
		done   chan MonitorResult
	}
	monSnapshotMsg struct{ done chan MonitorResult }
	monDeleteMsg   struct{ done chan MonitorResult }
)

type monitorActor struct {
	ms *Monitors
	m  *Monitor
	// after is what the batch being built runs once durable (a flip's alerts).
	after func()
}

func (a *monitorActor) Receive(ctx actor.Context) {
	m := a.m
	switch msg := ctx.Message().(type) {
	case *monWakeMsg:
		defer a.ms.pending.Add(-1)
		if m == nil || m.deleted.Load() {
			return
		}
		a.wake(msg.due)
	case *monResultMsg:
		defer a.ms.pending.Add(-1)
		m.probing = false
		if m.armedJob == msg.job {
			m.armedJob = nil // the wheel took it; this is its result
		}
		if m.deleted.Load() {
			ctx.Poison(ctx.Self()) // the delete kept the actor for this result
			return
		}
		if msg.aborted {
			return // shutting down: the stored wake re-arms the probe at the next start
		}
		res := msg.res
		if n := m.spec.SSLExpiration; res.Up && n > 0 && probe.CertExpiring(res.CertNotAfter, msg.started, n) {
			res.Up = false
			res.Err = fmt.Sprintf("certificate expires %s, within %d days", res.CertNotAfter.UTC().Format(time.RFC3339), n)
		}
		b := a.ms.o.Store.NewBatch()
		// The verdict is dated by the probe's start, but the next wake is
		// reckoned from now: a probe that outlasted a grid instant must not
		// re-arm it in the past and be followed at once by an off-grid probe.
		if a.step(b, monitor.Event{Kind: monitor.Probed, Result: monitor.ProbeResult{Up: res.Up, At: msg.started, Err: res.Err}}, &res, a.ms.o.Now()) {
			// Only a response time: a sample, written without waiting for
			// a sync (store.ApplySample), as nothing and no one waits on it.
			if err := a.ms.o.Store.ApplySample(b); err != nil {
				a.ms.o.Logger.Error("response time not recorded", "monitor", m.id, "err", err)
			}
			return
		}
		a.commit(b, nil)
	case *monUpdateMsg:
		defer a.ms.pending.Add(-1)
		a.update(msg)
	case *monSnapshotMsg:
		defer a.ms.pending.Add(-1)
		if m.deleted.Load() {
			msg.done <- MonitorResult{Err: ErrNotFound}
			return
		}
		a.commit(a.ms.o.Store.NewBatch(), msg.done)
	case *monDeleteMsg:
		defer a.ms.pending.Add(-1)
		if m.deleted.Load() {
			msg.done <- MonitorResult{Err: ErrNotFound}
			return
		}
		a.delete(msg.done)
		// Not while a probe is in flight: its result, counted as pending, must
		// reach the actor (which stops then), or Drain would wait for it in
		// vain. Nor when the delete failed: the monitor is still resident.
		// Poison, not Stop: messages sent before the delete are queued ahead
		// of it and still get their answer.
		if m.deleted.Load() && !m.probing {
			ctx.Poison(ctx.Self())
		}
	}
}

// wake handles the wheel: start a probe, or apply a maintenance Timer.
func (a *monitorActor) wake(due time.Time) {
	m := a.m
	now := a.ms.o.Now()
	if monitor.Wake(m.rec.Wake) == monitor.WakeProbe && !now.Before(m.rec.Next) {
		m.disarm() // the wheel may have queued it since sending this
		if m.probing {
			return // the result re-arms
		}
		m.probing = true
		a.probe(due, now)
		return
	}
	b := a.ms.o.Store.NewBatch()
	a.step(b, monitor.Event{Kind: monitor.Timer}, nil, now)
	a.commit(b, nil)
}

// probeJob is one probe for the worker pool.
type probeJob struct {
	m            *Monitor
	spec         *MonitorSpec
	due, started time.Time
}

// probe queues one probe for the workers; its result comes back as a message.
func (a *monitorActor) probe(due, started time.Time) {
	ms, m := a.ms, a.m
	ms.pending.Add(1) // the result message
	ms.queue(&probeJob{m: m, spec: m.spec, due: due, started: started})
}

// queue hands j to the workers, starting them on first use. The queue is
// unbounded (a monitor has at most one probe queued or running, so it holds
// at most one job per monitor); the workers are long-lived so that their
// stacks, grown once by net/http's deep calls, are not grown again per probe.
func (ms *Monitors) queue(j *probeJob) {
	ms.jobsMu.Lock()
	if !ms.workersStarted {
		ms.workersStarted = true
		for range ms.o.Workers {
			ms.wg.Add(1)
			go ms.work()
		}
	}
	ms.jobs = append(ms.jobs, j)
	ms.jobsMu.Unlock()
	ms.jobsCond.Signal()
}

// work runs queued probes until the registry drains.
func (ms *Monitors) work() {
	defer ms.wg.Done()
	w := &worker{}
	defer context.AfterFunc(ms.ctx, w.stop)()
	for {
		ms.jobsMu.Lock()
		for len(ms.jobs) == 0 && ms.ctx.Err() == nil {
			ms.jobsCond.Wait()
		}
		if len(ms.jobs) == 0 {
			ms.jobsMu.Unlock()
			return
		}
		j := ms.jobs[0]
		ms.jobs[0] = nil
		ms.jobs = ms.jobs[1:]
		ms.jobsMu.Unlock()
		ms.run(w, j)
	}
}

// worker is what a probe worker shares with the shutdown: the cancel of the
// probe it is running. A probe's context is a root of its own rather than a
// child of the registry's: a child registers with its parent, in a map under
// the parent's lock, and leaves it again, at every probe. Shutdown reaches
// the probes through their workers instead, one registration per worker.
type worker struct {
	mu      sync.Mutex
	cancel  context.CancelFunc // the running probe's; nil between probes
	stopped bool
}

// begin records cancel as the running probe's; false when shutdown came first.
func (w *worker) begin(cancel context.CancelFunc) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	w.cancel = cancel
	return true
}

func (w *worker) end() {
	w.mu.Lock()
	w.cancel = nil
	w.mu.Unlock()
}

// stop cancels the running probe and any the worker would begin after it.
func (w *worker) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.cancel != nil {
		w.cancel()
	}
}

// run makes one probe on w and sends its result to the monitor's actor.
func (ms *Monitors) run(w *worker, j *probeJob) {
	var res probe.Result
	ctx, cancel := context.WithTimeout(context.Background(), j.spec.Timeout)
	if ms.ctx.Err() == nil && w.begin(cancel) {
		j.spec.Prober(ctx, &j.spec.Target, ms.o.Env, &res)
		if res.Up && j.spec.DomainExpiration > 0 {
			ms.checkDomain(ctx, j.m, j.spec, j.started, &res)
		}
		w.end()
	}
	cancel()
	if ms.ctx.Err() != nil {
		ms.o.System.Root.Send(j.m.pid, &monResultMsg{job: j, due: j.due, started: j.started, aborted: true})
		return
	}
	if mt := ms.o.Metrics; mt != nil {
		mt.probed(j.m.id, j.spec.Name, &j.spec.Target, &res)
	}
	if fn := ms.o.OnProbe; fn != nil {
		fn(j.m.id, j.due, j.started, res.Up)
	}
	ms.o.System.Root.Send(j.m.pid, &monResultMsg{job: j, due: j.due, started: j.started, res: res})
}

func monitorStateOf(r *store.Monitor) monitor.State {
	st, err := monitor.ParseStatus(r.Status)
	if err != nil {
		st = monitor.Pending
	}
	return monitor.State{Status: st, Since: r.Since, FailingSince: r.FailingSince, RecoveringSince: r.RecoveringSince,
		IncidentSince: r.IncidentSince, LastProbe: r.LastProbe, Next: r.Next, Wake: monitor.Wake(r.Wake)}
}

func setMonitorState(r *store.Monitor, s monitor.State) {
	r.Status, r.Since, r.FailingSince, r.RecoveringSince = s.Status.String(), s.Since, s.FailingSince, s.RecoveringSince
	r.IncidentSince, r.LastProbe, r.Next, r.Wake = s.IncidentSince, s.LastProbe, s.Next, uint8(s.Wake)
}

// step applies ev and writes what it decided into b. It reports whether b
// holds only a routine probe's response time: no state, incident or flip.
func (a *monitorActor) step(b *store.Batch, ev monitor.Event, res *probe.Result, now time.Time) (sample bool) {
	m := a.m
	old := m.rec
	st, eff := monitor.Apply(m.spec.Machine, monitorStateOf(&m.rec), ev, now)
	setMonitorState(&m.rec, st)
	if eff.Record && res != nil {
		m.rec.NResponses++
		m.rec.LastError = res.Err
		b.AddResponseTime(m.rec.ID, &store.ResponseTime{N: m.rec.NResponses, At: ev.Result.At, Region: a.ms.o.Region,
			Up: res.Up, DNS: res.DNS, Connect: res.Connect, TLS: res.TLS, FirstByte: res.FirstByte, Total: res.Total})
	}
	if !eff.IncidentOpened.IsZero() {
		b.PutIncident(m.rec.ID, &store.Incident{Start: eff.IncidentOpened, Cause: ev.Result.Err})
		m.rec.IncidentCause = ev.Result.Err
	}
	if !eff.IncidentResolved.IsZero() && !old.IncidentSince.IsZero() {
		b.PutIncident(m.rec.ID, &store.Incident{Start: old.IncidentSince, End: eff.IncidentResolved, Cause: m.rec.IncidentCause})
		m.rec.IncidentCause = ""
	}
	if f := eff.Flip; f != nil {
		b.AddFlip(m.rec.ID, store.Flip{Time: f.At, From: f.From.String(), To: f.To.String()})
		if al := a.ms.o.Alerter; al != nil && f.Alertable() {
			from, to := "up", "down"
			if f.To == monitor.Up {
				from, to = "down", "up"
			}
			email := m.spec.Email
			subject := store.Check{ID: m.rec.ID, ProjectID: m.rec.ProjectID, Name: m.spec.Name, Status: to,
				LastPing: m.rec.LastProbe, Dialect: &store.DialectAttrs{Origin: "betteruptime", Email: &email}}
			a.after = al.Flipped(b, &subject, from, to, f.At)
		}
	}
	// A probe changes no attribute, so the state alone is written, and not
	// even that when the probe only moved LastProbe, Next and NResponses: its
	// response time records the first and last, and Load recomputes Next.
	routine := eff.Record && res != nil && routineProbe(&old, &m.rec)
	if (eff.Changed || eff.Record || eff.Flip != nil) && !routine {
		b.PutMonitorState(&m.rec)
	}
	m.disarm()
	if eff.Next.IsZero() {
		a.ms.o.Wheel.Cancel(&m.timer)
	} else {
		m.arm()
		a.ms.o.Wheel.Schedule(&m.timer, eff.Next)
	}
	return routine && eff.Flip == nil && eff.IncidentOpened.IsZero() && eff.IncidentResolved.IsZero()
}

// routineProbe reports whether after differs from before in nothing but what
// every counted probe moves.
func routineProbe(before, after *store.Monitor) bool {
	return before.Status == after.Status && before.Since.Equal(after.Since) &&
		before.FailingSince.Equal(after.FailingSince) && before.RecoveringSince.Equal(after.RecoveringSince) &&
		before.IncidentSince.Equal(after.IncidentSince) && before.Wake == after.Wake &&
		before.LastError == after.LastError && before.IncidentCause == after.IncidentCause &&
		before.NResponses+1 == after.NResponses
}

func (a *monitorActor) commit(b *store.Batch, done chan MonitorResult) {
	id := a.m.id
	// The record is copied only for a caller waiting on it: a probe's commit
	// (most of them) has no one to hand it to.
	var snap *store.Monitor
	if done != nil {
		rec := a.m.rec
		snap = &rec
	}
	after := a.after
	a.after = nil
	ms := a.ms
	ms.pending.Add(1)
	ms.o.Store.CommitAsync(b, func(err error) {
		defer ms.pending.Add(-1)
		if err != nil {
			err = fmt.Errorf("commit monitor %s: %w", id, err)
			if done == nil {
				ms.o.Logger.Error("monitor state not persisted", "monitor", id, "err", err)
			}
		} else if after != nil {
			after()
		}
		if done != nil {
			done <- MonitorResult{Monitor: *snap, Err: err}
		}
	})
}

func (a *monitorActor) update(msg *monUpdateMsg) {
	m := a.m
	if m.deleted.Load() {
		msg.done <- MonitorResult{Err: ErrNotFound}
		return
	}
	next := m.rec
	next.Attrs = msg.attrs
	spec, err := a.ms.o.Compile(&next)
	if err != nil {
		msg.done <- MonitorResult{Monitor: m.rec, Err: err}
		return
	}
	now := a.ms.o.Now()
	next.Updated = now
	m.rec, m.spec = next, &spec
	b := a.ms.o.Store.NewBatch()
	b.PutMonitor(&m.rec)
	a.step(b, monitor.Event{Kind: monitor.Reconfigure}, nil, now)
	if p := msg.paused; p != nil {
		isPaused := m.rec.Status == monitor.Paused.String()
		switch {
		case *p && !isPaused:
			m.rec.PausedAt = now
			a.step(b, monitor.Event{Kind: monitor.Pause}, nil, now)
		case !*p && isPaused:
			m.rec.PausedAt = time.Time{}
			a.step(b, monitor.Event{Kind: monitor.Resume}, nil, now)
		}
		b.PutMonitor(&m.rec)
	}
	a.commit(b, msg.done)
}

func (a *monitorActor) delete(done chan MonitorResult) {
	m := a.m
	m.disarm()
	a.ms.o.Wheel.Cancel(&m.timer)
	b := a.ms.o.Store.NewBatch()
	b.DeleteMonitor(&m.rec)
	if err := a.ms.o.Store.Commit(b); err != nil {
		if !m.rec.Next.IsZero() {
			m.arm()
			a.ms.o.Wheel.Schedule(&m.timer, m.rec.Next)
		}
		done <- MonitorResult{Monitor: m.rec, Err: fmt.Errorf("delete monitor %s: %w", m.rec.ID, err)}
		return
	}
	m.mu.Lock()
	m.deleted.Store(true)
	m.mu.Unlock()
	if mt := a.ms.o.Metrics; mt != nil {
		mt.forget(m.rec.ID)
	}
	a.ms.mu.Lock()
	delete(a.ms.byID, m.rec.ID)
	n := store.CheckNumber(m.rec.ID)
	list := slices.DeleteFunc(a.ms.byNumber[n], func(x *Monitor) bool { return x == m })
	if len(list) == 0 {
		delete(a.ms.byNumber, n)
	} else {
		a.ms.byNumber[n] = list
	}
	a.ms.mu.Unlock()
	done <- MonitorResult{Monitor: m.rec}
}

// checkDomain fails res when the target's domain expires within the monitor's
// domain_expiration days. RDAP is asked at most every RDAPEvery per monitor; a
// failed lookup keeps the last answer and does not fail the probe, since the
// target itself answered.
func (ms *Monitors) checkDomain(ctx context.Context, m *Monitor, spec *MonitorSpec, now time.Time, res *probe.Result) {
	if m.domainAsked.IsZero() || now.Sub(m.domainAsked) >= ms.o.RDAPEvery {
		domain, err := probe.RegistrableDomain(spec.Target.URL)
		if err == nil {
			var exp time.Time
			if exp, err = probe.DomainExpiry(ctx, ms.o.Env, ms.o.RDAPServer, domain); err == nil {
				m.domainExpiry = exp
			}
		}
		if err != nil {
			ms.o.Logger.Warn("domain expiry lookup failed", "monitor", m.id, "err", err)
		}
		m.domainAsked = now
	}
	if !m.domainExpiry.IsZero() && probe.DomainExpiring(m.domainExpiry, now, spec.DomainExpiration) {
		res.Up = false
		res.Err = fmt.Sprintf("domain registration expires %s, within %d days",
			m.domainExpiry.UTC().Format(time.RFC3339), spec.DomainExpiration)
	}
}
