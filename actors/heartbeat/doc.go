// Package heartbeat is the state machine of one check: Apply(spec, state, event,
// now) returns the next state and the effects the hosting actor must carry out
// (log the ping, record a flip, arm the wheel timer). It is pure: no clock, no
// I/O, no other vigilo package, so every behaviour is a table test.
//
// Semantics follow Healthchecks (hc/api/models.py Check.ping, get_status,
// get_grace_start, going_down_after; pause/resume in hc/api/views.py), except
// that Healthchecks derives grace and down at read time while we store them as
// transitions fired by a timer at State.Deadline.
//
//	from \ event  success  start    fail   timer at Deadline                   pause   resume
//	new           up*      started  down*  -                                   paused  -
//	up            up       started  down*  grace (at grace start)              paused  -
//	grace         up       started  down*  down* (at grace end)                paused  -
//	started       up(*)    started  down*  down* (start+grace, or grace end    paused  -
//	                                              if that is earlier)
//	down          up*      down     down   -                                   paused  -
//	paused        up*      paused   down*  down* (start+grace, after a start)  -       new
//
//	* flip; (*) flip only if the check was never up. log: no change.
//	paused with manual_resume: every ping is logged as "ign" and changes nothing.
//
// A start on a down check leaves it down (its run can still complete with a
// duration); a start on a paused check leaves it paused but, as in Healthchecks,
// takes it down if the run does not finish within grace. Flips are the
// changes Healthchecks reports: into up or down from another reported status.
//
// Cron schedules: robfig/cron/v3 parses the fields and steps through naive
// wall-clock time (a UTC-labelled copy, where it has no DST logic); this
// package maps wall times to instants the way Healthchecks' cronsim (and Debian
// cron) do. Schedules naming a specific minute and hour run on the local wall
// clock: a time skipped by spring-forward fires at the jump, a time repeated by
// fall-back fires once (its first occurrence). Schedules with "*" in the minute
// or hour field fire at every real instant whose local time matches.
// robfig's own time-zone handling (Location/CRON_TZ) is not used because, in
// v3.0.1, it fires fixed-time jobs twice in the repeated hour (a false "down"
// one hour after a punctual run), skips fixed-time jobs on spring-forward days
// and midnight jobs on days without a midnight (America/Havana, Sao Paulo), and
// loops forever across Pacific/Apia's skipped 2011-12-30. It also ORs the day
// fields for "*/2"-style values and rejects day-of-week 7, which Healthchecks
// treats as "*"-prefixed (AND) and as Sunday; Compile corrects both. L, W and #
// (cronsim extensions) are rejected. See cron_test.go for the cases.
package heartbeat
