package ingest

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Dialects whose ping URLs are counted.
const (
	DialectHealthchecks = "healthchecks"
	DialectOpsgenie     = "opsgenie"
	DialectBetterUptime = "betteruptime"
)

// codes are the statuses a ping can be answered with; any other is counted as
// "other", so the code label stays bounded.
var codes = []int{200, 201, 202, 400, 401, 403, 404, 405, 409, 413, 429, 500, 503}

// Metrics are the ping requests' Prometheus metrics, by dialect: the Healthchecks.io
// ping URLs (this package's Handler) and, counted by the engine, the Opsgenie and
// Better Uptime ping URLs. Make one with NewMetrics and pass it in Options.Metrics;
// nil means no metrics.
type Metrics struct {
	requests *prometheus.CounterVec
	handling *prometheus.HistogramVec
	// Children made once, read-only after NewMetrics.
	counts map[countKey]prometheus.Counter
	times  map[string]prometheus.Observer
}

type countKey struct {
	dialect string
	code    int
}

var dialects = []string{DialectHealthchecks, DialectOpsgenie, DialectBetterUptime}

// NewMetrics makes the ping metrics and registers them on r.
func NewMetrics(r prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigilo_ping_requests_total",
			Help: "Ping requests answered, by dialect and HTTP status code.",
		}, []string{"dialect", "code"}),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vigilo_ping_handling_seconds",
			Help: "Time to handle a ping request, including its durable commit, by dialect.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				0.1, 0.25, 0.5, 1, 2.5},
		}, []string{"dialect"}),
	}
	if err := r.Register(m.requests); err != nil {
		return nil, err
	}
	if err := r.Register(m.handling); err != nil {
		r.Unregister(m.requests)
		return nil, err
	}
	// The Healthchecks.io dialect's usual answers are made ahead (so they are
	// exposed from the start and a ping only increments); others on first use.
	m.counts = make(map[countKey]prometheus.Counter)
	m.times = make(map[string]prometheus.Observer)
	for _, d := range dialects {
		m.times[d] = m.handling.WithLabelValues(d)
	}
	for _, c := range []int{200, 201, 400, 404, 409, 413, 503} {
		m.counts[countKey{DialectHealthchecks, c}] = m.requests.WithLabelValues(DialectHealthchecks, strconv.Itoa(c))
	}
	return m, nil
}

// Observe counts one ping request of dialect answered with code after took.
func (m *Metrics) Observe(dialect string, code int, took time.Duration) {
	if m == nil {
		return
	}
	if c, ok := m.counts[countKey{dialect, code}]; ok {
		c.Inc()
	} else {
		label := "other"
		for _, c := range codes {
			if c == code {
				label = strconv.Itoa(code)
				break
			}
		}
		m.requests.WithLabelValues(dialect, label).Inc()
	}
	if h, ok := m.times[dialect]; ok {
		h.Observe(took.Seconds())
	} else {
		m.handling.WithLabelValues(dialect).Observe(took.Seconds())
	}
}
