package actors

import (
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/wheel"
)

func TestMetrics(t *testing.T) {
	st, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	t0 := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	w, err := wheel.New(wheel.Options{Start: t0})
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem()
	t.Cleanup(sys.Shutdown)

	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{Store: st, Wheel: w, System: sys, Now: clock, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Create(&store.Check{ID: uuid.New(), ProjectID: uuid.New(), Kind: "simple",
		Timeout: time.Minute, Grace: time.Minute, Created: t0, Status: "new"})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Get(rec.ID)
	if err := r.Ping(c, heartbeat.Event{Kind: heartbeat.Success}, store.Ping{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Ping(c, heartbeat.Event{Kind: heartbeat.Log}, store.Ping{}); err != nil {
		t.Fatal(err)
	}
	// Past timeout and grace: the wheel fires up → grace → down, 50 ms late.
	for _, d := range []time.Duration{time.Minute, 2 * time.Minute} {
		mu.Lock()
		now = t0.Add(d + 50*time.Millisecond)
		mu.Unlock()
		w.Advance(clock(), r.Fire)
		if !r.Drain(5 * time.Second) {
			t.Fatal("not drained")
		}
	}

	for name, want := range map[string]float64{
		`success`: 1, `log`: 1, `fail`: 0, `start`: 0, `ign`: 0,
	} {
		if got := testutil.ToFloat64(m.pingsVec.WithLabelValues(name)); got != want {
			t.Errorf("vigilo_pings_total{kind=%q} = %v, want %v", name, got, want)
		}
	}
	if got := testutil.ToFloat64(m.flipUp); got != 1 {
		t.Errorf(`vigilo_flips_total{to="up"} = %v, want 1`, got)
	}
	if got := testutil.ToFloat64(m.flipDown); got != 1 {
		t.Errorf(`vigilo_flips_total{to="down"} = %v, want 1`, got)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		x := mf.GetMetric()[0]
		got[mf.GetName()] = x.GetCounter().GetValue() + x.GetGauge().GetValue() + float64(x.GetHistogram().GetSampleCount())
		if mf.GetName() == "vigilo_deadline_lateness_seconds" {
			if h := x.GetHistogram(); h.GetSampleSum() < 0.09 || h.GetSampleSum() > 0.11 {
				t.Errorf("lateness sum %v, want 2 × 50 ms", h.GetSampleSum())
			}
		}
	}
	for name, want := range map[string]float64{
		"vigilo_checks": 1, "vigilo_actors": 1, "vigilo_actor_spawns_total": 1, "vigilo_actor_wakes_total": 1,
		"vigilo_actor_messages_pending": 0, "vigilo_deadline_lateness_seconds": 2,
		"vigilo_actor_commit_seconds": 4, // two pings, two deadlines
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	// By status: the check is down now; a second (cron, paused) one, then deleting
	// the first, move the counts.
	byStatus := func(kind, status string) float64 {
		return testutil.ToFloat64(prometheus.CollectorFunc(func(ch chan<- prometheus.Metric) {
			ch <- prometheus.MustNewConstMetric(m.byStatus, prometheus.GaugeValue,
				float64(r.CountByStatus(kind, mustStatus(t, status))), kind, status)
		}))
	}
	cron, err := r.Create(&store.Check{ID: uuid.New(), ProjectID: uuid.New(), Kind: "cron", Schedule: "* * * * *",
		TZ: "UTC", Grace: time.Minute, Created: t0, Status: "paused"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind, status string
		want         float64
	}{{"simple", "down", 1}, {"simple", "up", 0}, {"simple", "new", 0}, {"cron", "paused", 1}, {"cron", "down", 0}} {
		if got := byStatus(tc.kind, tc.status); got != tc.want {
			t.Errorf("checks %s %s = %v, want %v", tc.kind, tc.status, got, tc.want)
		}
	}
	if res := r.Delete(c); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := r.Resume(r.Get(cron.ID)); res.Err != nil {
		t.Fatal(res.Err)
	}
	if byStatus("simple", "down") != 0 || byStatus("cron", "paused") != 0 || byStatus("cron", "new") != 1 {
		t.Errorf("after delete and resume: simple down %v, cron paused %v, cron new %v",
			byStatus("simple", "down"), byStatus("cron", "paused"), byStatus("cron", "new"))
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

func mustStatus(t *testing.T, s string) heartbeat.Status {
	t.Helper()
	st, err := heartbeat.ParseStatus(s)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
