package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	benchpkg "github.com/vigilo/vigilo/bench"
)

// bench runs "vigilo bench": the whole-system benchmark harness (package bench).
// It also serves as the harness's child processes, which re-execute this command.
func bench(args []string) error {
	benchpkg.MaybeChild()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o benchpkg.Options
	scenarios := fs.String("scenario", strings.Join(benchpkg.AllScenarios, ","), "comma-separated scenarios to run: ingest, deadlines, memory, recovery, alerts, monitors, api, cluster, catchup (or all)")
	fs.IntVar(&o.Checks, "checks", 0, fmt.Sprintf("checks to seed (default %d; %d with --quick)", benchpkg.DefaultChecks, benchpkg.QuickChecks))
	fs.BoolVar(&o.Quick, "quick", false, "small sizes for CI: every scenario takes seconds, the whole run well under 30s")
	jsonPath := fs.String("json", "", "also write the report as JSON to this file")
	fs.DurationVar(&o.Duration, "duration", 0, fmt.Sprintf("ingest: measured window per server (default %v; %v with --quick)", benchpkg.DefaultDuration, benchpkg.QuickDuration))
	fs.DurationVar(&o.Warmup, "warmup", 0, fmt.Sprintf("ingest: unmeasured load before each window (default %v; %v with --quick; negative: none)", benchpkg.DefaultWarmup, benchpkg.QuickWarmup))
	fs.IntVar(&o.AlertChecks, "alert-checks", 0, fmt.Sprintf("alerts: checks going down at once, one webhook each (default %d; %d with --quick)", benchpkg.DefaultAlertChecks, benchpkg.QuickAlertChecks))
	fs.IntVar(&o.Monitors, "monitors", 0, fmt.Sprintf("monitors: HTTP monitors probing a local target (default %d; %d with --quick)", benchpkg.DefaultMonitors, benchpkg.QuickMonitors))
	fs.DurationVar(&o.MonitorFrequency, "monitor-frequency", 0, fmt.Sprintf("monitors: their check_frequency; monitors / frequency is the offered checks/s (default %v; %v with --quick)", benchpkg.DefaultMonitorFrequency, benchpkg.QuickMonitorFrequency))
	fs.IntVar(&o.ProbeWorkers, "probe-workers", 0, "monitors: the engine's probe worker bound (serve --probe-workers; default the engine's)")
	fs.DurationVar(&o.MonitorTick, "monitor-tick", 0, "monitors: the engine's wheel tick (serve --tick; default the engine's 10ms)")
	fs.DurationVar(&o.Window, "window", 0, fmt.Sprintf("deadlines: the spread group's deadlines cover [T0, T0+window] (default %v; %v with --quick)", benchpkg.DefaultWindow, benchpkg.QuickWindow))
	fs.IntVar(&o.Conns, "conns", benchpkg.DefaultConns, "ingest: load-generator connections, one goroutine each")
	fs.IntVar(&o.PingsPerCheck, "pings-per-check", benchpkg.DefaultPingsPerCheck, "ping log entries seeded per check")
	fs.IntVar(&o.LiveActors, "live-actors", 0, fmt.Sprintf("memory: checks then given a running actor (default min(%d, checks); negative: skip)", benchpkg.DefaultLiveActors))
	fs.StringVar(&o.Dir, "dir", os.TempDir(), "where the temporary data directory is made (and removed)")
	reportDir := fs.String("report", "", "also write an HTML report with charts (index.html, PNGs, report.json) into this directory")
	fs.StringVar(&o.Target, "target", "", "ingest: ping the running vigilo at this base URL (http(s)://host:port) instead of an in-process engine; its checks are created through the Management API and deleted after (the other scenarios are skipped)")
	fs.StringVar(&o.APIKey, "api-key", "", "with --target: a read-write API key of the project the checks are created in")
	var plan benchpkg.Plan
	fs.IntVar(&plan.Checks, "plan-checks", 0, "size a deployment for this many checks from the run's figures (prints a capacity line)")
	fs.DurationVar(&plan.Period, "plan-period", time.Minute, "with --plan-checks: each check's heartbeat period")
	fs.Float64Var(&plan.Rate, "plan-rate", 0, "with --plan-checks: the pings/s the workload sends (default checks / period; more with /start or /fail pings)")
	fs.Float64Var(&plan.Headroom, "plan-headroom", benchpkg.DefaultPlanHeadroom, "with --plan-checks: share of each node's measured capacity kept spare, in [0, 1)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "ingest: write a CPU profile of the server during the engine run to this file, of the cold run to <file>.cold (without ingest: of the deadlines engine); api: of its whole run to <file>.api")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected arguments %q", fs.Args())
	}
	if s := strings.TrimSpace(*scenarios); s != "all" {
		for _, name := range strings.Split(s, ",") {
			if name = strings.TrimSpace(name); name != "" {
				o.Scenarios = append(o.Scenarios, name)
			}
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if plan.Checks != 0 {
		o.Plan = &plan
	} else {
		for _, name := range []string{"plan-period", "plan-rate", "plan-headroom"} {
			if set[name] {
				return fmt.Errorf("bench: --%s needs --plan-checks", name)
			}
		}
	}
	o.Progress = os.Stderr
	rep, err := benchpkg.Run(o)
	if rep != nil {
		if werr := rep.WriteTable(os.Stdout); werr != nil && err == nil {
			err = werr
		}
		if *jsonPath != "" {
			f, ferr := os.Create(*jsonPath)
			if ferr == nil {
				ferr = rep.WriteJSON(f)
				if cerr := f.Close(); ferr == nil {
					ferr = cerr
				}
			}
			if ferr != nil && err == nil {
				err = ferr
			}
		}
		if *reportDir != "" {
			if rerr := rep.WriteReport(*reportDir); rerr != nil {
				if err == nil {
					err = rerr
				}
			} else {
				fmt.Fprintf(os.Stderr, "bench: report written to %s\n", filepath.Join(*reportDir, "index.html"))
			}
		}
	}
	return err
}
