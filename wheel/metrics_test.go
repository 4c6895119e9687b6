package wheel

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsTimers(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	w, err := New(Options{Start: start})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := RegisterMetrics(reg, w); err != nil {
		t.Fatal(err)
	}
	var a, b Timer
	w.Schedule(&a, start.Add(time.Second))
	w.Schedule(&b, start.Add(time.Hour))
	want := `# HELP vigilo_wheel_timers Timers armed on the timing wheel (checks with a pending deadline).
# TYPE vigilo_wheel_timers gauge
vigilo_wheel_timers 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "vigilo_wheel_timers"); err != nil {
		t.Fatal(err)
	}
}
