package bench

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
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
	if len(rep.Scenarios) != 4 {
		t.Fatalf("%d scenarios, want 4", len(rep.Scenarios))
	}
	in := rep.Scenarios[0].(*IngestResult)
	if in.PingsPerSecond <= 0 || in.BaselinePingsPerSecond <= 0 || in.Requests <= 0 {
		t.Errorf("ingest: %+v", in)
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
		"ingest":    {"name", "checks", "pings_per_second", "baseline_pings_per_second", "latency_seconds", "errors"},
		"deadlines": {"name", "checks", "lateness_seconds", "missed", "false_transitions"},
		"memory":    {"name", "checks", "bytes_per_check"},
		"recovery":  {"name", "checks", "seconds"},
	}
	for _, s := range doc.Scenarios {
		name, _ := s["name"].(string)
		for _, k := range want[name] {
			if _, ok := s[k]; !ok {
				t.Errorf("scenario %s has no %q", name, k)
			}
		}
		delete(want, name)
		if name == "deadlines" {
			lat, _ := s["lateness_seconds"].(map[string]any)
			for _, k := range []string{"p50", "p99", "max"} {
				if v, ok := lat[k].(float64); !ok || v < 0 {
					t.Errorf("deadlines lateness_seconds.%s = %v", k, lat[k])
				}
			}
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
	l, err := r.load(ln.Addr().String())
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
	if o.Checks != QuickChecks || o.Duration != QuickDuration || o.LiveActors != QuickChecks || o.Window != QuickWindow || len(o.Scenarios) != 4 {
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
