package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/vigilo/vigilo/engine"
)

// The ingest targets, at 1M checks.
const (
	TargetPingsPerSecond = 50_000
	TargetP99Seconds     = 0.020
	TargetBaselineRatio  = 0.60
)

// IngestResult is the ingest scenario: durable pings through the real engine over
// loopback HTTP, and the same load against a bare fasthttp handler (the ceiling of
// this machine, generator and HTTP stack) measured in the same run.
type IngestResult struct {
	Name            string  `json:"name"`
	Checks          int     `json:"checks"`
	Conns           int     `json:"conns"`
	WarmupSeconds   float64 `json:"warmup_seconds"`
	DurationSeconds float64 `json:"duration_seconds"` // measured window, per server

	// The engine: GET /ping/<uuid> answered 200, i.e. durable (fsynced).
	Requests       int64   `json:"requests"`
	PingsPerSecond float64 `json:"pings_per_second"`
	Latency        Latency `json:"latency_seconds"`
	// ErrorCount is transport errors and non-200 answers, warm-up included.
	ErrorCount int64  `json:"errors"`
	FirstError string `json:"first_error,omitempty"`

	// The bare fasthttp handler ("OK", no work) under the same generator.
	BaselinePingsPerSecond float64 `json:"baseline_pings_per_second"`
	BaselineLatency        Latency `json:"baseline_latency_seconds"`
	BaselineErrors         int64   `json:"baseline_errors"`
	RatioToBaseline        float64 `json:"ratio_to_baseline"`

	// CPU time over the engine's measured window, from rusage: the generator is a
	// child process, the server is this process (engine and nothing else busy).
	LoadgenCPUSeconds float64 `json:"loadgen_cpu_seconds"`
	ServerCPUSeconds  float64 `json:"server_cpu_seconds"`
	LoadgenCPUShare   float64 `json:"loadgen_cpu_share"` // loadgen / (loadgen + server)
	// CPUUsedShare is (loadgen + server CPU) / (window × CPUs): well below 1 while
	// the generator has connections waiting means the machine was busy with other
	// work (or the engine was waiting on the disk).
	CPUUsedShare float64 `json:"cpu_used_share"`
	// ServerCPUPerPing is the server's CPU seconds per counted request: the cost
	// to cut, and less sensitive to other work on the machine than a rate.
	ServerCPUPerPing         float64 `json:"server_cpu_seconds_per_ping"`
	BaselineServerCPUPerPing float64 `json:"baseline_server_cpu_seconds_per_ping"`
	// The same for the baseline window.
	BaselineLoadgenCPUSeconds float64 `json:"baseline_loadgen_cpu_seconds"`
	BaselineServerCPUSeconds  float64 `json:"baseline_server_cpu_seconds"`
	BaselineCPUUsedShare      float64 `json:"baseline_cpu_used_share"`

	// GeneratorCPUShare and ServerCPUShare are each one's CPU time over the
	// engine's window / (window × CPUs): the share of the whole machine the load
	// generator took from the server it measures. ServerCPUFrom says how the
	// server's was read ("" when it could not be: a target on another machine).
	GeneratorCPUShare float64 `json:"generator_cpu_share"`
	ServerCPUShare    float64 `json:"server_cpu_share"`
	ServerCPUFrom     string  `json:"server_cpu_from"`

	// Target is the --target URL the pings went to instead of an in-process
	// engine (the baseline is then still the bare handler on this machine), and
	// TargetCreateSeconds how long creating the checks there took.
	Target              string  `json:"target,omitempty"`
	TargetCreateSeconds float64 `json:"target_create_seconds,omitempty"`

	// Series is the engine run's latency and answers per step, warm-up included
	// (negative T); SeriesStepSeconds its step.
	Series            []SeriesPoint `json:"series,omitempty"`
	SeriesStepSeconds float64       `json:"series_step_seconds,omitempty"`

	// Group commit and actors over the engine run (warm-up included); 0 with a
	// target, whose store this process cannot see.
	Commits        uint64  `json:"commits"`
	Syncs          uint64  `json:"syncs"`
	CommitsPerSync float64 `json:"commits_per_sync"`
	ActorSpawns    int64   `json:"actor_spawns"`
	// ActorWakes is the checks given an actor: a spawn, or a vacant actor
	// reused (package actors, idle.go).
	ActorWakes     int64 `json:"actor_wakes"`
	ResidentActors int   `json:"resident_actors"` // running actors at the end
	// GCCycles is the collections during the run, warm-up included: each
	// scans the whole resident heap (800 MB at 1M checks, about 2 s of CPU),
	// so a window holds one or none depending on where it starts, and the
	// steady state's share is that cost over the seconds between cycles.
	GCCycles uint64 `json:"gc_cycles"`

	// The cold run: the same load on the same store, reopened with an actor
	// idle time of ColdActorIdle, so that nearly every ping finds its check's
	// actor passivated, as heartbeats every few minutes do; ColdWakesPerPing
	// says how cold it was (1: every ping woke its check's actor), and
	// ColdSpawnsPerPing how many of those wakes spawned one. Absent with a
	// target.
	ColdActorIdleSeconds float64 `json:"cold_actor_idle_seconds,omitempty"`
	ColdPingsPerSecond   float64 `json:"cold_pings_per_second,omitempty"`
	ColdRatioToBaseline  float64 `json:"cold_ratio_to_baseline,omitempty"`
	ColdLatency          Latency `json:"cold_latency_seconds"`
	ColdErrors           int64   `json:"cold_errors"`
	ColdSpawnsPerPing    float64 `json:"cold_spawns_per_ping"`
	ColdWakesPerPing     float64 `json:"cold_wakes_per_ping,omitempty"`
	ColdServerCPUPerPing float64 `json:"cold_server_cpu_seconds_per_ping,omitempty"`
	ColdCommitsPerSync   float64 `json:"cold_commits_per_sync,omitempty"`
	ColdGCCycles         uint64  `json:"cold_gc_cycles"`
	ActorSpawnsPerPing   float64 `json:"actor_spawns_per_ping"` // the main run's, beside the cold one's
	ActorWakesPerPing    float64 `json:"actor_wakes_per_ping"`
	coldRun              bool

	full bool // sized as the targets are (1M checks)
	// The whole latency distributions, for the report's percentile curves.
	hist, baselineHist *hist
}

func (x *IngestResult) ScenarioName() string { return x.Name }
func (x *IngestResult) Errors() int64        { return x.ErrorCount + x.BaselineErrors + x.ColdErrors }

// ColdActorIdle is the cold run's actor idle time: far below the seconds
// between two pings of one check at any size the bench runs.
const ColdActorIdle = 50 * time.Millisecond

func (x *IngestResult) rows() [][3]string {
	t := func(ok bool, target string) string {
		if !x.full {
			return target + " (at 1M checks)"
		}
		return verdict(ok, target)
	}
	baseline := "baseline pings/s (bare fasthttp)"
	if x.Target != "" {
		baseline = "baseline pings/s (bare fasthttp on this machine, not the target's)"
	}
	serverCPU := fmt.Sprintf("%.0f%% / %.0f%% of %d CPUs", 100*x.GeneratorCPUShare, 100*x.ServerCPUShare, runtime.NumCPU())
	if x.ServerCPUFrom == "" {
		serverCPU = fmt.Sprintf("%.0f%% / not measured (remote) of %d CPUs", 100*x.GeneratorCPUShare, runtime.NumCPU())
	}
	rows := [][3]string{}
	if x.Target != "" {
		rows = append(rows, [3]string{"target", fmt.Sprintf("%s (%s checks created in %s)", x.Target, fmtCount(float64(x.Checks)), fmtSeconds(x.TargetCreateSeconds)), ""})
	}
	rows = append(rows, [][3]string{
		{"durable pings/s", fmtCount(x.PingsPerSecond), t(x.PingsPerSecond >= TargetPingsPerSecond, "≥ 50,000")},
		{baseline, fmtCount(x.BaselinePingsPerSecond), ""},
		{"ratio to baseline", fmt.Sprintf("%.1f%%", 100*x.RatioToBaseline), t(x.RatioToBaseline >= TargetBaselineRatio, "≥ 60%")},
		{"latency p50", fmtSeconds(x.Latency.P50), ""},
		{"latency p99", fmtSeconds(x.Latency.P99), t(x.Latency.P99 <= TargetP99Seconds, "≤ 20 ms")},
		{"latency p99.9", fmtSeconds(x.Latency.P999), ""},
		{"baseline latency p50 / p99", fmtSeconds(x.BaselineLatency.P50) + " / " + fmtSeconds(x.BaselineLatency.P99), ""},
		{"errors (engine / baseline)", fmt.Sprintf("%d / %d", x.ErrorCount, x.BaselineErrors), "0"},
		{"load generator CPU share", fmt.Sprintf("%.0f%% (%.1fs gen, %.1fs server)", 100*x.LoadgenCPUShare, x.LoadgenCPUSeconds, x.ServerCPUSeconds), ""},
		{"machine CPU used: generator / server", serverCPU, ""},
		{"server CPU per ping (engine / baseline)", fmtSeconds(x.ServerCPUPerPing) + " / " + fmtSeconds(x.BaselineServerCPUPerPing), ""},
		{"CPU used of the machine (engine / baseline)", fmt.Sprintf("%.0f%% / %.0f%%", 100*x.CPUUsedShare, 100*x.BaselineCPUUsedShare), ""},
	}...)
	if x.Target == "" {
		rows = append(rows, [3]string{"pings per WAL fsync", fmt.Sprintf("%.1f", x.CommitsPerSync), ""},
			[3]string{"actor wakes / spawns per ping", fmt.Sprintf("%.2f / %.2f", x.ActorWakesPerPing, x.ActorSpawnsPerPing), ""},
			[3]string{"GC cycles in the run", strconv.FormatUint(x.GCCycles, 10), ""})
	}
	if x.coldRun {
		rows = append(rows,
			[3]string{fmt.Sprintf("cold durable pings/s (actor idle %s)", fmtSeconds(x.ColdActorIdleSeconds)), fmtCount(x.ColdPingsPerSecond), ""},
			[3]string{"cold ratio to baseline", fmt.Sprintf("%.1f%%", 100*x.ColdRatioToBaseline), t(x.ColdRatioToBaseline >= TargetBaselineRatio, "≥ 60%")},
			[3]string{"cold latency p50 / p99", fmtSeconds(x.ColdLatency.P50) + " / " + fmtSeconds(x.ColdLatency.P99), t(x.ColdLatency.P99 <= TargetP99Seconds, "≤ 20 ms")},
			[3]string{"cold actor wakes / spawns per ping", fmt.Sprintf("%.2f / %.2f", x.ColdWakesPerPing, x.ColdSpawnsPerPing), ""},
			[3]string{"cold server CPU per ping", fmtSeconds(x.ColdServerCPUPerPing), ""},
			[3]string{"cold pings per WAL fsync", fmt.Sprintf("%.1f", x.ColdCommitsPerSync), ""},
			[3]string{"cold GC cycles in the run", strconv.FormatUint(x.ColdGCCycles, 10), ""},
			[3]string{"cold errors", strconv.FormatInt(x.ColdErrors, 10), "0"},
		)
	}
	return append(rows, [3]string{"connections, window", fmt.Sprintf("%d, %s after %s warm-up", x.Conns, fmtSeconds(x.DurationSeconds), fmtSeconds(x.WarmupSeconds)), ""})
}

// load is one generator run against one server.
type load struct {
	res               loadgenResult
	genCPU, serverCPU time.Duration
	serverCPUKnown    bool
	pingsPerSecond    float64
	hist              *hist
	latency           Latency
	cpuUsedShare      float64
	// genShare and serverShare are each one's CPU over window × CPUs.
	genShare, serverShare float64
}

// load runs the generator against a server in this process, at addr.
func (r *runner) load(addr, label string) (load, error) {
	return r.loadJob(r.loadgenJob(addr, label), selfCPUMeter)
}

func (r *runner) loadgenJob(addr, label string) loadgenJob {
	return loadgenJob{
		Addr: addr, Checks: r.o.Checks, Seed: r.seedID, Conns: r.o.Conns,
		Warmup: r.o.Warmup, Duration: r.o.Duration, Label: label,
	}
}

// loadJob runs the generator job; serverCPU reads the server's CPU time at the
// window's start and end (nil: it cannot be read).
func (r *runner) loadJob(job loadgenJob, serverCPU cpuMeter) (load, error) {
	var l load
	var cpu0, cpu1 time.Duration
	var err0, err1 error
	if serverCPU == nil {
		err0 = errors.New("no meter")
	}
	_, err := r.runChildProcess(childJob{Role: roleLoadgen, Loadgen: &job}, &l.res, func(ev string) {
		if serverCPU == nil {
			return
		}
		switch ev {
		case "start":
			cpu0, err0 = serverCPU()
		case "result":
			cpu1, err1 = serverCPU()
		}
	})
	if err != nil {
		return l, err
	}
	l.genCPU = time.Duration(l.res.CPUSeconds * 1e9)
	if err0 == nil && err1 == nil {
		l.serverCPU, l.serverCPUKnown = cpu1-cpu0, true
	}
	if l.res.WindowSeconds > 0 {
		l.pingsPerSecond = float64(l.res.Requests) / l.res.WindowSeconds
	}
	l.hist = l.res.Hist.hist()
	l.latency = l.hist.latency()
	if w := l.res.WindowSeconds; w > 0 {
		machine := w * float64(runtime.NumCPU())
		l.cpuUsedShare = (l.genCPU + l.serverCPU).Seconds() / machine
		l.genShare = l.genCPU.Seconds() / machine
		l.serverShare = l.serverCPU.Seconds() / machine
	}
	return l, nil
}

func (r *runner) ingest(dir string) (Result, error) {
	x := &IngestResult{
		Name: ScenarioIngest, Checks: r.o.Checks, Conns: r.o.Conns,
		WarmupSeconds: r.o.Warmup.Seconds(), DurationSeconds: r.o.Duration.Seconds(),
		full: r.o.Checks >= DefaultChecks,
	}

	// The ceiling: a bare fasthttp handler with the engine's server settings.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	bare := &fasthttp.Server{
		Handler:               func(ctx *fasthttp.RequestCtx) { ctx.SetBodyString("OK") },
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		NoDefaultContentType:  true,
		NoDefaultServerHeader: true,
	}
	go bare.Serve(ln) //nolint:errcheck // Shutdown ends it
	r.progress("ingest: baseline (bare fasthttp) on %s: %d conns, %v warm-up + %v", ln.Addr(), r.o.Conns, r.o.Warmup, r.o.Duration)
	base, err := r.load(ln.Addr().String(), "ingest: baseline")
	_ = bare.Shutdown()
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	x.BaselinePingsPerSecond = base.pingsPerSecond
	x.BaselineLatency = base.latency
	x.BaselineErrors = base.res.Errors
	x.BaselineLoadgenCPUSeconds = base.genCPU.Seconds()
	x.BaselineServerCPUSeconds = base.serverCPU.Seconds()
	x.BaselineCPUUsedShare = base.cpuUsedShare
	x.baselineHist = base.hist
	if base.res.Requests > 0 {
		x.BaselineServerCPUPerPing = base.serverCPU.Seconds() / float64(base.res.Requests)
	}
	r.progress("ingest: baseline %s/s, p99 %s, %d errors", fmtCount(base.pingsPerSecond), fmtSeconds(base.latency.P99), base.res.Errors)

	if r.o.Target != "" {
		return r.ingestTarget(x, base, filepath.Dir(dir))
	}

	if err := r.ingestHot(x, base, dir); err != nil {
		return x, err
	}
	return x, r.ingestCold(x, dir)
}

// settleHeap collects before a window opens, in a process that has just
// loaded an engine: the load's last collection set the heap goal from a
// half-loaded heap, so the first cycle would otherwise fall in every
// window, and after a hot run the closed engine's heap would be scanned
// with the new one's (1.6 GB at 1M checks, 20% of the cold window's CPU),
// where a node runs one engine and collects at the pace its traffic
// allocates. Two collections: objects kept for a finalizer live one more.
func settleHeap() {
	runtime.GC()
	runtime.GC()
}

// gcCycles is the collections this process has completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// ingestHot is the main run: a freshly opened engine, so each check's first
// ping spawns its actor, which then stays resident.
func (r *runner) ingestHot(x *IngestResult, base load, dir string) error {
	r.progress("ingest: opening the engine with %d checks", r.o.Checks)
	e, err := engine.Open(r.engineOptions(dir, 0))
	if err != nil {
		return err
	}
	defer e.Close()
	if e.Registry().Len() != r.o.Checks {
		return fmt.Errorf("engine loaded %d checks, want %d", e.Registry().Len(), r.o.Checks)
	}
	addr, err := serveLoopback(e)
	if err != nil {
		return err
	}
	settleHeap()
	stats0, spawns0, wakes0 := e.Store().Stats(), e.Registry().Spawns(), e.Registry().Wakes()
	gc0 := gcCycles()
	stopProfile := func() {}
	if r.o.CPUProfile != "" {
		if stopProfile, err = startProfile(r.o.CPUProfile); err != nil {
			return err
		}
	}
	r.progress("ingest: engine on %s: %d conns, %v warm-up + %v", addr, r.o.Conns, r.o.Warmup, r.o.Duration)
	eng, err := r.load(addr, "ingest: engine")
	if r.o.CPUProfile != "" {
		stopProfile()
		r.progress("ingest: CPU profile of the engine run written to %s", r.o.CPUProfile)
	}
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	stats1 := e.Store().Stats()
	x.GCCycles = gcCycles() - gc0
	x.setServer(eng, base, "this process (rusage)")
	x.Commits = stats1.Commits - stats0.Commits
	x.Syncs = stats1.Syncs - stats0.Syncs
	if x.Syncs > 0 {
		x.CommitsPerSync = float64(x.Commits) / float64(x.Syncs)
	}
	x.ActorSpawns = e.Registry().Spawns() - spawns0
	x.ActorWakes = e.Registry().Wakes() - wakes0
	x.ResidentActors = e.Registry().Resident()
	if x.Requests > 0 {
		x.ActorSpawnsPerPing = float64(x.ActorSpawns) / float64(x.Requests)
		x.ActorWakesPerPing = float64(x.ActorWakes) / float64(x.Requests)
	}
	r.progress("ingest: engine %s/s, p99 %s, %d errors; closing", fmtCount(x.PingsPerSecond), fmtSeconds(x.Latency.P99), x.ErrorCount)
	return e.Close()
}

// ingestCold is the cold run: the engine reopened on the same store with actors
// that passivate ColdActorIdle after their last message, under the same load.
func (r *runner) ingestCold(x *IngestResult, dir string) error {
	r.progress("ingest: reopening the engine with actor idle %v for the cold run", ColdActorIdle)
	e, err := engine.Open(r.engineOptions(dir, ColdActorIdle))
	if err != nil {
		return fmt.Errorf("cold: %w", err)
	}
	defer e.Close()
	addr, err := serveLoopback(e)
	if err != nil {
		return err
	}
	// The spawns are read when the window opens and when its result is in,
	// beside the server's CPU time.
	var spawns, wakes []int64
	meter := func() (time.Duration, error) {
		spawns = append(spawns, e.Registry().Spawns())
		wakes = append(wakes, e.Registry().Wakes())
		return selfCPUMeter()
	}
	settleHeap()
	stats0, gc0 := e.Store().Stats(), gcCycles()
	stopProfile := func() {}
	if r.o.CPUProfile != "" {
		if stopProfile, err = startProfile(r.o.CPUProfile + ".cold"); err != nil {
			return err
		}
	}
	cold, err := r.loadJob(r.loadgenJob(addr, "ingest: cold"), meter)
	if r.o.CPUProfile != "" {
		stopProfile()
		r.progress("ingest: CPU profile of the cold run written to %s.cold", r.o.CPUProfile)
	}
	if err != nil {
		return fmt.Errorf("cold: %w", err)
	}
	stats1 := e.Store().Stats()
	x.ColdGCCycles = gcCycles() - gc0
	x.coldRun = true
	x.ColdActorIdleSeconds = ColdActorIdle.Seconds()
	x.ColdPingsPerSecond = cold.pingsPerSecond
	x.ColdLatency = cold.latency
	x.ColdErrors = cold.res.Errors
	if x.FirstError == "" {
		x.FirstError = cold.res.FirstError
	}
	if x.BaselinePingsPerSecond > 0 {
		x.ColdRatioToBaseline = cold.pingsPerSecond / x.BaselinePingsPerSecond
	}
	if n := cold.res.Requests; n > 0 && len(spawns) == 2 {
		x.ColdSpawnsPerPing = float64(spawns[1]-spawns[0]) / float64(n)
		x.ColdWakesPerPing = float64(wakes[1]-wakes[0]) / float64(n)
		x.ColdServerCPUPerPing = cold.serverCPU.Seconds() / float64(n)
	}
	if syncs := stats1.Syncs - stats0.Syncs; syncs > 0 {
		x.ColdCommitsPerSync = float64(stats1.Commits-stats0.Commits) / float64(syncs)
	}
	r.progress("ingest: cold %s/s, p99 %s, %.2f wakes and %.2f spawns per ping, %d errors; closing", fmtCount(x.ColdPingsPerSecond), fmtSeconds(x.ColdLatency.P99), x.ColdWakesPerPing, x.ColdSpawnsPerPing, x.ColdErrors)
	return e.Close()
}

// setServer fills in the figures of the measured server's run.
func (x *IngestResult) setServer(eng, base load, cpuFrom string) {
	x.Requests = eng.res.Requests
	x.PingsPerSecond = eng.pingsPerSecond
	x.Latency = eng.latency
	x.hist = eng.hist
	x.Series, x.SeriesStepSeconds = eng.res.Series, eng.res.SeriesStepSeconds
	x.ErrorCount = eng.res.Errors
	x.FirstError = eng.res.FirstError
	if x.FirstError == "" {
		x.FirstError = base.res.FirstError
	}
	if x.BaselinePingsPerSecond > 0 {
		x.RatioToBaseline = x.PingsPerSecond / x.BaselinePingsPerSecond
	}
	x.LoadgenCPUSeconds = eng.genCPU.Seconds()
	x.GeneratorCPUShare = eng.genShare
	if eng.serverCPUKnown {
		x.ServerCPUFrom = cpuFrom
		x.ServerCPUSeconds = eng.serverCPU.Seconds()
		x.ServerCPUShare = eng.serverShare
		x.CPUUsedShare = eng.cpuUsedShare
		if x.Requests > 0 {
			x.ServerCPUPerPing = x.ServerCPUSeconds / float64(x.Requests)
		}
		if tot := x.LoadgenCPUSeconds + x.ServerCPUSeconds; tot > 0 {
			x.LoadgenCPUShare = x.LoadgenCPUSeconds / tot
		}
	}
}

// ingestTarget is the ingest scenario against --target: the checks are created
// through the target's Management API, pinged by the same generator, and deleted.
func (r *runner) ingestTarget(x *IngestResult, base load, tmp string) (Result, error) {
	rem, err := newRemote(r.o.Target, r.o.APIKey)
	if err != nil {
		return nil, err
	}
	x.Target = rem.base.String()
	tag := fmt.Sprintf("vigilo-bench-%x", r.seedID)
	r.progress("ingest: target %s: creating %d checks (tag %s) through the Management API", x.Target, r.o.Checks, tag)
	t0 := time.Now()
	ids, err := rem.createChecks(context.Background(), r.o.Checks, tag, r.progress)
	x.TargetCreateSeconds = time.Since(t0).Seconds()
	defer func() {
		if len(ids) == 0 {
			return
		}
		// The checks are the bench's, not the operator's: they go once measured.
		t := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if bad, derr := rem.deleteChecks(ctx, ids); derr != nil {
			r.progress("ingest: target: %d of %d checks not deleted (tag %s): %v", bad, len(ids), tag, derr)
		} else {
			r.progress("ingest: target: %d checks deleted in %s", len(ids), fmtSeconds(time.Since(t).Seconds()))
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	r.progress("ingest: target: %d checks created in %s", len(ids), fmtSeconds(x.TargetCreateSeconds))
	idsFile, err := writeIDs(tmp, ids)
	if err != nil {
		return nil, err
	}
	job := r.loadgenJob(rem.hostPort(), "ingest: target")
	job.Prefix, job.TLS, job.IDsFile = rem.pingPrefix(), rem.base.Scheme == "https", idsFile
	// The target's CPU is read when it runs on this machine (this very process in
	// a test); a remote one's cannot be.
	var meter cpuMeter
	cpuFrom := ""
	switch pid := listenerPID(rem.hostPort()); {
	case pid == os.Getpid():
		meter, cpuFrom = selfCPUMeter, "this process (rusage)"
	case pid > 0:
		meter, cpuFrom = procCPUMeter(pid), fmt.Sprintf("/proc/%d/stat", pid)
	}
	r.progress("ingest: target %s: %d conns, %v warm-up + %v", x.Target, r.o.Conns, r.o.Warmup, r.o.Duration)
	eng, err := r.loadJob(job, meter)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	x.setServer(eng, base, cpuFrom)
	r.progress("ingest: target %s/s, p99 %s, %d errors", fmtCount(x.PingsPerSecond), fmtSeconds(x.Latency.P99), x.ErrorCount)
	return x, nil
}
