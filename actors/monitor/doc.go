// Package monitor is the state machine of one active monitor: Apply(spec, state,
// event, now) returns the next state and the effects the hosting actor must
// carry out (persist, record a flip, open or resolve an incident, record the
// probe's response time, arm the wheel). It is pure: no clock, no I/O, no other
// vigilo package, so every behaviour is a table test. The actor runs the probes
// on a worker pool and feeds each result back as a Probed event.
//
// Semantics follow Better Uptime's Monitors API: check_frequency,
// confirmation_period ("how long should we wait after observing a failure
// before we start a new incident"), recovery_period ("how long the monitor must
// be up to automatically mark an incident as resolved"), a daily UTC
// maintenance window ("we won't check your website during this window"), and
// its statuses pending, up, validating, down, paused and maintenance.
//
//	from \ event    success          failure                     timer/any event    pause   resume
//	pending         up*              confirm; down*! after CP    maintenance in     paused  -
//	up              up               confirm; down*! after CP      the window       paused  -
//	down            validating*      down                          (all but         paused  -
//	                (up*! if RP=0)                                  paused)
//	validating      up*! after RP    down*                                          paused  -
//	maintenance     ignored          ignored                     pending at end     paused  -
//	paused          ignored          ignored                     -                  -       pending*
//
//	* flip (a status change); ! alertable: it opens or resolves an incident.
//	CP/RP: a verdict at or after FailingSince+CP / RecoveringSince+RP.
//	resume inside the window lands in maintenance.
//	pending with an incident still open (a pause or window interrupted it)
//	takes the next verdict as down would: a success starts validating (or
//	resolves, RP=0); a failure flips straight back to down, with no
//	confirmation and no new incident.
//
// Maintenance: Better Uptime does not check during the window, and neither do
// we: no probes are scheduled inside it and results arriving inside it are
// dropped, so a window can never open or resolve an incident. Confirmation and
// recovery in progress are forgotten at the window's start; an open incident
// is kept.
//
// Verdicts are dated by the probe's start (ProbeResult.At), not by the arrival
// of its result, so a slow probe cannot stretch a confirmation or recovery
// period; results older than the last one applied, or than the current status,
// are dropped.
//
// Probes run at the instants ≡ Phase(id) mod CheckFrequency from the Unix
// epoch, so a monitor's schedule does not depend on when its actor last ran
// and 100k monitors created together are spread over the period. A
// confirmation or recovery period that ends between two grid instants gets one
// extra probe at its end. The host needs no scheduling logic: it arms the
// wheel at Effects.Next and then probes or delivers a Timer, per Effects.Wake.
package monitor
