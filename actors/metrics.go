package actors

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilo/vigilo/actors/heartbeat"
)

// Metrics are the actors' Prometheus metrics. Make one with NewMetrics and pass it
// in Options.Metrics; nil means no metrics (tests, benchmarks). Counts the
// Registry already keeps (checks, resident actors, spawns, messages pending) are
// read at scrape time; only deadline lateness, commit time, flips and pings are
// measured as they happen.
// A Metrics serves one Registry.
type Metrics struct {
	lateness prometheus.Histogram
	commit   prometheus.Histogram
	flipUp   prometheus.Counter
	flipDown prometheus.Counter
	pings    map[string]prometheus.Counter // by heartbeat ping kind, a fixed set

	reg atomic.Pointer[Registry]

	checks, resident, spawns, wakes, pending *prometheus.Desc
	byStatus                                 *prometheus.Desc
	flips, pingsVec                          *prometheus.CounterVec
}

// pingKinds are the kinds heartbeat.Apply logs a ping as.
var pingKinds = []string{"success", "start", "fail", "log", "ign"}

// NewMetrics makes the actors' metrics and registers them on r.
func NewMetrics(r prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigilo_deadline_lateness_seconds",
			Help: "How late a check's actor handled its due deadline (now minus due): wheel tick plus mailbox delay.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2,
				0.25, 0.5, 1, 2.5, 5},
		}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "vigilo_actor_commit_seconds",
			Help: "Time from a check actor handing its batch to the store until it is durable (group commit queue, write and WAL fsync).",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				0.1, 0.25, 0.5, 1, 2.5},
		}),
		flips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigilo_flips_total",
			Help: "Status flips recorded, by the status flipped to.",
		}, []string{"to"}),
		pingsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigilo_pings_total",
			Help: "Pings logged by check actors, by kind (success, start, fail, log, ign).",
		}, []string{"kind"}),
		pings:  make(map[string]prometheus.Counter, len(pingKinds)),
		checks: prometheus.NewDesc("vigilo_checks", "Checks resident in the registry (all of them).", nil, nil),
		byStatus: prometheus.NewDesc("vigilo_checks_by_status",
			"Checks by kind (simple, cron) and stored status (new, up, grace, down, paused, started), as last written by each check's actor.",
			[]string{"kind", "status"}, nil),
		resident: prometheus.NewDesc("vigilo_actors", "Running (not passivated) check actors.", nil, nil),
		spawns:   prometheus.NewDesc("vigilo_actor_spawns_total", "Check actors spawned since start.", nil, nil),
		wakes: prometheus.NewDesc("vigilo_actor_wakes_total",
			"Checks given an actor since start (spawned, or a vacant one reused).", nil, nil),
		pending: prometheus.NewDesc("vigilo_actor_messages_pending",
			"Messages delivered to check actors and not yet handled, plus their commits not yet durable (mailbox backlog).", nil, nil),
	}
	m.flipUp = m.flips.WithLabelValues("up")
	m.flipDown = m.flips.WithLabelValues("down")
	for _, k := range pingKinds {
		m.pings[k] = m.pingsVec.WithLabelValues(k)
	}
	if err := r.Register(m); err != nil {
		return nil, err
	}
	return m, nil
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.lateness.Describe(ch)
	m.commit.Describe(ch)
	m.flips.Describe(ch)
	m.pingsVec.Describe(ch)
	ch <- m.checks
	ch <- m.resident
	ch <- m.spawns
	ch <- m.wakes
	ch <- m.pending
	ch <- m.byStatus
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.lateness.Collect(ch)
	m.commit.Collect(ch)
	m.flips.Collect(ch)
	m.pingsVec.Collect(ch)
	var checks, resident, spawns, wakes, pending float64
	if r := m.reg.Load(); r != nil {
		checks = float64(r.Len())
		resident = float64(r.Resident())
		spawns = float64(r.Spawns())
		wakes = float64(r.Wakes())
		pending = float64(r.pending.Load())
	}
	ch <- prometheus.MustNewConstMetric(m.checks, prometheus.GaugeValue, checks)
	ch <- prometheus.MustNewConstMetric(m.resident, prometheus.GaugeValue, resident)
	ch <- prometheus.MustNewConstMetric(m.spawns, prometheus.CounterValue, spawns)
	ch <- prometheus.MustNewConstMetric(m.wakes, prometheus.CounterValue, wakes)
	ch <- prometheus.MustNewConstMetric(m.pending, prometheus.GaugeValue, pending)
	for _, kind := range []string{"simple", "cron"} {
		for st := range heartbeat.NumStatuses {
			var n float64
			if r := m.reg.Load(); r != nil {
				n = float64(r.CountByStatus(kind, heartbeat.Status(st)))
			}
			ch <- prometheus.MustNewConstMetric(m.byStatus, prometheus.GaugeValue, n, kind, heartbeat.Status(st).String())
		}
	}
}

func (m *Metrics) ping(kind string) {
	if c := m.pings[kind]; c != nil {
		c.Inc()
	}
}

func (m *Metrics) flip(to string) {
	switch to {
	case "up":
		m.flipUp.Inc()
	case "down":
		m.flipDown.Inc()
	}
}
