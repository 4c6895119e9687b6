package engine

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"
)

func TestMetricsRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector()) // a caller's own: tolerated
	e, err := Open(Options{DataDir: t.TempDir(), MinPeriod: time.Second, APIKey: "k", ReadOnlyKey: "r",
		ManualClock: true, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.MetricsRegistry() != reg {
		t.Fatal("the engine did not use the given registry")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"vigilo_checks", "vigilo_actors", "vigilo_pings_total", "vigilo_flips_total",
		"vigilo_ping_requests_total", "vigilo_ping_handling_seconds", "vigilo_wheel_timers",
		"vigilo_store_commits_total", "vigilo_pebble_read_amplification", "go_goroutines", "process_start_time_seconds"} {
		if !names[want] {
			t.Errorf("%s not gathered", want)
		}
	}
	// vigilo_deadline_lateness_seconds has no observation yet but is exposed empty.
	if n, err := testutil.GatherAndCount(reg, "vigilo_deadline_lateness_seconds"); err != nil || n != 1 {
		t.Errorf("vigilo_deadline_lateness_seconds: %d, %v", n, err)
	}

	// Served on the main listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serve(ln); err != nil {
		t.Fatal(err)
	}
	code, body, err := fasthttp.Get(nil, "http://"+ln.Addr().String()+MetricsPath)
	if err != nil || code != 200 || !strings.Contains(string(body), "\nvigilo_checks 0\n") {
		t.Fatalf("GET /metrics: %d %v\n%s", code, err, body)
	}
}

func TestMetricsTwoEnginesOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	o := Options{MinPeriod: time.Second, APIKey: "k", ReadOnlyKey: "r", ManualClock: true, Registry: reg}
	o.DataDir = t.TempDir()
	e, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	o.DataDir = t.TempDir()
	if e2, err := Open(o); err == nil {
		e2.Close()
		t.Fatal("a second engine registered the same families on one registry")
	}
}
