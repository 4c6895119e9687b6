package monitor

import (
	"fmt"
	"strconv"
	"time"
)

// Status is a monitor's stored status, with Better Uptime's names.
type Status uint8

const (
	Pending     Status = iota // created or resumed, no verdict yet
	Up                        // probes pass (possibly confirming a failure)
	Validating                // back up after being down, recovery period not over
	Down                      // an incident is open and probes fail
	Paused                    // by the API: no probes
	Maintenance               // inside the daily window: no probes
)

var statusNames = [...]string{"pending", "up", "validating", "down", "paused", "maintenance"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// ParseStatus is the inverse of Status.String.
func ParseStatus(s string) (Status, error) {
	for i, n := range statusNames {
		if n == s {
			return Status(i), nil
		}
	}
	return Pending, fmt.Errorf("unknown status %q", s)
}

// Wake says what the host must do at State.Next.
type Wake uint8

const (
	WakeNone  Wake = iota // Next is zero: nothing is due (paused)
	WakeProbe             // start a probe, then apply its ProbeResult with At = its start
	WakeTimer             // apply a Timer event (a maintenance window boundary)
)

var wakeNames = [...]string{"none", "probe", "timer"}

func (w Wake) String() string {
	if int(w) < len(wakeNames) {
		return wakeNames[w]
	}
	return "wake(" + strconv.Itoa(int(w)) + ")"
}

// State is everything about a monitor that events change. All times are UTC.
type State struct {
	Status Status
	Since  time.Time // when Status last changed
	// FailingSince is the start of the failed probe run being confirmed while
	// pending or up; zero when not confirming.
	FailingSince time.Time
	// RecoveringSince is the first success after down while validating; zero
	// otherwise.
	RecoveringSince time.Time
	// IncidentSince is the start of the open incident; zero when none is open.
	// It survives pause and maintenance: only a verdict resolves an incident.
	IncidentSince time.Time
	LastProbe     time.Time // start of the last probe whose result was applied
	Next          time.Time // when the host must wake next; zero = never
	Wake          Wake      // what is due at Next
}

// EventKind is what happened to a monitor.
type EventKind uint8

const (
	Probed      EventKind = iota // a probe finished; Event.Result says how
	Timer                        // the wheel fired at State.Next (WakeTimer)
	Pause                        // API pause
	Resume                       // API resume
	Reconfigure                  // config changed (or monitor created); Apply gets the new Spec
)

var eventNames = [...]string{"probed", "timer", "pause", "resume", "reconfigure"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// ProbeResult is the outcome of one probe.
type ProbeResult struct {
	Up bool
	// At is when the probe started, which is what the verdict is about; the
	// result itself arrives later. Zero or future values are read as now.
	At time.Time
	// Err is the failure reason. The state machine does not use it: Up alone
	// decides, and the host keeps Err as the incident's cause.
	Err string
}

// Event is one input to Apply. A struct, not an interface, so that applying a
// probe result does not allocate.
type Event struct {
	Kind   EventKind
	Result ProbeResult // Kind == Probed only
}

// Flip is a change of Status, worth a record in the monitor's status history.
type Flip struct {
	From, To Status
	At       time.Time // the probe's start for verdicts, now otherwise
	// Incident is set when the flip opened an incident (To == Down) or resolved
	// one (To == Up).
	Incident bool
}

// Alertable reports whether the flip is worth telling people about: exactly the
// flips that open or resolve an incident. So down from pending or up after
// confirmation, and up from down, validating, or pending with an incident left
// open by a pause or maintenance window. Not alertable: pending→up (first
// verdict), down↔validating and pending→down/validating while an incident is
// already open (its opening was alerted), and every change into or out of
// paused and maintenance.
func (f Flip) Alertable() bool { return f.Incident }

// Effects is what the host must do after a step.
type Effects struct {
	Changed bool  // the new State differs from the old and must be persisted
	Flip    *Flip // non-nil iff Status changed
	// IncidentOpened is non-zero when an incident opened; it is its start (the
	// first failure of the confirmed run).
	IncidentOpened time.Time
	// IncidentResolved is non-zero when the incident that started at the old
	// State.IncidentSince was resolved; it is its end (the deciding probe's
	// start).
	IncidentResolved time.Time
	// Record: the event was a probe result and it counted, so its response
	// time and last_checked_at must be recorded. False for stale results and
	// results arriving while paused or in maintenance.
	Record bool
	// Next and Wake always equal the new State's: arm the wheel at Next and, when
	// it fires, run a probe (WakeProbe) or apply a Timer (WakeTimer).
	Next time.Time
	Wake Wake
}

// New is the state of a monitor created at now, and its first wake.
func New(spec Spec, now time.Time) (State, Effects) {
	s, eff := Apply(spec, State{Status: Pending, Since: now.UTC()}, Event{Kind: Reconfigure}, now)
	eff.Changed = true
	return s, eff
}

// Apply is the state machine: the monitor's new state after ev at now, and what
// the host must do about it. It never panics and never reads the clock.
//
// The daily maintenance window is checked against now on every event, before
// the event (a result arriving inside the window is ignored) and after it (a
// resume inside the window lands in maintenance), so a late or missing Timer
// can never leave a monitor probing inside its window or idle after it.
//
// Next is always recomputed from the new state, the spec and now, except for an
// early Timer, which changes nothing and keeps the stored Next.
func Apply(spec Spec, s State, ev Event, now time.Time) (State, Effects) {
	// UTC and no monotonic reading: the state is persisted and compared, and
	// both must survive a round trip.
	now = now.UTC()
	ns := s
	if ns.Status > Maintenance {
		ns.Status = Pending // unknown stored status: start over, keep the incident
	}
	var eff Effects
	flipAt := now

	syncWindow(spec, &ns, now)
	switch ev.Kind {
	case Probed:
		flipAt = applyResult(spec, &ns, &eff, ev.Result, now)
	case Pause:
		if ns.Status != Paused {
			setStatus(&ns, Paused, now)
		}
	case Resume:
		if ns.Status == Paused {
			setStatus(&ns, Pending, now)
			syncWindow(spec, &ns, now)
		}
	}

	early := ev.Kind == Timer && (s.Next.IsZero() || now.Before(s.Next))
	if early && ns.Status == s.Status {
		// The wheel never fires early, but a stray Timer must not skip or
		// reschedule a due probe; the stored wake stands.
		ns.Next, ns.Wake = s.Next, s.Wake
	} else {
		ns.Next, ns.Wake = nextWake(spec, ns, now)
	}

	if ns.Status != s.Status {
		eff.Flip = &Flip{From: s.Status, To: ns.Status, At: flipAt,
			Incident: !eff.IncidentOpened.IsZero() || !eff.IncidentResolved.IsZero()}
	}
	eff.Next, eff.Wake = ns.Next, ns.Wake
	eff.Changed = ns != s
	return ns, eff
}

// setStatus changes the status and forgets any confirmation or recovery in
// progress, which only mean something in the status that started them.
func setStatus(s *State, st Status, at time.Time) {
	if s.Status == st {
		return
	}
	s.Status, s.Since = st, at
	s.FailingSince, s.RecoveringSince = time.Time{}, time.Time{}
}

func syncWindow(spec Spec, s *State, now time.Time) {
	if s.Status == Paused {
		return
	}
	in := spec.InWindow(now)
	switch {
	case in && s.Status != Maintenance:
		setStatus(s, Maintenance, now)
	case !in && s.Status == Maintenance:
		// Pending, not the status before the window: the service may have
		// changed meanwhile, and an incident still open is decided by the next
		// verdict.
		setStatus(s, Pending, now)
	}
}

// applyResult applies one probe verdict and returns the flip time.
func applyResult(spec Spec, s *State, eff *Effects, r ProbeResult, now time.Time) time.Time {
	if s.Status == Paused || s.Status == Maintenance {
		// Better Uptime does not check during maintenance; a result started
		// before the window (or the pause) says nothing about now.
		return now
	}
	at := r.At.UTC()
	if at.IsZero() || at.After(now) {
		at = now
	}
	// Out of order, duplicate, or started before the current status began
	// (e.g. before a resume or the end of a window): a newer verdict or a
	// fresh start already stands.
	if !at.After(s.LastProbe) || at.Before(s.Since) {
		return now
	}
	s.LastProbe = at
	eff.Record = true
	cfg := spec.cfg
	incident := !s.IncidentSince.IsZero()
	resolve := func() {
		if incident {
			eff.IncidentResolved = at
		}
		s.IncidentSince = time.Time{}
		setStatus(s, Up, at)
	}

	if r.Up {
		switch {
		case s.Status == Validating:
			if !at.Before(s.RecoveringSince.Add(cfg.RecoveryPeriod)) {
				resolve()
			}
		case incident: // down, or pending with an incident left open
			if cfg.RecoveryPeriod <= 0 {
				resolve()
			} else {
				setStatus(s, Validating, at)
				s.RecoveringSince = at
			}
		default:
			s.FailingSince = time.Time{}
			setStatus(s, Up, at)
		}
		return at
	}

	switch {
	case s.Status == Down:
	case incident:
		// Validating, or pending with an incident left open: it is the same
		// outage, so no confirmation and no new incident.
		setStatus(s, Down, at)
	default:
		if s.FailingSince.IsZero() {
			s.FailingSince = at
		}
		if !at.Before(s.FailingSince.Add(cfg.ConfirmationPeriod)) {
			start := s.FailingSince
			s.IncidentSince = start
			eff.IncidentOpened = start
			setStatus(s, Down, at)
		}
	}
	return at
}

// nextWake is when the host must wake next and why.
//
// Probes run on the monitor's phase grid (NextProbe). The first probe after
// creation, resume or a window's end is the next grid instant, not an
// immediate one: a deploy that creates 100k monitors, a bulk resume or a
// window shared by many monitors would otherwise probe them all in one burst
// (and hit the targets together); waiting at most one period keeps them
// spread by their phases.
//
// A confirmation or recovery period ending before the next grid instant gets
// an extra probe at its end (or now, if it is already over), so the verdict is
// not delayed by up to a whole period.
func nextWake(spec Spec, s State, now time.Time) (time.Time, Wake) {
	switch s.Status {
	case Paused:
		return time.Time{}, WakeNone
	case Maintenance:
		if b := spec.nextBoundary(now); !b.IsZero() {
			return b, WakeTimer
		}
		return time.Time{}, WakeNone
	}
	p := NextProbe(spec, now)
	var due time.Time
	switch {
	case (s.Status == Pending || s.Status == Up) && !s.FailingSince.IsZero():
		due = s.FailingSince.Add(spec.cfg.ConfirmationPeriod)
	case s.Status == Validating && !s.RecoveringSince.IsZero():
		due = s.RecoveringSince.Add(spec.cfg.RecoveryPeriod)
	}
	if !due.IsZero() {
		if due.Before(now) {
			due = now
		}
		if p.IsZero() || due.Before(p) {
			p = due
		}
	}
	// A probe due exactly at the window's start is not run: the window wins.
	if b := spec.nextBoundary(now); !b.IsZero() && (p.IsZero() || !b.After(p)) {
		return b, WakeTimer
	}
	if p.IsZero() {
		return time.Time{}, WakeNone
	}
	return p, WakeProbe
}
