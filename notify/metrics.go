package notify

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the outbox's Prometheus metrics. Labels are bounded: channel kinds
// and results, never channel or check ids.
type Metrics struct {
	outbox  atomic.Pointer[Outbox]
	created prometheus.Counter
	results *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// NewMetrics makes the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigilo_notifications_created_total",
			Help: "Notifications made from status flips.",
		}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigilo_notification_attempts_total",
			Help: "Delivery attempts by channel kind and result (delivered, retry, failed, dropped; fenced: held back, this node no longer owning the outbox).",
		}, []string{"kind", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigilo_notification_attempt_duration_seconds",
			Help:    "Time one delivery attempt took, by channel kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 9),
		}, []string{"kind"}),
	}
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigilo_notifications_pending",
		Help: "Notifications in the outbox: not yet delivered or given up.",
	}, func() float64 {
		if x := m.outbox.Load(); x != nil {
			return float64(x.Pending())
		}
		return 0
	})
	for _, c := range []prometheus.Collector{m.created, m.results, m.latency, pending} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) result(kind, result string) {
	m.results.WithLabelValues(kind, result).Inc()
}
