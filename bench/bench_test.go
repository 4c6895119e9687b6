package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/engine"
)

// The harness re-executes its binary as a child: here, the test binary.
func TestMain(m *testing.M) {
	MaybeChild()
	os.Exit(m.Run())
}

func testOptions(t testing.TB) Options {
	return Options{
		Quick:    true,
		Checks:   3000,
		Duration: time.Second,
		Warmup:   250 * time.Millisecond,
		Conns:    32,
		Dir:      t.TempDir(),
		Exec:     []string{os.Args[0], "-test.run=^$"},
		Progress: io.Discard,
	}
}

// Every scenario, quick, against the real engine: the figures are sane and the JSON
// report has its documented keys. No timing thresholds.
func TestQuickRun(t *testing.T) {
	o := testOptions(t)
	var progress bytes.Buffer
	o.Progress = &progress
	rep, err := Run(o)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	if len(rep.Scenarios) != 9 {
		t.Fatalf("%d scenarios, want 9", len(rep.Scenarios))
	}
	cu := rep.Scenarios[8].(*CatchupResult)
	for name, c := range map[string]CatchupNode{"restart": cu.Restart, "join": cu.Join} {
		// Each shard's log was cut past the node: it catches up by a
		// snapshot of every shard, excised, and takes its share.
		if c.Seconds <= 0 || c.ShareSeconds < c.Seconds || c.Led == 0 || c.PeakRSSBytes <= 0 || c.DiskWrittenBytes <= 0 ||
			c.SnapshotsInstalled < 12 || c.SnapshotsExcised != c.SnapshotsInstalled || c.IngestedBytes <= 0 {
			t.Errorf("catchup: %s: %+v", name, c)
		}
	}
	if cu.PingsAcked != catchupQuickPings || cu.PingsLost != 0 || cu.ErrorCount != 0 || cu.StateBytes <= 0 {
		t.Errorf("catchup: %+v", cu)
	}
	cl := rep.Scenarios[7].(*ClusterResult)
	if cl.SingleNodePingsPerSecond <= 0 || cl.DurablePingsPerSecond <= 0 || cl.Ratio <= 0 || cl.PingsAcked <= 0 ||
		cl.PingsLost != 0 || cl.DuplicateFlipKeys != 0 || cl.SilentNotified != clusterSilent ||
		cl.FailoverSeconds <= 0 || cl.HoldingSeconds <= 0 || cl.Latency.P50 <= 0 {
		t.Errorf("cluster: %+v", cl)
	}
	api := rep.Scenarios[6].(*APIResult)
	if api.ErrorCount != 0 || api.Checks != o.Checks || len(api.Sizes) != 2 || api.Sizes[1] != o.Checks {
		t.Errorf("api: %+v", api)
	}
	for _, d := range apiDialects {
		for _, size := range api.Sizes {
			if v := api.CreatesPerSecond[d][strconv.Itoa(size)]; v <= 0 {
				t.Errorf("api: %s creates/s at %d = %v", d, size, v)
			}
		}
		for _, op := range []string{"get", "update", "delete"} {
			if l := api.Latency[d][op]; l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
				t.Errorf("api: %s %s latency %+v", d, op, l)
			}
		}
		if api.CreateRatio[d] <= 0 {
			t.Errorf("api: %s create ratio %v", d, api.CreateRatio[d])
		}
	}
	mon := rep.Scenarios[5].(*MonitorsResult)
	if mon.Monitors != QuickMonitors || mon.Failed != 0 || mon.Probes <= 0 || mon.ChecksPerSecond <= 0 ||
		mon.Connections <= 0 || mon.Lateness.P50 < 0 || mon.Lateness.P50 > mon.Lateness.P99 || mon.Lateness.P99 > mon.Lateness.Max {
		t.Errorf("monitors: %+v", mon)
	}
	// Each monitor is due at most ⌈window / period⌉ times in the window: the
	// sustained count cannot include a backlog.
	if most := int64(mon.Monitors) * int64(math.Ceil(mon.WindowSeconds/mon.FrequencySeconds)); mon.DueDone <= 0 || mon.DueDone > most {
		t.Errorf("monitors: %d probes due in the window done, want 1..%d", mon.DueDone, most)
	}
	al := rep.Scenarios[4].(*AlertsResult)
	if al.Checks != QuickAlertChecks || al.Delivered != int64(al.Checks) || al.Duplicates != 0 || al.Missed != 0 ||
		al.DeliveredSeconds <= 0 || al.Lateness.P99 <= 0 || al.BaselineLateness.P99 <= 0 {
		t.Errorf("alerts: %+v", al)
	}
	in := rep.Scenarios[0].(*IngestResult)
	if in.PingsPerSecond <= 0 || in.BaselinePingsPerSecond <= 0 || in.Requests <= 0 {
		t.Errorf("ingest: %+v", in)
	}
	// The cold run: many pings wake a passivated actor. At 3,000 checks each
	// is pinged about every 100 ms here, against a 50 ms idle time swept at
	// tick granularity, so about half find theirs still awake (0.498 was
	// seen); the hot run wakes each check once, far below.
	if in.ColdPingsPerSecond <= 0 || in.ColdErrors != 0 || in.ColdWakesPerPing < 0.25 || in.ColdLatency.P99 <= 0 || in.ColdRatioToBaseline <= 0 {
		t.Errorf("ingest cold run: %+v", in)
	}
	if in.ErrorCount != 0 || in.BaselineErrors != 0 {
		t.Errorf("ingest errors %d / %d: %s", in.ErrorCount, in.BaselineErrors, in.FirstError)
	}
	if l := in.Latency; l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
		t.Errorf("ingest latency %+v", l)
	}
	if in.LoadgenCPUShare <= 0 || in.LoadgenCPUShare >= 1 || in.Syncs == 0 || in.ActorSpawns == 0 {
		t.Errorf("ingest: cpu share %v, syncs %d, spawns %d", in.LoadgenCPUShare, in.Syncs, in.ActorSpawns)
	}
	dl := rep.Scenarios[1].(*DeadlinesResult)
	if dl.Missed != 0 || dl.FalseTransitions != 0 {
		t.Errorf("deadlines: %d missed, %d false transitions", dl.Missed, dl.FalseTransitions)
	}
	if b, s, c := deadlinesGroups(o.Checks); dl.Burst != b || dl.Spread != s || dl.Control != c || b+s+c != o.Checks || c == 0 {
		t.Errorf("deadlines groups %d/%d/%d", dl.Burst, dl.Spread, dl.Control)
	}
	if l := dl.Lateness; l.P50 < 0 || l.P50 > l.P99 || l.P99 > l.Max || dl.Transitions != int64(dl.Burst+dl.Spread) || dl.TickSeconds <= 0 {
		t.Errorf("deadlines: lateness %+v, %d transitions, tick %v", l, dl.Transitions, dl.TickSeconds)
	}
	mem := rep.Scenarios[2].(*MemoryResult)
	if mem.BytesPerCheck <= 0 || mem.HeapBytesPerCheck <= 0 || mem.ResidentActors != 0 {
		t.Errorf("memory: %+v", mem)
	}
	if mem.LiveActors != o.Checks || mem.HeapBytesPerLiveActor <= 0 {
		t.Errorf("memory: %d live actors, %v heap bytes each", mem.LiveActors, mem.HeapBytesPerLiveActor)
	}
	rec := rep.Scenarios[3].(*RecoveryResult)
	if rec.Seconds <= 0 || rec.OpenSeconds > rec.Seconds || rec.Loaded != o.Checks || rec.DiskBytes <= 0 {
		t.Errorf("recovery: %+v", rec)
	}

	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version   int              `json:"version"`
		Machine   map[string]any   `json:"machine"`
		Scenarios []map[string]any `json:"scenarios"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 {
		t.Errorf("version %d", doc.Version)
	}
	for _, k := range []string{"cpus", "go", "os", "arch", "model"} {
		if _, ok := doc.Machine[k]; !ok {
			t.Errorf("machine has no %q", k)
		}
	}
	want := map[string][]string{
		"ingest":    {"name", "checks", "pings_per_second", "baseline_pings_per_second", "latency_seconds", "errors", "generator_cpu_share", "series", "cold_pings_per_second", "cold_latency_seconds", "cold_spawns_per_ping", "cold_wakes_per_ping"},
		"deadlines": {"name", "checks", "lateness_seconds", "missed", "false_transitions"},
		"memory":    {"name", "checks", "bytes_per_check"},
		"recovery":  {"name", "checks", "seconds"},
		"monitors":  {"name", "monitors", "checks", "checks_per_second", "lateness_seconds", "errors"},
		"api":       {"name", "checks", "sizes", "creates_per_second", "create_ratio", "latency_seconds", "errors"},
	}
	for _, s := range doc.Scenarios {
		name, _ := s["name"].(string)
		for _, k := range want[name] {
			if _, ok := s[k]; !ok {
				t.Errorf("scenario %s has no %q", name, k)
			}
		}
		delete(want, name)
		if name == "deadlines" || name == "monitors" {
			lat, _ := s["lateness_seconds"].(map[string]any)
			for _, k := range []string{"p50", "p99", "max"} {
				if v, ok := lat[k].(float64); !ok || v < 0 {
					t.Errorf("%s lateness_seconds.%s = %v", name, k, lat[k])
				}
			}
		}
		if name == "monitors" && s["checks"] != s["monitors"] {
			t.Errorf("monitors checks %v, monitors %v", s["checks"], s["monitors"])
		}
		if name == "monitors" && s["errors"] != 0.0 {
			t.Errorf("monitors errors %v", s["errors"])
		}
		if name == "deadlines" {
			if s["missed"] != 0.0 || s["false_transitions"] != 0.0 {
				t.Errorf("deadlines missed %v, false %v", s["missed"], s["false_transitions"])
			}
		}
		if name == "ingest" {
			lat, _ := s["latency_seconds"].(map[string]any)
			for _, k := range []string{"p50", "p99", "p999"} {
				if v, ok := lat[k].(float64); !ok || v <= 0 {
					t.Errorf("ingest latency_seconds.%s = %v", k, lat[k])
				}
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("scenarios missing from the JSON: %v", want)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil || !strings.Contains(table.String(), "durable pings/s") {
		t.Errorf("table (%v):\n%s", err, table.String())
	}
	if in.GeneratorCPUShare <= 0 || in.GeneratorCPUShare >= 1 || in.ServerCPUShare <= 0 || len(in.Series) == 0 || len(dl.Series) == 0 {
		t.Errorf("generator share %v, server share %v, series %d / %d", in.GeneratorCPUShare, in.ServerCPUShare, len(in.Series), len(dl.Series))
	}
	dir := filepath.Join(o.Dir, "report")
	if err := rep.WriteReport(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"index.html", "ingest-latency.png", "ingest-percentiles.png", "deadlines-lateness.png", "deadlines-percentiles.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// A control check that changes status is counted as a false transition: here every
// control check's next deadline is brought into the window.
func TestDeadlinesCountsFalseTransitions(t *testing.T) {
	o := testOptions(t).WithDefaults()
	o.Checks, o.Window = 1000, 500*time.Millisecond
	r := &runner{o: o, seedID: 3, controlDue: 200 * time.Millisecond}
	r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	res, err := r.deadlines(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	x := res.(*DeadlinesResult)
	if x.Control != 100 || x.FalseTransitions != int64(x.Control) || x.Missed != 0 || x.Errors() != int64(x.Control) {
		t.Fatalf("control %d: %d false, %d missed", x.Control, x.FalseTransitions, x.Missed)
	}
}

// A ping to a server that answers errors is counted as an error, and the run fails.
func TestErrorsAreCounted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(503) }}
	go srv.Serve(ln) //nolint:errcheck
	defer srv.Shutdown()
	o := testOptions(t).WithDefaults()
	o.Duration, o.Warmup, o.Conns = 200*time.Millisecond, 0, 4
	r := &runner{o: o, seedID: 1}
	l, err := r.load(ln.Addr().String(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if l.res.Errors == 0 || l.res.Requests != 0 || !strings.Contains(l.res.FirstError, "503") {
		t.Fatalf("errors %d, requests %d, first %q", l.res.Errors, l.res.Requests, l.res.FirstError)
	}
}

func TestOptions(t *testing.T) {
	o := Options{Quick: true, Exec: []string{"x"}}.WithDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.Checks != QuickChecks || o.Duration != QuickDuration || o.LiveActors != QuickChecks || o.Window != QuickWindow || len(o.Scenarios) != len(AllScenarios) || o.AlertChecks != QuickAlertChecks ||
		o.Monitors != QuickMonitors || o.MonitorFrequency != QuickMonitorFrequency {
		t.Fatalf("quick defaults: %+v", o)
	}
	full := Options{Exec: []string{"x"}}.WithDefaults()
	if full.Checks != DefaultChecks || full.Duration != DefaultDuration || full.LiveActors != DefaultLiveActors || full.Conns != DefaultConns || full.Window != DefaultWindow {
		t.Fatalf("defaults: %+v", full)
	}
	for _, bad := range []Options{
		{Scenarios: []string{"nope"}},
		{Scenarios: []string{"ingest", "ingest"}},
		{Duration: time.Hour},
		{Window: time.Millisecond},
		{Conns: -1},
		{Monitors: -1},
		{MonitorFrequency: time.Millisecond},
		{Checks: -5},
		{LiveActors: 20_000, Checks: 10_000},
		{Dir: filepath.Join(t.TempDir(), "absent")},
	} {
		bad.Exec = []string{"x"}
		if err := bad.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v: valid", bad)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	h := newHist()
	for v := 1; v <= 100_000; v++ {
		h.record(time.Duration(v) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.99, 0.999} {
		want := q * 100_000 * 1e3
		got := float64(h.quantile(q))
		if got < want || got > want*1.01 {
			t.Errorf("q%v = %v, want %v (+1%%)", q, got, want)
		}
	}
	back := h.sparse().hist()
	if back.total != h.total || back.quantile(0.99) != h.quantile(0.99) {
		t.Error("sparse round trip")
	}
	for i := range histBuckets - 1 {
		if histIndex(histUpper(i)) != i || histIndex(histUpper(i)+1) != i+1 {
			t.Fatalf("bucket %d: upper %d", i, histUpper(i))
		}
	}
}

func TestCheckIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := range 10_000 {
		id := checkID(42, i)
		s := string(appendUUID(nil, id))
		if s != id.String() || id.Version() != 4 || seen[s] {
			t.Fatalf("id %d: %s / %s", i, s, id)
		}
		if j, ok := checkIndex(42, 10_000, id); !ok || j != i {
			t.Fatalf("checkIndex(%s) = %d, %v; want %d", id, j, ok, i)
		}
		if _, ok := checkIndex(43, 10_000, id); ok {
			t.Fatalf("id %d of seed 42 found under seed 43", i)
		}
		if _, ok := checkIndex(42, i, id); ok {
			t.Fatalf("id %d found among the first %d", i, i)
		}
		seen[s] = true
	}
}

// BenchmarkPingHTTP is the durable ping path through real HTTP: GET /ping/<uuid>
// over loopback to the engine, answered once the ping is fsynced. 1000 checks;
// concurrent clients so that group commit shares fsyncs. Allocations are the whole
// process's per ping: client and server.
func BenchmarkPingHTTP(b *testing.B) {
	o := testOptions(b).WithDefaults()
	o.Checks, o.PingsPerCheck = 1000, 1
	r := &runner{o: o, seedID: 7}
	r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := filepath.Join(o.Dir, "data")
	if err := r.seed(dir); err != nil {
		b.Fatal(err)
	}
	e, err := engine.Open(r.engineOptions(dir, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Serve(ln); err != nil {
		b.Fatal(err)
	}
	c := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: 1024}
	prefix := "http://" + ln.Addr().String() + "/ping/"
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		rng := rand.New(rand.NewPCG(rand.Uint64(), 0))
		uri := make([]byte, 0, len(prefix)+36)
		for pb.Next() {
			uri = appendUUID(append(uri[:0], prefix...), checkID(r.seedID, rng.IntN(o.Checks)))
			req.SetRequestURIBytes(uri)
			if err := c.Do(req, resp); err != nil || resp.StatusCode() != fasthttp.StatusOK {
				b.Errorf("ping: %v %d", err, resp.StatusCode())
				return
			}
		}
	})
}

// The ingest scenario against --target: an engine started here on loopback, its
// checks created through the Management API, pinged, and deleted; the scenarios
// that need an in-process engine are skipped with a reason.
func TestIngestTarget(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := engine.Open(engineOptions(filepath.Join(dir, "target"), 0, log))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serve(ln); err != nil {
		t.Fatal(err)
	}
	o := testOptions(t)
	o.Checks, o.Duration, o.Warmup, o.Conns = 500, time.Second, 200*time.Millisecond, 16
	o.Target, o.APIKey = "http://"+ln.Addr().String()+"/", benchAPIKey
	o.Plan = &Plan{Checks: 100_000, Period: time.Minute, Headroom: 0.5}
	var progress bytes.Buffer
	o.Progress = &progress
	rep, err := Run(o)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, progress.String())
	}
	if len(rep.Scenarios) != 1 || len(rep.Skipped) != len(AllScenarios)-1 {
		t.Fatalf("%d scenarios, %d skipped: %+v", len(rep.Scenarios), len(rep.Skipped), rep.Skipped)
	}
	x := rep.Scenarios[0].(*IngestResult)
	if x.Target != "http://"+ln.Addr().String() || x.Checks != 500 || x.Requests <= 0 || x.ErrorCount != 0 || x.BaselinePingsPerSecond <= 0 {
		t.Errorf("target ingest: %+v", x)
	}
	if x.ServerCPUFrom == "" || x.ServerCPUShare <= 0 || x.GeneratorCPUShare <= 0 || len(x.Series) == 0 {
		t.Errorf("cpu from %q, shares %v / %v, %d series points", x.ServerCPUFrom, x.ServerCPUShare, x.GeneratorCPUShare, len(x.Series))
	}
	if n := e.Registry().Len(); n != 0 {
		t.Errorf("%d checks left on the target", n)
	}
	if c := rep.Capacity; c == nil || c.Binding != ResourcePings || c.Nodes < 1 {
		t.Errorf("capacity %+v", rep.Capacity)
	}
	if !strings.Contains(progress.String(), "skipped") {
		t.Errorf("no skip reason printed:\n%s", progress.String())
	}
}

// A bad target or key is refused before anything runs.
func TestTargetOptions(t *testing.T) {
	for _, bad := range []Options{
		{Target: "localhost:8000", APIKey: "k"},
		{Target: "ftp://host/", APIKey: "k"},
		{Target: "http://127.0.0.1:1/"},
		{Target: "http://127.0.0.1:1/", APIKey: "k", Scenarios: []string{ScenarioMemory}},
		{Plan: &Plan{Checks: 10, Period: 0}},
		{Plan: &Plan{Checks: 10, Period: time.Minute, Headroom: 1}},
	} {
		bad.Exec = []string{"x"}
		if err := bad.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v: valid", bad)
		}
	}
}

func TestReportFiles(t *testing.T) {
	in := &IngestResult{Name: ScenarioIngest, hist: newHist(), baselineHist: newHist(), SeriesStepSeconds: 0.1}
	dl := &DeadlinesResult{Name: ScenarioDeadlines, hist: newHist(), TickSeconds: 0.1}
	for i := range 1000 {
		d := time.Duration(i+1) * time.Microsecond
		in.hist.record(d)
		in.baselineHist.record(d / 2)
		dl.hist.record(d * 50)
	}
	for i := range 10 {
		in.Series = append(in.Series, SeriesPoint{T: float64(i)/10 - 0.2, Count: 100, P50: 1e-3, P99: 3e-3})
		dl.Series = append(dl.Series, SeriesPoint{T: float64(i) / 10, Count: 10, P50: 0.05, P99: 0.1})
	}
	rep := &Report{Version: ReportVersion, Date: "2026-01-01T00:00:00Z", Scenarios: []Result{in, dl}}
	rep.Machine.MemoryBytes = 8 << 30
	c := planCapacity(Plan{Checks: 1_000_000, Period: time.Minute, Headroom: 0.5}, capacityInputs{machineMemory: 8 << 30, pingsPerSecond: 10_000})
	rep.Capacity = &c
	dir := filepath.Join(t.TempDir(), "rep")
	if err := rep.WriteReport(dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ingest-latency.png", "ingest-rate.png", "ingest-percentiles.png", "deadlines-lateness.png", "deadlines-percentiles.png", "report.json"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
		if !strings.Contains(string(page), f) {
			t.Errorf("index.html does not link %s", f)
		}
	}
	if !strings.Contains(string(page), "capacity: 1,000,000 checks") {
		t.Errorf("index.html has no capacity line")
	}
}

// A deadline the killed node met before the kill times no failover: the
// failover is the first delivery from the kill on.
func TestFirstFromSkipsDeliveriesBeforeTheKill(t *testing.T) {
	kill := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	k := hookKeys{firstAt: map[string]time.Time{
		"a": kill.Add(-2 * time.Millisecond),
		"b": kill.Add(1200 * time.Millisecond),
		"c": kill.Add(900 * time.Millisecond),
		"d": kill.Add(-50 * time.Millisecond),
	}}
	first, before := k.firstFrom(kill)
	if !first.Equal(kill.Add(900*time.Millisecond)) || before != 2 {
		t.Fatalf("first %v after the kill, %d before; want 900ms, 2", first.Sub(kill), before)
	}
	if first, before := (hookKeys{}).firstFrom(kill); !first.IsZero() || before != 0 {
		t.Fatalf("no deliveries: %v, %d", first, before)
	}
}
