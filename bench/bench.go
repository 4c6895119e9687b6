package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigilo/vigilo/engine"
)

// ReportVersion is the version of the JSON report's layout.
const ReportVersion = 1

// benchAPIKey is the default project's key in the seeded store.
const benchAPIKey = "vigilo-bench-key-0123456789abcdef"

// benchAdminKey is the admin key of the nodes the cluster scenario starts.
const benchAdminKey = "vigilo-bench-admin-0123456789abcdef"

// Report is the outcome of a run; its JSON form is what --json writes. Every figure
// is in base units: seconds, bytes, per second.
type Report struct {
	Version int     `json:"version"`
	Date    string  `json:"date"` // RFC 3339, UTC, when the run started
	Machine Machine `json:"machine"`
	Quick   bool    `json:"quick"`
	// LoadAverage is the machine's 1-minute load average (/proc/loadavg) when the
	// run started and when it ended: other work on the machine skews every figure.
	LoadAverage struct {
		Start float64 `json:"start"`
		End   float64 `json:"end"`
	} `json:"load_average_1m"`
	Seed      SeedResult `json:"seed"`
	Scenarios []Result   `json:"scenarios"`
	// Skipped is the selected scenarios that did not run, and why.
	Skipped []Skip `json:"skipped,omitempty"`
	// Capacity is Options.Plan sized against this run's figures; absent without
	// a plan.
	Capacity *Capacity `json:"capacity,omitempty"`
}

// Skip is a scenario that was selected but not run.
type Skip struct {
	Scenario string `json:"scenario"`
	Reason   string `json:"reason"`
}

// Machine describes where the figures were measured.
type Machine struct {
	CPUs        int    `json:"cpus"`
	Go          string `json:"go"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Model       string `json:"model"`        // "model name" of /proc/cpuinfo
	MemoryBytes uint64 `json:"memory_bytes"` // MemTotal of /proc/meminfo
}

// SeedResult is the seeding that every scenario of the run shares.
type SeedResult struct {
	Checks        int     `json:"checks"`
	PingsPerCheck int     `json:"pings_per_check"`
	Seconds       float64 `json:"seconds"`
}

// Result is one scenario's figures (IngestResult, DeadlinesResult, MemoryResult,
// RecoveryResult).
type Result interface {
	ScenarioName() string
	// Errors is what the scenario saw go wrong (for deadlines: missed and false
	// transitions); a run with any fails.
	Errors() int64
	rows() [][3]string // figure, value, target
}

type runner struct {
	o      Options
	seedID uint64
	log    *slog.Logger
	// controlDue, if not 0, puts the deadlines scenario's control checks' next
	// deadline (up → grace) at T0 + controlDue instead of an hour after: a test
	// that every one of them counts as a false transition.
	controlDue time.Duration
}

// Run seeds a temporary store under o.Dir, runs the selected scenarios against it
// and removes it. It returns the report, and an error if a scenario failed or saw
// errors (the report then holds what was measured).
func Run(o Options) (*Report, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r := &runner{o: o, seedID: uint64(time.Now().UnixNano())}
	r.log = slog.New(slog.NewTextHandler(o.Progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep := &Report{
		Version: ReportVersion,
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: machine(),
		Quick:   o.Quick,
	}
	rep.LoadAverage.Start = loadAverage()
	defer func() { rep.LoadAverage.End = loadAverage() }()
	tmp, err := os.MkdirTemp(o.Dir, "vigilo-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "data")

	run := func(s string) bool { return o.has(s) && (o.Target == "" || !inProcess(s)) }
	for _, s := range AllScenarios {
		if o.has(s) && !run(s) {
			reason := fmt.Sprintf("needs the engine in this process; --target %s is measured by ingest only", o.Target)
			rep.Skipped = append(rep.Skipped, Skip{Scenario: s, Reason: reason})
			r.progress("scenario %s skipped: %s", s, reason)
		}
	}
	if o.Plan != nil {
		defer func() {
			c := planCapacity(*o.Plan, rep.capacityInputs())
			rep.Capacity = &c
		}()
	}

	// The shared store serves recovery, memory and ingest (but not ingest against
	// a target); deadlines seeds its own.
	if run(ScenarioRecovery) || run(ScenarioMemory) || (run(ScenarioIngest) && o.Target == "") {
		r.progress("seeding %d checks (%d pings each) in %s", o.Checks, o.PingsPerCheck, dir)
		t0 := time.Now()
		if err := r.seed(dir); err != nil {
			return nil, err
		}
		rep.Seed = SeedResult{Checks: o.Checks, PingsPerCheck: o.PingsPerCheck, Seconds: time.Since(t0).Seconds()}
		r.progress("seeded in %.1fs", rep.Seed.Seconds)
	}

	// recovery and memory only read the store; ingest writes to it, so it runs
	// after them; deadlines has a store of its own.
	results := map[string]Result{}
	var errs []string
	for _, s := range []string{ScenarioRecovery, ScenarioMemory, ScenarioIngest, ScenarioDeadlines, ScenarioAlerts, ScenarioMonitors, ScenarioAPI, ScenarioCluster, ScenarioCatchup} {
		if !run(s) {
			continue
		}
		r.progress("scenario %s: %d checks", s, o.Checks)
		var res Result
		switch s {
		case ScenarioRecovery:
			res, err = r.recovery(dir)
		case ScenarioMemory:
			res, err = r.memory(dir)
		case ScenarioIngest:
			res, err = r.ingest(dir)
		case ScenarioDeadlines:
			res, err = r.deadlines(tmp)
		case ScenarioAlerts:
			res, err = r.alerts(tmp)
		case ScenarioMonitors:
			res, err = r.monitors(tmp)
		case ScenarioAPI:
			res, err = r.api(tmp)
		case ScenarioCluster:
			res, err = r.clusterScenario(tmp)
		case ScenarioCatchup:
			res, err = r.catchupScenario(tmp)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", s, err))
		}
		if res != nil {
			results[s] = res
			if d, ok := res.(*DeadlinesResult); ok && d.Errors() > 0 {
				errs = append(errs, fmt.Sprintf("%s: %d missed, %d false transitions", s, d.Missed, d.FalseTransitions))
			} else if n := res.Errors(); n > 0 {
				errs = append(errs, fmt.Sprintf("%s: %d errors", s, n))
			}
		}
	}
	for _, s := range AllScenarios {
		if res, ok := results[s]; ok {
			rep.Scenarios = append(rep.Scenarios, res)
		}
	}
	if len(errs) > 0 {
		return rep, fmt.Errorf("bench: %s", strings.Join(errs, "; "))
	}
	return rep, nil
}

func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.o.Progress, "bench: "+format+"\n", args...)
}

// engineOptions are the options every engine of the run opens with; idle 0 is the
// engine's default actor idle time.
func (r *runner) engineOptions(dir string, idle time.Duration) engine.Options {
	return engineOptions(dir, idle, r.log)
}

func engineOptions(dir string, idle time.Duration, log *slog.Logger) engine.Options {
	return engine.Options{
		DataDir:   dir,
		Listen:    "127.0.0.1:0",
		APIKey:    benchAPIKey,
		ActorIdle: idle,
		Logger:    log,
	}
}

// serveLoopback makes e serve HTTP on a free loopback port and returns its address.
func serveLoopback(e *engine.Engine) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	if err := e.Serve(ln); err != nil {
		return "", err
	}
	return ln.Addr().String(), nil
}

// childLogger is a child's engine logger: warnings and errors, on its stderr (which
// is the parent's progress writer).
func childLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	m.Model = procField("/proc/cpuinfo", "model name")
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		if kb, err := strconv.ParseUint(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
			m.MemoryBytes = kb << 10
		}
	}
	return m
}

// loadAverage is the 1-minute load average, or -1 when unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// procField is the value of the first "name: value" line of a /proc file, or "".
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable writes the report as a table: one line per figure, with the issue's
// target beside the figures that have one.
func (rep *Report) WriteTable(w io.Writer) error {
	m := rep.Machine
	seeded := "no shared store seeded"
	if rep.Seed.Checks > 0 {
		seeded = fmt.Sprintf("%d checks seeded in %.1fs", rep.Seed.Checks, rep.Seed.Seconds)
	}
	fmt.Fprintf(w, "vigilo bench %s: %d CPUs (%s), %.1f GiB, %s %s/%s; load average %.2f → %.2f; %s\n",
		rep.Date, m.CPUs, m.Model, float64(m.MemoryBytes)/(1<<30), m.Go, m.OS, m.Arch,
		rep.LoadAverage.Start, rep.LoadAverage.End, seeded)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tfigure\tvalue\ttarget")
	for _, s := range rep.Scenarios {
		for _, row := range s.rows() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ScenarioName(), row[0], row[1], row[2])
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(tw, "%s\tskipped\t%s\t\n", s.Scenario, s.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.Capacity != nil {
		_, err := fmt.Fprintln(w, rep.Capacity.Line)
		return err
	}
	return nil
}

func fmtCount(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtSeconds(s float64) string {
	switch {
	case s == 0:
		return "0"
	case s < 1e-3:
		return fmt.Sprintf("%.1f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.2f ms", s*1e3)
	default:
		return fmt.Sprintf("%.2f s", s)
	}
}

func verdict(ok bool, target string) string {
	if ok {
		return target + " (met)"
	}
	return target + " (MISSED)"
}
