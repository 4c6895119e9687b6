package heartbeat

import (
	"fmt"
	"strconv"
	"time"
)

// Status is a check's stored status. Grace and Started refine Healthchecks'
// "up" (and, for Started, "new") so that every status change is an explicit,
// persisted step driven by a ping or a timer.
type Status uint8

const (
	New Status = iota
	Up
	Grace
	Down
	Paused
	Started
)

var statusNames = [...]string{"new", "up", "grace", "down", "paused", "started"}

// NumStatuses is the number of statuses: Status values are 0..NumStatuses-1.
const NumStatuses = len(statusNames)

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
	return New, fmt.Errorf("unknown status %q", s)
}

// State is everything about a check that pings and timers change.
type State struct {
	Status       Status
	LastPing     time.Time     // last success or fail ping (not start, not log)
	LastStart    time.Time     // zero when no run is in progress
	StartRID     string        // run id of the in-progress run ("" if none given)
	LastDuration time.Duration // duration of the last completed run, 0 if unknown
	NPings       uint64        // pings ever received, including start/log/ign; each ping's n
	Deadline     time.Time     // when the next timer-driven transition is due; zero = none
}

// EventKind is what happened to a check.
type EventKind uint8

const (
	Success EventKind = iota
	Start
	Fail
	Log
	Timer       // the wheel fired the timer armed at State.Deadline
	Pause       // API pause
	Resume      // API resume (v3)
	Reconfigure // timing config changed; Apply gets the new Spec
)

var eventNames = [...]string{"success", "start", "fail", "log", "timer", "pause", "resume", "reconfigure"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is one input to Apply.
type Event struct {
	Kind EventKind
	RID  string // run id on Success/Start/Fail, "" if none
	// Method is the HTTP method of a ping ("" when it came another way, an
	// API call); a PostOnly check ignores pings by other methods.
	Method string
}

// Flip is a change of the status Healthchecks reports in its flips: into up or
// down from anything else. From is the Status before the step.
type Flip struct {
	From, To Status
	At       time.Time
}

// Effects is what the host must do after a step.
type Effects struct {
	// LogPing: the event is a ping and must be appended to the ping log with this
	// kind ("success", "start", "fail", "log", "ign") and number N (= new State.NPings).
	LogPing  bool
	PingKind string
	N        uint64
	Duration time.Duration // run duration carried by this success/fail ping, 0 if none
	// Flip is non-nil when the step changed the reported status into up or
	// down: Grace→Down, Started→Down, Up→Down, Down→Up, New→Up, Paused→Up, ...
	// but not Up↔Grace or Up↔Started.
	Flip *Flip
	// Arm is the deadline to arm after this step; zero = disarm. It always equals
	// the new State.Deadline, and may already be past when an overdue transition
	// is carried over (see Apply); the host should then fire at once.
	Arm     time.Time
	Changed bool // the new State differs from the old and must be persisted
}

// Apply is the state machine: the check's new state after ev at now, and what
// the host must do about it. It never panics and never reads the clock.
//
// A ping is applied to the state as stored, as Healthchecks applies it to its
// stored status: if a deadline has passed but its Timer has not been delivered
// yet, the ping is handled as if it came first. So the new deadline can already
// be past: log/ign pings leave it alone, a start keeps an earlier regular grace
// end, a success with another run's rid keeps that run's deadline. It is then
// always a transition that is really due, and a Timer at now performs it and
// arms a deadline after now, so the wheel fires at most once more.
func Apply(spec Spec, s State, ev Event, now time.Time) (State, Effects) {
	// UTC and no monotonic reading: the state is persisted and compared, and
	// both must survive a round trip.
	now = now.UTC()
	ns := s
	var eff Effects

	switch ev.Kind {
	case Success, Start, Fail, Log:
		ns.NPings++
		eff.LogPing = true
		eff.N = ns.NPings
		if s.Status == Paused && spec.cfg.ManualResume {
			// Only an explicit resume may wake the check; the ping is kept for
			// the log but changes nothing else.
			eff.PingKind = "ign"
			break
		}
		if spec.cfg.PostOnly && ev.Method != "" && ev.Method != "POST" {
			// As Healthchecks.io: link previews and crawlers GET a ping URL,
			// and a check that asks for POST must not count them.
			eff.PingKind = "ign"
			break
		}
		switch ev.Kind {
		case Log:
			eff.PingKind = "log"
		case Start:
			eff.PingKind = "start"
			ns.LastStart = now
			ns.StartRID = ev.RID
			// A start does not revive a down check, nor un-pause one; it only
			// arms the "run did not finish within grace" deadline (not for down).
			if s.Status != Down && s.Status != Paused {
				ns.Status = Started
			}
			ns.Deadline = deadline(spec, ns)
		case Success, Fail:
			eff.PingKind = "success"
			to := Up
			if ev.Kind == Fail {
				eff.PingKind = "fail"
				to = Down
			}
			ns.LastPing = now
			ns.LastDuration = 0
			if !s.LastStart.IsZero() {
				switch {
				case s.StartRID == ev.RID:
					if d := now.Sub(s.LastStart); d > 0 {
						ns.LastDuration = d
						if d <= MaxDuration {
							eff.Duration = d
						}
					}
					ns.LastStart, ns.StartRID = time.Time{}, ""
				case ev.Kind == Fail || ev.RID == "":
					// A fail ends the run whatever its rid; a success without rid
					// cannot belong to another run. A success with a different rid
					// leaves the other run in progress, and its deadline armed.
					ns.LastStart, ns.StartRID = time.Time{}, ""
				}
			}
			if reported(s) != to {
				eff.Flip = &Flip{From: s.Status, To: to, At: now}
			}
			ns.Status = to
			ns.Deadline = deadline(spec, ns)
		}

	case Timer:
		if s.Deadline.IsZero() || now.Before(s.Deadline) {
			// Early or spurious: never act before the deadline, just re-arm it.
			break
		}
		st, downAt := due(spec, s, now)
		if st == Down && s.Status != Down {
			eff.Flip = &Flip{From: s.Status, To: Down, At: downAt}
		}
		ns.Status = st
		ns.Deadline = deadline(spec, ns)

	case Pause:
		if s.Status == Paused {
			break // Healthchecks returns early, touching nothing
		}
		ns.Status = Paused
		ns.LastStart, ns.StartRID = time.Time{}, ""
		ns.Deadline = time.Time{}

	case Resume:
		if s.Status != Paused {
			break
		}
		ns.Status = New
		ns.LastPing, ns.LastStart, ns.StartRID = time.Time{}, time.Time{}, ""
		ns.Deadline = time.Time{}

	case Reconfigure:
		probe := s
		if s.Status == Grace {
			// A longer period may put the check back inside it.
			probe.Status = Up
		}
		st, downAt := due(spec, probe, now)
		if st == Down && s.Status != Down {
			eff.Flip = &Flip{From: s.Status, To: Down, At: downAt}
		}
		ns.Status = st
		ns.Deadline = deadline(spec, ns)
	}

	eff.Arm = ns.Deadline
	eff.Changed = ns != s
	return ns, eff
}

// reported is the status Healthchecks would have stored: Grace is up, and
// Started is up or new depending on whether the check ever completed a run.
func reported(s State) Status {
	switch s.Status {
	case Grace:
		return Up
	case Started:
		if s.LastPing.IsZero() {
			return New
		}
		return Up
	}
	return s.Status
}

// graceStart is when the check, if up, is next expected (Healthchecks'
// get_grace_start without the started part); zero = never.
func graceStart(spec Spec, s State) time.Time {
	if reported(s) != Up || s.LastPing.IsZero() {
		return time.Time{}
	}
	if spec.cfg.Kind == Cron {
		return spec.nextCron(s.LastPing)
	}
	return s.LastPing.Add(spec.cfg.Timeout)
}

// runDown is when the run in progress goes down for not finishing; zero = never.
func runDown(spec Spec, s State) time.Time {
	if s.LastStart.IsZero() || s.Status == Down {
		return time.Time{}
	}
	return s.LastStart.Add(spec.cfg.Grace)
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// deadline is the next instant at which due() can give a different answer.
func deadline(spec Spec, s State) time.Time {
	d := runDown(spec, s)
	if gs := graceStart(spec, s); !gs.IsZero() {
		if s.Status == Up {
			d = earliest(d, gs)
		}
		d = earliest(d, gs.Add(spec.cfg.Grace))
	}
	return d.UTC()
}

// due is the status s has reached by now through the passage of time alone,
// and for Down the instant it went down (the earliest boundary crossed, which
// is what Healthchecks records as the flip time).
func due(spec Spec, s State, now time.Time) (Status, time.Time) {
	if s.Status == Down {
		return Down, time.Time{}
	}
	var downAt time.Time
	if rd := runDown(spec, s); !rd.IsZero() && !now.Before(rd) {
		downAt = rd
	}
	gs := graceStart(spec, s)
	if !gs.IsZero() {
		if ge := gs.Add(spec.cfg.Grace); !now.Before(ge) {
			downAt = earliest(downAt, ge)
		}
	}
	if !downAt.IsZero() {
		return Down, downAt
	}
	// A run in progress keeps Started from showing grace: it is not late yet.
	if s.Status == Up && !gs.IsZero() && !now.Before(gs) {
		return Grace, time.Time{}
	}
	return s.Status, time.Time{}
}

// NextPing is Healthchecks' next_ping (get_grace_start): when the check is next
// expected, or the start of the run in progress if that is earlier; zero when
// none (new, paused or down without a run in progress).
func NextPing(spec Spec, s State) time.Time {
	r := graceStart(spec, s)
	if !s.LastStart.IsZero() && s.Status != Down {
		r = earliest(r, s.LastStart)
	}
	return r
}

// DisplayStatus is Healthchecks' get_status(with_started) evaluated at now, for
// the API: v3 passes withStarted=false and so shows a running check as what it
// would be without the run, v1 passes true. Being computed at read time, it is
// also right while a due Timer has not been delivered yet.
func DisplayStatus(spec Spec, s State, now time.Time, withStarted bool) Status {
	if !s.LastStart.IsZero() {
		if !now.Before(s.LastStart.Add(spec.cfg.Grace)) {
			return Down
		}
		if withStarted {
			return Started
		}
	}
	st := reported(s)
	if st != Up {
		return st
	}
	gs := graceStart(spec, s)
	switch {
	case gs.IsZero():
		return Up
	case !now.Before(gs.Add(spec.cfg.Grace)):
		return Down
	case !now.Before(gs):
		return Grace
	}
	return Up
}
