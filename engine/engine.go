package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/actors"
	"github.com/vigilo/vigilo/api/admin"
	"github.com/vigilo/vigilo/api/betteruptime"
	"github.com/vigilo/vigilo/api/healthchecks"
	"github.com/vigilo/vigilo/api/opsgenie"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/ingest"
	"github.com/vigilo/vigilo/netguard"
	"github.com/vigilo/vigilo/notify"
	"github.com/vigilo/vigilo/wheel"
)

// Engine is one running node.
type Engine struct {
	o     Options
	store *store.Store
	// ownStore: Open opened the store, and Close closes it.
	ownStore bool
	wheel    *wheel.Wheel
	system   *actor.ActorSystem
	reg      *actors.Registry
	outbox   *notify.Outbox // alerts.go
	// monitors are the active monitors (monitors.go).
	monitors *actors.Monitors
	guard    *netguard.Guard

	projects projectTable
	// creating holds the creations in flight, per stripe of projects, so
	// unique matching, Opsgenie names and slug auto-provisioning cannot race
	// into duplicates (creates.go).
	creating [64]createStripe

	ingest *ingest.Handler
	hc     *healthchecks.API
	admin  *admin.API
	// The Opsgenie and Better Uptime dialects (dialects.go).
	opsgenie     *opsgenie.API
	betteruptime *betteruptime.API

	server  *fasthttp.Server
	metrics *engineMetrics // metrics.go
	serving atomic.Bool
	stop    chan struct{}
	wg      sync.WaitGroup
	closed  atomic.Bool

	// BootstrapKeys holds the default project's keys when this start made them
	// randomly (nil otherwise), for the caller to show once.
	BootstrapKeys *admin.Keys
	// LoadTime is how long loading and re-arming the stored checks took.
	LoadTime time.Duration
}

// Open opens the store, loads every check and arms its deadline. It does not serve;
// call Serve.
func Open(o Options) (*Engine, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	st, owned := o.Store, o.Store == nil
	if owned {
		var err error
		st, err = store.Open(store.Options{Dir: o.DataDir, PingLogLimit: o.PingLogLimit})
		if err != nil {
			if errors.Is(err, store.ErrLocked) {
				return nil, fmt.Errorf("data directory %s is in use by another vigilo server: %w", o.DataDir, err)
			}
			return nil, err
		}
	}
	e := &Engine{o: o, store: st, ownStore: owned, stop: make(chan struct{})}
	if err := e.open(); err != nil {
		if e.monitors != nil {
			e.monitors.Drain(time.Second) // its probe workers and mailbox workers
		}
		if owned {
			st.Close()
		}
		return nil, err
	}
	return e, nil
}

func (e *Engine) open() error {
	var err error
	e.wheel, err = wheel.New(wheel.Options{Tick: e.o.Tick, Start: e.o.Now()})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.system = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return e.o.Logger.With("lib", "protoactor")
	}))
	if err := e.openMetrics(); err != nil {
		return err
	}
	if err := e.openAlerts(); err != nil {
		return err
	}
	e.reg, err = actors.New(actors.Options{
		Store: e.store, Wheel: e.wheel, System: e.system,
		Now: e.o.Now, IdleTimeout: e.o.ActorIdle, Logger: e.o.Logger, Metrics: e.metrics.actors,
		OnTransition: e.o.OnTransition, Alerter: e.outbox,
	})
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	if err := e.loadProjects(); err != nil {
		return err
	}
	start := time.Now()
	if err := e.store.AllChecks(func(c *store.Check) error { return e.reg.Load(c) }); err != nil {
		return fmt.Errorf("engine: load checks: %w", err)
	}
	e.LoadTime = time.Since(start)
	if err := e.openMonitors(); err != nil {
		return err
	}
	if err := e.loadMonitors(); err != nil {
		return err
	}
	if err := e.outbox.Start(); err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	e.ingest, err = ingest.New(e, ingest.Options{BodyLimit: e.o.PingBodyLimit, Metrics: e.metrics.pings})
	if err != nil {
		return err
	}
	e.hc, err = healthchecks.New(e, healthchecks.Options{
		BaseURL: e.o.BaseURL, Periods: e.periods(), Now: e.o.Now,
	})
	if err != nil {
		return err
	}
	if err := e.openDialects(); err != nil {
		return err
	}
	if e.o.AdminKey != "" {
		if e.admin, err = admin.New(e, e.o.AdminKey); err != nil {
			return err
		}
	}
	return nil
}

// CheckCount is the number of checks.
func (e *Engine) CheckCount() int { return e.reg.Len() }

// Registry exposes the actor registry (for benchmarks and metrics).
func (e *Engine) Registry() *actors.Registry { return e.reg }

// Store exposes the store (for benchmarks and metrics).
func (e *Engine) Store() *store.Store { return e.store }

// Advance fires every deadline due at now and passivates the check actors idle
// since Options.ActorIdle. The engine calls it every tick unless
// Options.ManualClock is set.
func (e *Engine) Advance(now time.Time) {
	e.wheel.Advance(now, e.fire)
	e.reg.FireGroups()
	e.reg.Passivate(now)
}

// PruneIncidents deletes the resolved incidents that started more than
// store.IncidentRetention ago, of every check and monitor, and returns how many.
func (e *Engine) PruneIncidents() (int, error) {
	return e.store.PruneIncidents(e.o.Now().Add(-store.IncidentRetention))
}

// pruneIncidents is PruneIncidents for the periodic pass, which has no caller
// to return an error to.
func (e *Engine) pruneIncidents() {
	if n, err := e.PruneIncidents(); err != nil {
		e.o.Logger.Error("incident retention", "err", err)
	} else if n > 0 {
		e.o.Logger.Info("incident retention", "deleted", n)
	}
}

// every runs fn every d until Close, on a goroutine the engine waits for.
func (e *Engine) every(d time.Duration, fn func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-e.stop:
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

// Serve serves HTTP on ln until Close; it returns at once. With no listener it
// listens on Options.Listen.
func (e *Engine) Serve(ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", e.o.Listen); err != nil {
			return fmt.Errorf("listen %s: %w", e.o.Listen, err)
		}
	}
	maxBody := 4 << 20
	if e.o.PingBodyLimit+1 > maxBody {
		maxBody = e.o.PingBodyLimit + 1
	}
	e.server = &fasthttp.Server{
		Handler:               e.route,
		Name:                  "vigilo",
		MaxRequestBodySize:    maxBody,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		NoDefaultContentType:  true,
		NoDefaultServerHeader: true,
		Logger:                fasthttpLogger{e.o.Logger},
	}
	if err := e.Start(); err != nil {
		ln.Close()
		return err
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := e.server.Serve(ln); err != nil {
			e.o.Logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// Start runs the engine's clock and its metrics listener, if any, without
// serving HTTP: Serve calls it, and a host that serves Handler itself (a
// cluster node) calls it instead. Call it once.
func (e *Engine) Start() error {
	if err := e.serveMetrics(); err != nil {
		return err
	}
	if !e.o.ManualClock {
		e.every(e.o.Tick, func() { e.Advance(e.o.Now()) })
		if e.o.PruneEvery > 0 {
			e.every(e.o.PruneEvery, e.pruneIncidents)
		}
	}
	e.serving.Store(true)
	return nil
}

// Handler answers every API and ping request, as Serve's server does.
func (e *Engine) Handler() fasthttp.RequestHandler { return e.route }

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...), "lib", "fasthttp")
}

func (e *Engine) route(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch {
	case hasPrefix(path, ingest.Prefix):
		e.ingest.Serve(ctx)
	// Before Healthchecks.io's "/api/v", which would take Better Uptime's paths too.
	case hasPrefix(path, betteruptime.PingPrefix):
		e.timePing(ctx, ingest.DialectBetterUptime, e.betteruptime.Serve)
	case hasPrefix(path, betteruptime.Prefix):
		e.betteruptime.Serve(ctx)
	case hasPrefix(path, betteruptime.MonitorsPrefix):
		e.betteruptime.ServeMonitors(ctx)
	case hasPrefix(path, opsgenie.Prefix) && isOpsgeniePing(path):
		e.timePing(ctx, ingest.DialectOpsgenie, e.opsgenie.Serve)
	case hasPrefix(path, opsgenie.Prefix):
		e.opsgenie.Serve(ctx)
	case hasPrefix(path, healthchecks.Prefix):
		e.hc.Serve(ctx)
	case hasPrefix(path, admin.Prefix) && e.admin != nil:
		e.admin.Serve(ctx)
	case string(path) == MetricsPath && e.o.MetricsListen == "":
		e.metrics.handler(ctx)
	case string(path) == "/healthz":
		if e.serving.Load() && !e.closed.Load() {
			ctx.SetBodyString("ok")
		} else {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		}
	default:
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error": "not found"}`)
	}
}

func hasPrefix(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// Close stops serving (finishing requests in flight), stops the wheel, lets every
// actor finish what it was sent, and closes the store cleanly.
func (e *Engine) Close() error {
	if !e.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Shutdown returns once every connection is closed, but each server's
	// worker-pool cleaner sleeps up to fasthttp's MaxIdleWorkerDuration
	// (10 s) before it sees the stop, and it holds the server and so its
	// handler: dropping the handlers lets a closed engine's heap (800 MB at
	// 1M checks) be collected at once, not 10 s later.
	if e.server != nil {
		if err := e.server.Shutdown(); err != nil {
			e.o.Logger.Warn("http shutdown", "err", err)
		}
		e.server.Handler = nil
	}
	if e.metrics.server != nil {
		if err := e.metrics.server.Shutdown(); err != nil {
			e.o.Logger.Warn("metrics http shutdown", "err", err)
		}
		e.metrics.server.Handler = nil
	}
	close(e.stop)
	e.wg.Wait()
	if !e.monitors.Drain(30 * time.Second) {
		e.o.Logger.Warn("monitors still busy at shutdown")
	}
	if !e.reg.Drain(30 * time.Second) {
		e.o.Logger.Warn("actors still busy at shutdown")
	}
	e.system.Shutdown()
	e.outbox.Close()
	if !e.ownStore {
		return nil
	}
	if err := e.store.Close(); err != nil {
		return fmt.Errorf("close store %s: %w", e.o.DataDir, err)
	}
	return nil
}
