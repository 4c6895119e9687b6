package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	benchpkg "github.com/vigilo/vigilo/bench"
)

// bench runs "vigilo bench": the whole-system benchmark harness (package bench).
// It also serves as the harness's child processes, which re-execute this command.
func bench(args []string) error {
	benchpkg.MaybeChild()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o benchpkg.Options
	scenarios := fs.String("scenario", strings.Join(benchpkg.AllScenarios, ","), "comma-separated scenarios to run: ingest, deadlines, memory, recovery (or all)")
	fs.IntVar(&o.Checks, "checks", 0, fmt.Sprintf("checks to seed (default %d; %d with --quick)", benchpkg.DefaultChecks, benchpkg.QuickChecks))
	fs.BoolVar(&o.Quick, "quick", false, "small sizes for CI: every scenario takes seconds, the whole run well under 30s")
	jsonPath := fs.String("json", "", "also write the report as JSON to this file")
	fs.DurationVar(&o.Duration, "duration", 0, fmt.Sprintf("ingest: measured window per server (default %v; %v with --quick)", benchpkg.DefaultDuration, benchpkg.QuickDuration))
	fs.DurationVar(&o.Warmup, "warmup", 0, fmt.Sprintf("ingest: unmeasured load before each window (default %v; %v with --quick; negative: none)", benchpkg.DefaultWarmup, benchpkg.QuickWarmup))
	fs.DurationVar(&o.Window, "window", 0, fmt.Sprintf("deadlines: the spread group's deadlines cover [T0, T0+window] (default %v; %v with --quick)", benchpkg.DefaultWindow, benchpkg.QuickWindow))
	fs.IntVar(&o.Conns, "conns", benchpkg.DefaultConns, "ingest: load-generator connections, one goroutine each")
	fs.IntVar(&o.PingsPerCheck, "pings-per-check", benchpkg.DefaultPingsPerCheck, "ping log entries seeded per check")
	fs.IntVar(&o.LiveActors, "live-actors", 0, fmt.Sprintf("memory: checks then given a running actor (default min(%d, checks); negative: skip)", benchpkg.DefaultLiveActors))
	fs.StringVar(&o.Dir, "dir", os.TempDir(), "where the temporary data directory is made (and removed)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "ingest: write a CPU profile of the server during the engine run to this file (without ingest: of the deadlines engine)")
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
	}
	return err
}
