package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Scenario names, in the order a report lists them.
const (
	ScenarioIngest    = "ingest"
	ScenarioDeadlines = "deadlines"
	ScenarioMemory    = "memory"
	ScenarioRecovery  = "recovery"
	ScenarioAlerts    = "alerts"
	ScenarioMonitors  = "monitors"
	ScenarioAPI       = "api"
	ScenarioCluster   = "cluster"
	ScenarioCatchup   = "catchup"
)

// AllScenarios is every scenario, in report order.
var AllScenarios = []string{ScenarioIngest, ScenarioDeadlines, ScenarioMemory, ScenarioRecovery, ScenarioAlerts, ScenarioMonitors, ScenarioAPI, ScenarioCluster, ScenarioCatchup}

// Full-size and quick (CI) defaults.
const (
	DefaultChecks        = 1_000_000
	DefaultDuration      = 20 * time.Second
	DefaultWarmup        = 2 * time.Second
	DefaultConns         = 256
	DefaultPingsPerCheck = 3
	DefaultLiveActors    = 100_000
	DefaultWindow        = 10 * time.Second

	QuickChecks   = 10_000
	QuickDuration = 2 * time.Second
	QuickWarmup   = 500 * time.Millisecond
	QuickWindow   = 3 * time.Second
)

// Limits Validate enforces, so a run stays bounded.
const (
	MaxChecks   = 50_000_000
	MaxDuration = 10 * time.Minute
	MaxWarmup   = 2 * time.Minute
	MaxConns    = 4096
	MaxWindow   = 10 * time.Minute
)

// Options configures a run. The zero value of every field means its default; see
// WithDefaults.
type Options struct {
	// Scenarios to run; default AllScenarios. They always run in the order
	// recovery, memory, ingest (ingest after those, because it writes to the
	// store), deadlines (on a store of its own), and are reported in AllScenarios
	// order.
	Scenarios []string
	// Checks is how many checks are seeded; default 1,000,000 (10,000 with Quick,
	// and with a Target, where each is created through its API). The api
	// scenario creates them through the HTTP API instead, measuring creates at
	// 0, Checks/10 and Checks existing.
	Checks int
	// Quick makes every default small enough for CI: 10,000 checks, a 2 s
	// measured window and a 0.5 s warm-up per server.
	Quick bool
	// Duration is the measured window of the ingest scenario, once for the engine
	// and once for the bare baseline handler; default 20 s (2 s with Quick).
	Duration time.Duration
	// Warmup is load applied before each measured window and not counted (errors
	// during it are); default 2 s (0.5 s with Quick). Negative means none. The
	// monitors scenario waits at least one MonitorFrequency after creating its
	// monitors, whatever Warmup says.
	Warmup time.Duration
	// Conns is the number of load-generator connections, one goroutine each, every
	// one sending GET /ping/<uuid> of a random seeded check in a closed loop;
	// default 256.
	Conns int
	// PingsPerCheck is how many ping log entries each seeded check has on disk;
	// default 3. Negative means none.
	PingsPerCheck int
	// LiveActors is how many checks the memory scenario then gives a running actor,
	// to measure the cost of a live actor beside an idle check; default
	// min(100,000, Checks). Negative skips that measurement.
	LiveActors int
	// Window is how long the deadlines scenario spreads its spread group's
	// deadlines over, after the burst; default 10 s (3 s with Quick).
	Window time.Duration
	// AlertChecks is how many checks the alerts scenario takes down at once, each
	// notifying a webhook; default 100,000 (2,000 with Quick).
	AlertChecks int
	// Monitors is how many HTTP monitors the monitors scenario creates;
	// default 100,000 (2,000 with Quick). MonitorFrequency is their
	// check_frequency; default 10 s (1 s with Quick). Monitors / frequency is
	// the offered rate of checks.
	Monitors         int
	MonitorFrequency time.Duration
	// MonitorTick is the monitors scenario's wheel tick; default the engine's
	// (100 ms). A probe starts up to a tick after it is due.
	MonitorTick time.Duration
	// ProbeWorkers is the monitors scenario's probe worker bound (serve
	// --probe-workers); default the engine's.
	ProbeWorkers int
	// Dir is where the run's temporary data directory is made (and removed at the
	// end); default os.TempDir().
	Dir string
	// CPUProfile, if set, is where a CPU profile of the server process during the
	// engine's ingest run (warm-up included) is written, and of its cold run to
	// CPUProfile+".cold"; when ingest is not run,
	// of the deadlines scenario's engine from serving to closed; and of the api
	// scenario's whole run to CPUProfile+".api".
	CPUProfile string
	// Exec is the command that re-executes this binary as a child (MaybeChild must
	// run first thing in it); default the running executable with the argument
	// "bench", as `vigilo bench` needs.
	Exec []string
	// Progress receives progress lines; default os.Stderr.
	Progress io.Writer

	// Target, if set, is the base URL of a running vigilo (http(s)://host[:port]
	// [/path]) that the ingest scenario pings instead of an in-process engine: it
	// creates Checks checks there through the Management API with APIKey (a
	// read-write key of the project they go in), pings them and deletes them. The
	// scenarios that need the engine in this process are skipped.
	Target string
	APIKey string
	// Plan, if set, is a workload the report sizes a deployment for (Capacity).
	Plan *Plan
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if len(o.Scenarios) == 0 {
		o.Scenarios = AllScenarios
	}
	if o.Checks == 0 {
		o.Checks = DefaultChecks
		if o.Quick || o.Target != "" {
			o.Checks = QuickChecks
		}
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
		if o.Quick {
			o.Duration = QuickDuration
		}
	}
	switch {
	case o.Warmup == 0 && o.Quick:
		o.Warmup = QuickWarmup
	case o.Warmup == 0:
		o.Warmup = DefaultWarmup
	case o.Warmup < 0:
		o.Warmup = 0
	}
	if o.AlertChecks == 0 {
		o.AlertChecks = DefaultAlertChecks
		if o.Quick {
			o.AlertChecks = QuickAlertChecks
		}
	}
	if o.Monitors == 0 {
		o.Monitors = DefaultMonitors
		if o.Quick {
			o.Monitors = QuickMonitors
		}
	}
	if o.MonitorFrequency == 0 {
		o.MonitorFrequency = DefaultMonitorFrequency
		if o.Quick {
			o.MonitorFrequency = QuickMonitorFrequency
		}
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
		if o.Quick {
			o.Window = QuickWindow
		}
	}
	if o.Conns == 0 {
		o.Conns = DefaultConns
	}
	switch {
	case o.PingsPerCheck == 0:
		o.PingsPerCheck = DefaultPingsPerCheck
	case o.PingsPerCheck < 0:
		o.PingsPerCheck = 0
	}
	if o.LiveActors == 0 {
		o.LiveActors = min(DefaultLiveActors, o.Checks)
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if len(o.Exec) == 0 {
		if exe, err := os.Executable(); err == nil {
			o.Exec = []string{exe, "bench"}
		}
	}
	if o.Progress == nil {
		o.Progress = os.Stderr
	}
	return o
}

// Validate reports the first thing wrong with o (call it after WithDefaults).
func (o Options) Validate() error {
	for i, s := range o.Scenarios {
		if !slices.Contains(AllScenarios, s) {
			return fmt.Errorf("bench: unknown scenario %q (%v)", s, AllScenarios)
		}
		if slices.Contains(o.Scenarios[:i], s) {
			return fmt.Errorf("bench: scenario %q given twice", s)
		}
	}
	switch {
	case len(o.Scenarios) == 0:
		return errors.New("bench: no scenario")
	case o.Checks < 1 || o.Checks > MaxChecks:
		return fmt.Errorf("bench: checks %d is outside 1..%d", o.Checks, MaxChecks)
	case o.Duration < 100*time.Millisecond || o.Duration > MaxDuration:
		return fmt.Errorf("bench: duration %v is outside 100ms..%v", o.Duration, MaxDuration)
	case o.Warmup < 0 || o.Warmup > MaxWarmup:
		return fmt.Errorf("bench: warm-up %v is outside 0..%v", o.Warmup, MaxWarmup)
	case o.Window < 100*time.Millisecond || o.Window > MaxWindow:
		return fmt.Errorf("bench: window %v is outside 100ms..%v", o.Window, MaxWindow)
	case o.Monitors < 1 || o.Monitors > MaxChecks:
		return fmt.Errorf("bench: monitors %d is outside 1..%d", o.Monitors, MaxChecks)
	case o.MonitorFrequency < time.Second || o.MonitorFrequency > time.Hour:
		return fmt.Errorf("bench: monitor frequency %v is outside 1s..1h", o.MonitorFrequency)
	case o.MonitorTick != 0 && (o.MonitorTick < time.Millisecond || o.MonitorTick > time.Minute):
		return fmt.Errorf("bench: monitor tick %v is outside 1ms..1m", o.MonitorTick)
	case o.ProbeWorkers < 0:
		return fmt.Errorf("bench: probe workers %d is negative", o.ProbeWorkers)
	case o.Conns < 1 || o.Conns > MaxConns:
		return fmt.Errorf("bench: conns %d is outside 1..%d", o.Conns, MaxConns)
	case o.PingsPerCheck > 100:
		return fmt.Errorf("bench: pings per check %d is above 100 (the default ping log limit)", o.PingsPerCheck)
	case o.LiveActors > o.Checks:
		return fmt.Errorf("bench: live actors %d is above checks %d", o.LiveActors, o.Checks)
	case len(o.Exec) == 0:
		return errors.New("bench: no command to re-execute as a child (Exec)")
	case o.Progress == nil:
		return errors.New("bench: Progress is nil")
	}
	if o.Target != "" {
		if _, err := parseTarget(o.Target); err != nil {
			return err
		}
		if o.APIKey == "" {
			return errors.New("bench: a target needs the API key of its project (--api-key)")
		}
		if !o.has(ScenarioIngest) {
			return errors.New("bench: a target is measured by the ingest scenario only, and it is not selected")
		}
	}
	if o.Plan != nil {
		if err := o.Plan.Validate(); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(o.Dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("bench: dir %q is not a directory", o.Dir)
	}
	return nil
}

func (o Options) has(s string) bool { return slices.Contains(o.Scenarios, s) }

// inProcess is whether scenario s needs the engine in this process (or a child
// of it), and so cannot run against a Target.
func inProcess(s string) bool { return s != ScenarioIngest }
