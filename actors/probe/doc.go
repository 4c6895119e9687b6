// Package probe holds vigilo's active checks: one prober per protocol, one file
// each, all of the one function type [Prober], as blackbox_exporter's probers.
//
// A prober makes exactly one attempt against one target and reports what it saw
// in a [Result]: up or down, the reason, and the time each phase took (DNS,
// connect, TLS, first byte, total). It never retries, never schedules and keeps
// no state between calls: the monitor's actor decides when to probe and the
// monitor state machine decides what a failure means. Every network connection
// goes through [Env.Dial], so the engine can refuse private destinations
// (--deny-private-targets) at connect time for probes as for webhooks.
package probe
