package engine

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/vigilo/vigilo/actors"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/ingest"
	"github.com/vigilo/vigilo/notify"
	"github.com/vigilo/vigilo/wheel"
)

// MetricsPath is where the Prometheus exposition is served.
const MetricsPath = "/metrics"

// engineMetrics is what the engine keeps of the metrics it wires.
type engineMetrics struct {
	reg     *prometheus.Registry
	actors  *actors.Metrics
	pings   *ingest.Metrics
	notify  *notify.Metrics
	probes  *actors.MonitorMetrics
	handler fasthttp.RequestHandler
	server  *fasthttp.Server // on Options.MetricsListen, if set
}

// openMetrics registers every package's metrics on the engine's registry (the
// given one or a new one, never the global registry), plus the Go and process
// collectors. Called before the registry and the ping handler are made, which take
// their metrics from it; the store and the wheel exist already.
func (e *Engine) openMetrics() error {
	reg := e.o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &engineMetrics{reg: reg}
	var err error
	if m.actors, err = actors.NewMetrics(reg); err != nil {
		return fmt.Errorf("engine: metrics: %w", err)
	}
	if m.pings, err = ingest.NewMetrics(reg); err != nil {
		return fmt.Errorf("engine: metrics: %w", err)
	}
	if m.probes, err = actors.NewMonitorMetrics(reg, e.o.PerMonitorMetrics); err != nil {
		return fmt.Errorf("engine: metrics: %w", err)
	}
	if m.notify, err = notify.NewMetrics(reg); err != nil {
		return fmt.Errorf("engine: metrics: %w", err)
	}
	if err := store.RegisterMetrics(reg, e.store); err != nil {
		return fmt.Errorf("engine: metrics: %w", err)
	}
	if err := wheel.RegisterMetrics(reg, e.wheel); err != nil {
		return fmt.Errorf("engine: metrics: %w", err)
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		// A registry the caller passed may hold them already.
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return fmt.Errorf("engine: metrics: %w", err)
		}
	}
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: promLogger{e}, ErrorHandling: promhttp.ContinueOnError,
	}))
	e.metrics = m
	return nil
}

// MetricsRegistry is the registry the engine's metrics are on.
func (e *Engine) MetricsRegistry() *prometheus.Registry { return e.metrics.reg }

type promLogger struct{ e *Engine }

func (l promLogger) Println(v ...any) { l.e.o.Logger.Warn(fmt.Sprint(v...), "lib", "promhttp") }

// serveMetrics starts the separate metrics listener when Options.MetricsListen is set.
func (e *Engine) serveMetrics() error {
	if e.o.MetricsListen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", e.o.MetricsListen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", e.o.MetricsListen, err)
	}
	e.metrics.server = &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			if string(ctx.Path()) == MetricsPath {
				e.metrics.handler(ctx)
				return
			}
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		},
		Name:                  "vigilo",
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		NoDefaultServerHeader: true,
		Logger:                fasthttpLogger{e.o.Logger},
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := e.metrics.server.Serve(ln); err != nil {
			e.o.Logger.Error("metrics server stopped", "err", err)
		}
	}()
	return nil
}

// timePing serves a ping of another dialect (Opsgenie, Better Uptime) and counts it
// in the ping metrics.
func (e *Engine) timePing(ctx *fasthttp.RequestCtx, dialect string, serve fasthttp.RequestHandler) {
	start := time.Now()
	serve(ctx)
	e.metrics.pings.Observe(dialect, ctx.Response.StatusCode(), time.Since(start))
}

// isOpsgeniePing reports whether path (under opsgenie.Prefix) is a heartbeat ping.
func isOpsgeniePing(path []byte) bool {
	const s = "/ping"
	if n := len(path); n > 0 && path[n-1] == '/' {
		path = path[:n-1]
	}
	return len(path) >= len(s) && string(path[len(path)-len(s):]) == s
}
