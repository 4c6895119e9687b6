package actors

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/monitor"
	"github.com/vigilo/vigilo/actors/probe"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/netguard"
	"github.com/vigilo/vigilo/wheel"
)

// testMonAttrs stands in for the Better Uptime attributes: the registry only
// hands Attrs to Compile, so a test needs no dialect to exercise it.
type testMonAttrs struct {
	URL                string        `json:"url"`
	Frequency          time.Duration `json:"freq"`
	ConfirmationPeriod time.Duration `json:"cp"`
	RecoveryPeriod     time.Duration `json:"rp"`
	Timeout            time.Duration `json:"timeout"` // the probe's; 10 s when zero
}

func compileTestMonitor(rec *store.Monitor) (MonitorSpec, error) {
	var a testMonAttrs
	if err := json.Unmarshal(rec.Attrs, &a); err != nil {
		return MonitorSpec{}, err
	}
	sm, err := monitor.Compile(monitor.Config{ID: rec.ID, CheckFrequency: a.Frequency,
		ConfirmationPeriod: a.ConfirmationPeriod, RecoveryPeriod: a.RecoveryPeriod})
	if err != nil {
		return MonitorSpec{}, err
	}
	prober, _ := probe.Lookup("status")
	if a.Timeout == 0 {
		a.Timeout = 10 * time.Second
	}
	// Prepared, as the engine's compile does.
	t := probe.Target{Type: "status", URL: a.URL, Method: http.MethodGet}
	t.Prepare()
	return MonitorSpec{Machine: sm, Prober: prober, Timeout: a.Timeout, Name: "test", Target: t}, nil
}

func mustAttrs(t testing.TB, a testMonAttrs) []byte {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// monEnv is one registry on a real store, wheel and actor system, with a fake
// clock that only the test moves.
type monEnv struct {
	t     testing.TB
	st    *store.Store
	w     *wheel.Wheel
	ms    *Monitors
	mu    sync.Mutex
	now   time.Time
	probe chan probeSeen // every OnProbe, in order
}

type probeSeen struct {
	id           uuid.UUID
	due, started time.Time
	up           bool
}

var monT0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func newMonEnv(t testing.TB, st *store.Store) *monEnv {
	t.Helper()
	if st == nil {
		var err error
		if st, err = store.Open(store.Options{Dir: t.TempDir()}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
	}
	e := &monEnv{t: t, st: st, now: monT0, probe: make(chan probeSeen, 1024)}
	var err error
	if e.w, err = wheel.New(wheel.Options{Start: monT0}); err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)
	g, err := netguard.New(netguard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.ms, err = NewMonitors(MonitorOptions{
		Store: st, Wheel: e.w, System: sys, Compile: compileTestMonitor, Now: e.clock,
		// The probe's phases are timed on the real clock: the fake one stands
		// still while the request runs.
		Env: &probe.Env{Dial: g.DialContext},
		OnProbe: func(id uuid.UUID, due, started time.Time, up bool) {
			e.probe <- probeSeen{id, due, started, up}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *monEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// advance moves the clock and the wheel to at.
func (e *monEnv) advance(at time.Time) {
	e.mu.Lock()
	e.now = at
	e.mu.Unlock()
	e.w.Advance(at, e.ms.Fire)
}

// settle waits until every message, probe and commit is done. The bound is
// only there to fail a hung test, not to time anything.
func (e *monEnv) settle() {
	e.t.Helper()
	for end := time.Now().Add(20 * time.Second); e.ms.pending.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			e.t.Fatalf("monitors not settled: %d pending", e.ms.pending.Load())
		}
	}
}

// nextProbe waits for the next OnProbe call.
func (e *monEnv) nextProbe() probeSeen {
	e.t.Helper()
	select {
	case p := <-e.probe:
		return p
	case <-time.After(20 * time.Second):
		e.t.Fatal("no probe")
		return probeSeen{}
	}
}

func (e *monEnv) noProbe() {
	e.t.Helper()
	select {
	case p := <-e.probe:
		e.t.Fatalf("unexpected probe %+v", p)
	default:
	}
}

func (e *monEnv) snapshot(m *Monitor) store.Monitor {
	e.t.Helper()
	res := e.ms.Snapshot(m)
	if res.Err != nil {
		e.t.Fatal(res.Err)
	}
	return res.Monitor
}

// wake advances to m's next wake, waits for its probe and for the result to be
// applied, and returns the record.
func (e *monEnv) wake(m *Monitor) (store.Monitor, probeSeen) {
	e.t.Helper()
	rec := e.snapshot(m)
	if rec.Next.IsZero() {
		e.t.Fatalf("monitor %s has no wake (%s)", rec.ID, rec.Status)
	}
	e.advance(rec.Next)
	p := e.nextProbe()
	if p.id != rec.ID || !p.due.Equal(rec.Next) || !p.started.Equal(rec.Next) {
		e.t.Fatalf("probe %+v, want monitor %s due and started at %v", p, rec.ID, rec.Next)
	}
	e.settle()
	return e.snapshot(m), p
}

func (e *monEnv) create(attrs testMonAttrs, paused bool) *Monitor {
	e.t.Helper()
	rec, err := e.ms.Create(store.Monitor{ID: uuid.New(), ProjectID: uuid.New(), Attrs: mustAttrs(e.t, attrs),
		Created: e.clock(), Updated: e.clock()}, paused)
	if err != nil {
		e.t.Fatal(err)
	}
	m := e.ms.Get(rec.ID)
	if m == nil {
		e.t.Fatal("created monitor not resident")
	}
	return m
}

func flipsOf(t testing.TB, st *store.Store, id uuid.UUID) []string {
	t.Helper()
	fl, err := st.Flips(id, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(fl) - 1; i >= 0; i-- { // oldest first
		out = append(out, fl[i].From+">"+fl[i].To)
	}
	return out
}

// restartable is a local HTTP server that can be stopped and started again on
// the same address, as a target that goes away and comes back.
type restartable struct {
	addr string
	srv  *httptest.Server
}

func startTarget(t testing.TB, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func (r *restartable) start(t testing.TB) {
	r.srv = startTarget(t, r.addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	r.addr = r.srv.Listener.Addr().String()
}

// A monitor's life against a real server: first probe at its phase, up; the
// server stops, down with an incident (no confirmation period); it comes back,
// validating, then up after the recovery period with the incident resolved.
// Every status change is a flip in the store.
func TestMonitorLifecycle(t *testing.T) {
	e := newMonEnv(t, nil)
	var target restartable
	target.start(t)
	const freq = 30 * time.Second
	attrs := testMonAttrs{URL: "http://" + target.addr + "/", Frequency: freq, RecoveryPeriod: time.Minute}
	m := e.create(attrs, false)
	id := m.ID()

	rec := e.snapshot(m)
	spec, _ := compileTestMonitor(&rec)
	if rec.Status != "pending" || !rec.Next.After(monT0) || rec.Next.After(monT0.Add(freq)) ||
		!rec.Next.Equal(monitor.NextProbe(spec.Machine, monT0)) {
		t.Fatalf("created: status %s, next %v, want pending at the phase in (%v, %v]", rec.Status, rec.Next, monT0, monT0.Add(freq))
	}
	if ph := time.Duration(rec.Next.UnixNano() % int64(freq)); ph != monitor.Phase(id, freq) {
		t.Fatalf("first wake at phase %v, want %v", ph, monitor.Phase(id, freq))
	}
	if e.w.Len() != 1 {
		t.Fatalf("%d timers armed, want 1", e.w.Len())
	}
	// Just before the wake nothing runs.
	e.advance(rec.Next.Add(-time.Millisecond))
	e.settle()
	e.noProbe()

	rec, p := e.wake(m)
	if !p.up || rec.Status != "up" || !rec.LastProbe.Equal(p.started) || rec.NResponses != 1 || rec.LastError != "" {
		t.Fatalf("after the first probe: %+v (probe %+v)", rec, p)
	}
	if want := p.due.Add(freq); !rec.Next.Equal(want) {
		t.Fatalf("next %v, want one period later %v", rec.Next, want)
	}
	rts, err := e.st.ResponseTimes(id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rts) != 1 || !rts[0].Up || !rts[0].At.Equal(p.started) || rts[0].Region != "local" || rts[0].Total <= 0 || rts[0].N != 1 {
		t.Fatalf("response times %+v", rts)
	}

	target.srv.Close()
	rec, p = e.wake(m)
	if p.up || rec.Status != "down" || !rec.IncidentSince.Equal(p.started) || rec.LastError == "" {
		t.Fatalf("after the target stopped: %+v (probe %+v)", rec, p)
	}
	ins, err := e.st.Incidents(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || !ins[0].Start.Equal(p.started) || !ins[0].End.IsZero() || ins[0].Cause != rec.LastError {
		t.Fatalf("incidents %+v", ins)
	}
	down := p.started

	target.start(t)
	rec, p = e.wake(m)
	if !p.up || rec.Status != "validating" || !rec.RecoveringSince.Equal(p.started) {
		t.Fatalf("after the target came back: %+v", rec)
	}
	back := p.started
	// Probes go on every period; the one at or after back + recovery period resolves.
	for rec.Status == "validating" {
		rec, p = e.wake(m)
		if !p.up {
			t.Fatalf("probe failed against the restarted target: %+v", rec)
		}
	}
	if rec.Status != "up" || p.started.Before(back.Add(time.Minute)) || !rec.IncidentSince.IsZero() {
		t.Fatalf("recovered: %+v at %v, back since %v", rec, p.started, back)
	}
	if ins, err = e.st.Incidents(id); err != nil {
		t.Fatal(err)
	}
	if len(ins) != 1 || !ins[0].Start.Equal(down) || !ins[0].End.Equal(p.started) || ins[0].Cause == "" {
		t.Fatalf("incident not resolved at %v: %+v", p.started, ins)
	}
	want := []string{"pending>up", "up>down", "down>validating", "validating>up"}
	if got := flipsOf(t, e.st, id); len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("flips %v, want %v", got, want)
	}
	if rts, _ = e.st.ResponseTimes(id, 0); uint64(len(rts)) != rec.NResponses || rts[1].Up {
		t.Fatalf("%d response times for %d probes: %+v", len(rts), rec.NResponses, rts)
	}
	if !e.ms.Drain(10 * time.Second) {
		t.Fatal("not drained")
	}
}

// Pausing cancels the wake and no probe runs however far the clock moves;
// resuming re-arms it. Deleting removes the record and everything recorded.
func TestMonitorPauseResumeDelete(t *testing.T) {
	e := newMonEnv(t, nil)
	target := startTarget(t, "", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable) // down, so there are an incident and flips to delete
	}))
	attrs := testMonAttrs{URL: target.URL, Frequency: 10 * time.Second}
	m := e.create(attrs, false)
	rec, p := e.wake(m)
	if p.up || rec.Status != "down" {
		t.Fatalf("against a 503: %+v", rec)
	}

	paused := true
	res := e.ms.Update(m, mustAttrs(t, attrs), &paused)
	if res.Err != nil || res.Monitor.Status != "paused" || !res.Monitor.Next.IsZero() || res.Monitor.PausedAt.IsZero() {
		t.Fatalf("paused: %+v %v", res.Monitor, res.Err)
	}
	if e.w.Len() != 0 {
		t.Fatalf("%d timers armed while paused", e.w.Len())
	}
	for i := 1; i <= 10; i++ {
		e.advance(rec.Next.Add(time.Duration(i) * 10 * time.Second))
	}
	e.settle()
	e.noProbe()

	paused = false
	res = e.ms.Update(m, mustAttrs(t, attrs), &paused)
	if res.Err != nil || res.Monitor.Status != "pending" || res.Monitor.Next.IsZero() || !res.Monitor.PausedAt.IsZero() || e.w.Len() != 1 {
		t.Fatalf("resumed: %+v %v, %d timers", res.Monitor, res.Err, e.w.Len())
	}
	// Still failing: the incident left open by the pause is the same outage.
	if rec, p = e.wake(m); p.up || rec.Status != "down" {
		t.Fatalf("after resume: %+v", rec)
	}
	id := m.ID()
	if ins, _ := e.st.Incidents(id); len(ins) != 1 {
		t.Fatalf("incidents %+v, want the one left open", ins)
	}
	if len(flipsOf(t, e.st, id)) == 0 {
		t.Fatal("no flips recorded")
	}

	if res := e.ms.Delete(m); res.Err != nil {
		t.Fatal(res.Err)
	}
	if e.ms.Get(id) != nil || e.ms.Len() != 0 || e.w.Len() != 0 {
		t.Fatalf("deleted monitor still resident or armed (%d, %d timers)", e.ms.Len(), e.w.Len())
	}
	if res := e.ms.Snapshot(m); !errors.Is(res.Err, ErrNotFound) {
		t.Fatalf("snapshot of a deleted monitor: %v", res.Err)
	}
	n := 0
	if err := e.st.AllMonitors(func(*store.Monitor) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("%d monitors stored after delete (%v)", n, err)
	}
	ins, _ := e.st.Incidents(id)
	rts, _ := e.st.ResponseTimes(id, 0)
	if len(ins) != 0 || len(rts) != 0 || len(flipsOf(t, e.st, id)) != 0 {
		t.Fatalf("left after delete: %d incidents, %d response times, flips %v", len(ins), len(rts), flipsOf(t, e.st, id))
	}
	e.advance(rec.Next.Add(time.Hour))
	e.settle()
	e.noProbe()
}

// A monitor created paused is not armed; one loaded from the store after a
// restart is armed at its stored wake and probes there.
func TestMonitorLoad(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	target := startTarget(t, "", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	attrs := testMonAttrs{URL: target.URL, Frequency: time.Minute}

	first := newMonEnv(t, st)
	active := first.create(attrs, false)
	idle := first.create(attrs, true)
	if r := first.snapshot(idle); r.Status != "paused" || !r.Next.IsZero() || first.w.Len() != 1 {
		t.Fatalf("created paused: %+v, %d timers", r, first.w.Len())
	}
	stored := first.snapshot(active)
	if !first.ms.Drain(10 * time.Second) {
		t.Fatal("not drained")
	}

	second := newMonEnv(t, st)
	if err := st.AllMonitors(second.ms.Load); err != nil {
		t.Fatal(err)
	}
	if second.ms.Len() != 2 || second.w.Len() != 1 {
		t.Fatalf("loaded %d monitors, %d armed; want 2, 1", second.ms.Len(), second.w.Len())
	}
	m := second.ms.Get(stored.ID)
	rec, p := second.wake(m)
	if !p.due.Equal(stored.Next) || !p.up || rec.Status != "up" || rec.NResponses != 1 {
		t.Fatalf("loaded monitor's probe %+v, record %+v", p, rec)
	}
	if err := second.ms.Load(&stored); err == nil {
		t.Fatal("loading a resident monitor again succeeded")
	}
}

// After probes that changed nothing but their count and time (whose state is
// not rewritten), a restart knows the newest probe from its response time, and
// a probe that fell due while the server was down comes at the next instant of
// the monitor's grid, not at once.
func TestMonitorLoadAfterRoutineProbes(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	target := startTarget(t, "", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	freq := time.Minute

	first := newMonEnv(t, st)
	m := first.create(testMonAttrs{URL: target.URL, Frequency: freq}, false)
	var rec store.Monitor
	var last probeSeen
	for range 4 { // pending → up, then three routine probes
		rec, last = first.wake(m)
	}
	if rec.Status != "up" || rec.NResponses != 4 {
		t.Fatalf("after four probes: %+v", rec)
	}
	if !first.ms.Drain(10 * time.Second) {
		t.Fatal("not drained")
	}

	second := newMonEnv(t, st)
	down := rec.Next.Add(freq + freq/2) // down across two grid instants
	second.mu.Lock()
	second.now = down
	second.mu.Unlock()
	if err := st.AllMonitors(second.ms.Load); err != nil {
		t.Fatal(err)
	}
	loaded := second.snapshot(second.ms.Get(rec.ID))
	if loaded.NResponses != 4 || !loaded.LastProbe.Equal(last.started) || loaded.Status != "up" {
		t.Fatalf("loaded %d responses, last probe %v, %s; want 4, %v, up", loaded.NResponses, loaded.LastProbe, loaded.Status, last.started)
	}
	if want := rec.Next.Add(2 * freq); !loaded.Next.Equal(want) {
		t.Fatalf("loaded Next %v, want the next grid instant after the restart, %v", loaded.Next, want)
	}
	after, p := second.wake(second.ms.Get(rec.ID))
	if !p.up || after.NResponses != 5 {
		t.Fatalf("probe after restart %+v, record %+v", p, after)
	}
}

// slowTarget holds every request until released, and remembers the most it
// held at once.
type slowTarget struct {
	release  chan struct{}
	entered  chan struct{}
	inflight atomic.Int32
	most     atomic.Int32
	requests atomic.Int32
}

func newSlowTarget() *slowTarget {
	return &slowTarget{release: make(chan struct{}), entered: make(chan struct{}, 16)}
}

func (s *slowTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	s.requests.Add(1)
	s.entered <- struct{}{}
	select {
	case <-s.release:
	case <-r.Context().Done():
	}
}

// A wake that comes while the monitor's probe is still running (here: armed by
// a reconfigure during the probe) starts no second probe; the result re-arms.
func TestMonitorOneProbeInFlight(t *testing.T) {
	e := newMonEnv(t, nil)
	slow := newSlowTarget()
	target := startTarget(t, "", slow)
	attrs := testMonAttrs{URL: target.URL, Frequency: 10 * time.Second}
	m := e.create(attrs, false)
	first := e.snapshot(m).Next
	e.advance(first)
	<-slow.entered

	// A reconfigure re-arms the wheel from the actor; then the clock runs
	// through several of its wakes while the probe hangs.
	if res := e.ms.Update(m, mustAttrs(t, attrs), nil); res.Err != nil || res.Monitor.Next.IsZero() {
		t.Fatalf("update during a probe: %+v %v", res.Monitor, res.Err)
	}
	for i := 1; i <= 5; i++ {
		e.advance(first.Add(time.Duration(i) * 10 * time.Second))
		e.ms.Fire(&m.timer, first.Add(time.Duration(i)*10*time.Second)) // as a late duplicate fire would
	}
	// Everything but the probe's own result is handled.
	for end := time.Now().Add(20 * time.Second); e.ms.pending.Load() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d pending, want only the probe's result", e.ms.pending.Load())
		}
	}
	if slow.requests.Load() != 1 || slow.most.Load() != 1 {
		t.Fatalf("%d requests, %d at once, while one probe was due", slow.requests.Load(), slow.most.Load())
	}
	e.noProbe()

	close(slow.release)
	p := e.nextProbe()
	e.settle()
	rec := e.snapshot(m)
	if !p.up || !p.due.Equal(first) || rec.Status != "up" || rec.NResponses != 1 {
		t.Fatalf("probe %+v, record %+v", p, rec)
	}
	// The result re-armed the next grid instant after the clock.
	if now := e.clock(); !rec.Next.After(now) || rec.Next.After(now.Add(10*time.Second)) || e.w.Len() != 1 {
		t.Fatalf("next %v at %v, %d timers", rec.Next, now, e.w.Len())
	}
	rec, _ = e.wake(m)
	if rec.NResponses != 2 || slow.most.Load() != 1 {
		t.Fatalf("after the next wake: %d responses, %d requests at once", rec.NResponses, slow.most.Load())
	}
}

// Deleting a monitor whose probe is in flight: the late result is dropped, and
// the registry still drains (the result is not left counted as pending).
func TestMonitorDeleteWhileProbing(t *testing.T) {
	e := newMonEnv(t, nil)
	slow := newSlowTarget()
	target := startTarget(t, "", slow)
	m := e.create(testMonAttrs{URL: target.URL, Frequency: 10 * time.Second}, false)
	e.advance(e.snapshot(m).Next)
	<-slow.entered
	if res := e.ms.Delete(m); res.Err != nil {
		t.Fatal(res.Err)
	}
	close(slow.release)
	e.nextProbe()
	e.settle()
	n := 0
	if err := e.st.AllMonitors(func(*store.Monitor) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("%d monitors stored after delete (%v)", n, err)
	}
	if rts, _ := e.st.ResponseTimes(m.ID(), 0); len(rts) != 0 {
		t.Fatalf("the late result was recorded: %+v", rts)
	}
}

// BenchmarkMonitorProbe is one wake of a monitor through the registry: the
// wheel's fire, the actor, an HTTP probe on a fresh loopback connection, and
// the result's commit.
func BenchmarkMonitorProbe(b *testing.B) {
	e := newMonEnv(b, nil)
	target := startTarget(b, "", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	const freq = time.Second
	m := e.create(testMonAttrs{URL: target.URL, Frequency: freq}, false)
	next := e.snapshot(m).Next
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		e.advance(next)
		if p := e.nextProbe(); !p.up {
			b.Fatal("probe failed")
		}
		e.settle()
		next = next.Add(freq)
	}
	b.StopTimer()
	if rec := e.snapshot(m); rec.NResponses != uint64(b.N) {
		b.Fatalf("%d responses for %d probes", rec.NResponses, b.N)
	}
}

// A probe cut short by shutdown (Drain) says nothing about its target: the
// monitor is not failed, no incident opens and nothing is recorded. The
// probe's timeout is an hour, so Drain returning at all shows it cancelled.
func TestMonitorShutdownIsNotAFailure(t *testing.T) {
	e := newMonEnv(t, nil)
	slow := newSlowTarget()
	defer close(slow.release)
	target := startTarget(t, "", slow)
	m := e.create(testMonAttrs{URL: target.URL, Frequency: 10 * time.Second, Timeout: time.Hour}, false)
	before := e.snapshot(m)
	e.advance(before.Next)
	<-slow.entered
	if !e.ms.Drain(20 * time.Second) {
		t.Fatal("not drained")
	}
	stored := map[uuid.UUID]store.Monitor{}
	if err := e.st.AllMonitors(func(x *store.Monitor) error { stored[x.ID] = *x; return nil }); err != nil {
		t.Fatal(err)
	}
	after := stored[m.ID()]
	if after.Status != before.Status || after.NResponses != 0 || !after.LastProbe.IsZero() {
		t.Errorf("after an aborted probe: status %q (was %q), %d responses, last probe %v",
			after.Status, before.Status, after.NResponses, after.LastProbe)
	}
	if ins, _ := e.st.Incidents(m.ID()); len(ins) != 0 {
		t.Errorf("incidents after shutdown: %+v", ins)
	}
}

// An update between arming and the wheel's expiry takes the armed probe back
// and arms one with the new spec: the probe that runs is the new target's,
// and only one runs.
func TestMonitorUpdateRearmsProbe(t *testing.T) {
	e := newMonEnv(t, nil)
	var oldHits, newHits atomic.Int64
	oldTarget := startTarget(t, "", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		oldHits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	newTarget := startTarget(t, "", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { newHits.Add(1) }))
	attrs := testMonAttrs{URL: oldTarget.URL, Frequency: 10 * time.Second}
	m := e.create(attrs, false)
	attrs.URL = newTarget.URL
	if res := e.ms.Update(m, mustAttrs(t, attrs), nil); res.Err != nil {
		t.Fatal(res.Err)
	}
	e.advance(e.snapshot(m).Next)
	if p := e.nextProbe(); !p.up {
		t.Fatalf("probe after the update: %+v, want the new target's answer", p)
	}
	e.settle()
	e.noProbe()
	if oldHits.Load() != 0 || newHits.Load() != 1 {
		t.Fatalf("old target %d requests, new %d; want 0 and 1", oldHits.Load(), newHits.Load())
	}
}
