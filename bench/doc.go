// Package bench is vigilo's whole-system benchmark harness: it seeds a store with N
// checks, runs the real engine against it, and measures what an operator sizes a
// node by — durable pings per second and their latency over real HTTP (beside a bare
// fasthttp handler measured in the same run as the ceiling), resident bytes per idle
// heartbeat, the time a restart takes to serve again, and how late, missed or false
// the down transitions are when many deadlines fall due at once (deadlines.go). It is driven by
// `vigilo bench`; see docs/BENCHMARKS.md for the figures and how they were made.
//
// Each scenario runs on 127.0.0.1 only and is bounded in time. The load generator,
// the memory measurement and the restart each run in a fresh child process (the same
// binary re-executed, see MaybeChild), so a measurement never shares a heap or a
// garbage collector with the code that drives it, and the load generator's CPU time
// is known exactly from its own rusage: the report gives the share of the machine
// the generator took beside the server's.
//
// From the figures it also answers the operator's next questions: an HTML report
// with charts of latency and lateness over time and their percentile curves
// (report.go, series.go, drawn with gonum.org/v1/plot); how many such machines a
// planned workload needs and which resource binds (capacity.go); and the same
// ingest figures for an already running vigilo, whose checks it creates, pings and
// deletes through the Management API (target.go).
package bench
