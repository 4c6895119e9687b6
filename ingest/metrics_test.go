package ingest

import (
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
)

type fakeEngine struct{}

func (fakeEngine) Ping(uuid.UUID, heartbeat.Event, store.Ping) error { return nil }
func (fakeEngine) PingSlug(string, string, bool, heartbeat.Event, store.Ping) (bool, error) {
	return false, ErrNotFound
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(fakeEngine{}, Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/ping/" + uuid.NewString(), "/ping/" + uuid.NewString() + "/fail",
		"/ping/key/slug", "/ping/" + uuid.NewString() + "/999"} {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		h.Serve(&ctx)
	}
	m.Observe(DialectOpsgenie, 202, 0)
	m.Observe(DialectOpsgenie, 418, 0) // not in the code set: "other"
	for _, c := range []struct {
		dialect, code string
		want          float64
	}{
		{DialectHealthchecks, "200", 2}, {DialectHealthchecks, "404", 1}, {DialectHealthchecks, "400", 1},
		{DialectHealthchecks, "503", 0}, {DialectOpsgenie, "202", 1}, {DialectOpsgenie, "other", 1},
	} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(c.dialect, c.code)); got != c.want {
			t.Errorf("vigilo_ping_requests_total{dialect=%q,code=%q} = %v, want %v", c.dialect, c.code, got, c.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "vigilo_ping_handling_seconds"); err != nil || n != 3 {
		t.Errorf("vigilo_ping_handling_seconds: %d series, %v; want 3 dialects", n, err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	var nilMetrics *Metrics
	nilMetrics.Observe(DialectHealthchecks, 200, 0) // no metrics: no panic
}
