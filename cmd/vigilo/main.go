// Command vigilo runs a vigilo node (serve), manages its tenants (project), and
// measures it (bench).
//
//	vigilo [serve] [flags]        start a node (the default command)
//	vigilo project create NAME    make a project through the admin API
//	vigilo bench [flags]          run the capacity benchmark harness
//
// Every flag can also be given as a VIGILO_* environment variable (--min-period is
// VIGILO_MIN_PERIOD); a flag on the command line wins.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
)

func main() {
	spareProc()
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(args)
	case "project":
		err = project(args)
	case "bench":
		err = bench(args)
	case "help":
		fmt.Println("usage: vigilo [serve|project create NAME|bench] [flags]; vigilo serve -h lists the flags")
		return
	default:
		err = fmt.Errorf("unknown command %q (serve, project, bench)", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vigilo:", err)
		os.Exit(1)
	}
}

// spareProc runs one more P than the runtime's default (the CPUs this process
// may use, cgroup limits included), unless GOMAXPROCS is set. A goroutine in a
// blocking system call keeps its P until the runtime's monitor takes it back,
// which on a busy node can be milliseconds later, and a node makes hundreds of
// such calls a second: Pebble's fdatasync for every commit group, and connect
// and close for every probe. Meanwhile a CPU sat idle (6-8% iowait in vmstat
// with work queued); with the spare P the other goroutines run on it. Measured
// in docs/BENCHMARKS.md: +18% HTTP checks/s, and lower deadline lateness.
func spareProc() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
}

// parseWithEnv parses args, after taking every flag not given on the command line
// from its VIGILO_* variable.
func parseWithEnv(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := "VIGILO_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}
