package wheel

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics registers on r the gauge vigilo_wheel_timers, read from w.Len at
// scrape time (it takes each shard's lock briefly; nothing is added to the wheel's
// own paths).
func RegisterMetrics(r prometheus.Registerer, w *Wheel) error {
	return r.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigilo_wheel_timers",
		Help: "Timers armed on the timing wheel (checks with a pending deadline).",
	}, func() float64 { return float64(w.Len()) }))
}
