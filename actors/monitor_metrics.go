package actors

import (
	"sync"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilo/vigilo/actors/probe"
)

// MonitorMetrics are the probes' Prometheus metrics: results and durations by
// monitor type (bounded: ten types), and, only when PerMonitor is set, a
// probe_success / probe_duration_seconds family per monitor in
// blackbox_exporter's naming, for deployments small enough to afford a series
// per monitor.
type MonitorMetrics struct {
	results  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// byType holds each monitor type's series (*typeSeries), looked up once
	// rather than by label values at every probe.
	byType sync.Map

	perMonitor bool
	mu         sync.Mutex
	last       map[uuid.UUID]lastProbe
	success    *prometheus.Desc
	seconds    *prometheus.Desc
}

type typeSeries struct {
	up, down prometheus.Counter
	seconds  prometheus.Observer
}

func (m *MonitorMetrics) series(kind string) *typeSeries {
	if v, ok := m.byType.Load(kind); ok {
		return v.(*typeSeries)
	}
	// WithLabelValues exports a series the moment it makes it: the histogram
	// first, so that a scrape that sees a type's probe count also sees its
	// durations.
	seconds := m.duration.WithLabelValues(kind)
	down := m.results.WithLabelValues(kind, "down")
	up := m.results.WithLabelValues(kind, "up")
	v, _ := m.byType.LoadOrStore(kind, &typeSeries{up: up, down: down, seconds: seconds})
	return v.(*typeSeries)
}

type lastProbe struct {
	kind, name string
	up         bool
	seconds    float64
}

// NewMonitorMetrics makes the probes' metrics and registers them on r.
func NewMonitorMetrics(r prometheus.Registerer, perMonitor bool) (*MonitorMetrics, error) {
	m := &MonitorMetrics{
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigilo_probes_total",
			Help: "Monitor probes by monitor type and result (up, down).",
		}, []string{"type", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigilo_probe_duration_seconds",
			Help:    "Total time of one probe, by monitor type.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"type"}),
		perMonitor: perMonitor,
		last:       make(map[uuid.UUID]lastProbe),
		success: prometheus.NewDesc("probe_success", "Whether the monitor's last probe succeeded (per monitor; opt-in).",
			[]string{"monitor", "name", "type"}, nil),
		seconds: prometheus.NewDesc("probe_duration_seconds", "Duration of the monitor's last probe (per monitor; opt-in).",
			[]string{"monitor", "name", "type"}, nil),
	}
	if err := r.Register(m); err != nil {
		return nil, err
	}
	return m, nil
}

// Describe implements prometheus.Collector.
func (m *MonitorMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.results.Describe(ch)
	m.duration.Describe(ch)
	if m.perMonitor {
		ch <- m.success
		ch <- m.seconds
	}
}

// Collect implements prometheus.Collector.
func (m *MonitorMetrics) Collect(ch chan<- prometheus.Metric) {
	m.results.Collect(ch)
	m.duration.Collect(ch)
	if !m.perMonitor {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, l := range m.last {
		v := 0.0
		if l.up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(m.success, prometheus.GaugeValue, v, id.String(), l.name, l.kind)
		ch <- prometheus.MustNewConstMetric(m.seconds, prometheus.GaugeValue, l.seconds, id.String(), l.name, l.kind)
	}
}

func (m *MonitorMetrics) probed(id uuid.UUID, name string, t *probe.Target, r *probe.Result) {
	ts := m.series(t.Type)
	if r.Up {
		ts.up.Inc()
	} else {
		ts.down.Inc()
	}
	ts.seconds.Observe(r.Total.Seconds())
	if m.perMonitor {
		m.mu.Lock()
		m.last[id] = lastProbe{kind: t.Type, name: name, up: r.Up, seconds: r.Total.Seconds()}
		m.mu.Unlock()
	}
}

func (m *MonitorMetrics) forget(id uuid.UUID) {
	if m.perMonitor {
		m.mu.Lock()
		delete(m.last, id)
		m.mu.Unlock()
	}
}
