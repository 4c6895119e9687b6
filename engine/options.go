package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilo/vigilo/api/wire"
	"github.com/vigilo/vigilo/engine/store"
)

// Options configures a node. Every field has a documented default except DataDir.
type Options struct {
	// DataDir is where Pebble keeps everything; required (the CLI defaults it to ./data).
	DataDir string
	// Store, when set, is the already open store of DataDir, which the
	// engine uses and does not close: a cluster node's, whose commits are
	// proposals to its replicated log (package cluster). Nil: the engine
	// opens DataDir's store and owns it.
	Store *store.Store
	// Listen is the HTTP address; default 127.0.0.1:8000.
	Listen string
	// BaseURL prefixes the URLs the APIs hand out (ping_url, update_url); default
	// "http://" + Listen.
	BaseURL string
	// MinPeriod is the shortest timeout and grace accepted; default 60s as
	// Healthchecks.io, down to 1s for tests and demos. The longest is 365 days.
	MinPeriod time.Duration
	// APIKey and ReadOnlyKey are the default project's keys. When neither is given
	// and no project exists, the first start makes the default project with random
	// keys and reports them once (Engine.BootstrapKeys).
	APIKey, ReadOnlyKey string
	// AdminKey enables the admin API; empty disables it.
	AdminKey string
	// Owns, when set, says whether an id or key this engine is about to make
	// is its own: a cluster runs one engine per virtual shard, and any node
	// must tell a request's shard from the request alone, so a shard's
	// engine makes only check and project ids (their 16 bytes), key hashes
	// (the SHA-256 of a read-write or read-only key) and ping keys (their
	// bytes) that the cluster's hash puts in its shard, drawing again until
	// one does. It also bootstraps the default project only if it owns
	// DefaultProjectID. Nil: everything is the engine's, the single node.
	Owns func(b []byte) bool
	// PingBodyLimit is the largest ping body accepted, in bytes; default 100 KB.
	PingBodyLimit int
	// PingLogLimit is how many pings are kept per check; default 100.
	PingLogLimit int
	// Tick is the wheel's resolution: deadlines and probes fire at most one
	// tick late; default 10ms. Finer than the wheel's own default because a
	// monitor's probe lateness is counted from its due instant (issue 7's
	// p99 ≤ 100 ms cannot hold if the tick alone is 100 ms), and 100 wheel
	// advances a second cost an idle node about 0.5% of a core.
	Tick time.Duration
	// ActorIdle is how long a check's actor lives without messages; default 30s.
	ActorIdle time.Duration
	// PruneEvery is how often incidents older than store.IncidentRetention are
	// deleted, in one pass over them all (Engine.PruneIncidents); default 1h,
	// negative never. Not done on each flip: a burst of checks going down
	// would pay an iterator each.
	PruneEvery time.Duration
	// Now is the clock; default time.Now. With ManualClock the engine does not drive
	// the wheel itself: the caller calls Advance (tests with a fake clock).
	Now         func() time.Time
	ManualClock bool
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registry receives the engine's Prometheus metrics; nil makes a new one
	// (never the global registry). One engine per registry: a second engine's
	// families would collide. See Engine.MetricsRegistry.
	Registry *prometheus.Registry
	// MetricsListen is a separate address serving only /metrics; empty serves
	// /metrics on Listen.
	MetricsListen string
	// OnTransition, if not nil, is told of every status change a deadline caused
	// (actors.Options.OnTransition); for benchmarks.
	OnTransition func(id uuid.UUID, from, to string, deadline, at time.Time)

	// DenyPrivateTargets refuses alert deliveries (and probes) to loopback,
	// private and link-local addresses, checked at connect time; off by default,
	// on for SaaS deployments where customers name the targets.
	DenyPrivateTargets bool
	// NotifyMaxBackoff caps the wait between delivery attempts; default 60s.
	NotifyMaxBackoff time.Duration
	// NotifyMaxAge is how long a notification is retried; default 24h.
	NotifyMaxAge time.Duration
	// NotifyTimeout bounds one delivery attempt; default 10s.
	NotifyTimeout time.Duration
	// NotifyFence, if set, runs before every delivery attempt; an error
	// holds the attempt back (retried later, no attempt recorded). A
	// cluster node sets it to confirm it still holds the state, so that an
	// old leader cannot alert once another node has taken over.
	NotifyFence func(context.Context) error

	// Region labels this node's monitor response times (Better Uptime's
	// regions); default "us".
	Region string
	// RDAPServer is the RDAP base URL domain expiry is asked at; default
	// https://rdap.org/ (which redirects to each registry's server).
	RDAPServer string
	// PerMonitorMetrics adds probe_success and probe_duration_seconds series per
	// monitor (blackbox_exporter's names) to /metrics: one series per monitor,
	// so for small deployments only. Off by default.
	PerMonitorMetrics bool
	// ProbeWorkers bounds the monitor probes in flight; default 512.
	ProbeWorkers int
	// OnProbe, if not nil, is told of every probe: when it was due, when it
	// started and its verdict (actors.MonitorOptions.OnProbe); for benchmarks.
	OnProbe func(id uuid.UUID, due, started time.Time, up bool)
}

// MaxPeriod is the longest timeout or grace a check may have.
const MaxPeriod = 365 * 24 * time.Hour

// periods is the one period rule every dialect applies: --min-period to MaxPeriod.
func (e *Engine) periods() wire.Periods {
	return wire.Periods{MinPeriod: e.o.MinPeriod, MaxPeriod: MaxPeriod}
}

// WithDefaults fills zero fields with their documented defaults.
func (o Options) WithDefaults() Options {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8000"
	}
	if o.BaseURL == "" {
		o.BaseURL = "http://" + o.Listen
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	if o.MinPeriod == 0 {
		o.MinPeriod = time.Minute
	}
	if o.PingBodyLimit == 0 {
		o.PingBodyLimit = 100_000
	}
	if o.PingLogLimit == 0 {
		o.PingLogLimit = 100
	}
	if o.Tick == 0 {
		o.Tick = 10 * time.Millisecond
	}
	if o.ProbeWorkers == 0 {
		o.ProbeWorkers = 512
	}
	if o.ActorIdle == 0 {
		o.ActorIdle = 30 * time.Second
	}
	if o.PruneEvery == 0 {
		o.PruneEvery = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NotifyMaxBackoff == 0 {
		o.NotifyMaxBackoff = time.Minute
	}
	if o.NotifyMaxAge == 0 {
		o.NotifyMaxAge = 24 * time.Hour
	}
	if o.Region == "" {
		o.Region = "us"
	}
	if o.NotifyTimeout == 0 {
		o.NotifyTimeout = 10 * time.Second
	}
	return o
}

// Validate reports the first thing wrong with o.
func (o Options) Validate() error {
	switch {
	case o.DataDir == "":
		return errors.New("engine: DataDir is required")
	case o.MinPeriod < time.Second || o.MinPeriod > MaxPeriod:
		return fmt.Errorf("engine: min period %v is outside 1s..%v", o.MinPeriod, MaxPeriod)
	case o.PingBodyLimit < 0:
		return fmt.Errorf("engine: ping body limit %d is negative", o.PingBodyLimit)
	case o.PingLogLimit < 1:
		return fmt.Errorf("engine: ping log limit %d is below 1", o.PingLogLimit)
	case o.Tick < time.Millisecond || o.Tick > time.Minute:
		return fmt.Errorf("engine: tick %v is outside 1ms..1m", o.Tick)
	case o.ActorIdle < 0:
		return fmt.Errorf("engine: actor idle %v is negative", o.ActorIdle)
	case o.NotifyMaxBackoff < time.Second:
		return fmt.Errorf("engine: notify max backoff %v is below 1s (the first retry comes within a second)", o.NotifyMaxBackoff)
	case o.NotifyMaxAge < 0 || o.NotifyTimeout < 0:
		return errors.New("engine: notify max age and timeout must not be negative")
	case o.ReadOnlyKey != "" && o.ReadOnlyKey == o.APIKey:
		return errors.New("engine: the read-only key must differ from the API key")
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return fmt.Errorf("engine: listen address %q: %w", o.Listen, err)
	}
	if _, _, err := net.SplitHostPort(o.MetricsListen); o.MetricsListen != "" && err != nil {
		return fmt.Errorf("engine: metrics listen address %q: %w", o.MetricsListen, err)
	}
	return nil
}
