package actors

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
	"github.com/vigilo/vigilo/wheel"
)

// Check is the resident part of one check. While an actor runs for it, only that
// actor reads or writes rec and spec; while none runs, they are touched only under mu
// by the code that spawns the next one.
type Check struct {
	timer wheel.Timer

	mu      sync.Mutex
	pid     *actor.PID
	deleted bool
	// used is set by every delivery and cleared by the idle sweep, which
	// passivates a check that was not used since its last look.
	used     bool
	inflight atomic.Int32
	// group, while not nil, is closed once the deadline group that stepped
	// this check without an actor has queued its commit: no actor may be
	// spawned for it before, or its commits could overtake the group's.
	group chan struct{}
	// openIncident is the start of the incident the check's last down flip
	// opened, while it is open: its write may not be durable, so not
	// readable, by the time the check recovers. Kept here, not in the actor,
	// because a group or a later actor may be the one to resolve it.
	openIncident time.Time

	rec  store.Check
	spec heartbeat.Spec

	// id and project are rec's, copied so that they can be read while the
	// actor replaces rec (neither ever changes).
	id, project uuid.UUID
}

func newCheck(rec *store.Check, spec heartbeat.Spec) *Check {
	c := &Check{rec: *rec, spec: spec, id: rec.ID, project: rec.ProjectID}
	c.timer.Owner = c
	return c
}

// ID is the check's uuid; immutable.
func (c *Check) ID() uuid.UUID { return c.id }

// ProjectID is the check's project; immutable.
func (c *Check) ProjectID() uuid.UUID { return c.project }

func specOf(r *store.Check) (heartbeat.Spec, error) {
	return heartbeat.Compile(ConfigOf(r))
}

// ConfigOf is the state-machine configuration of a check record.
func ConfigOf(r *store.Check) heartbeat.Config {
	kind := heartbeat.Simple
	if r.Kind == "cron" {
		kind = heartbeat.Cron
	}
	return heartbeat.Config{
		Kind:         kind,
		Timeout:      r.Timeout,
		Grace:        r.Grace,
		Schedule:     r.Schedule,
		TZ:           r.TZ,
		ManualResume: r.ManualResume,
		PostOnly:     r.Methods == "POST",
	}
}

// StateOf is the state-machine state of a check record. An unknown status (a record
// written by a newer version) reads as new, which never goes down by itself.
func StateOf(r *store.Check) heartbeat.State {
	st, err := heartbeat.ParseStatus(r.Status)
	if err != nil {
		st = heartbeat.New
	}
	return heartbeat.State{
		Status:       st,
		LastPing:     r.LastPing,
		LastStart:    r.LastStart,
		StartRID:     r.LastStartRID,
		LastDuration: r.LastDuration,
		NPings:       r.NPings,
		Deadline:     r.Deadline,
	}
}

func setState(r *store.Check, s heartbeat.State) {
	r.Status = s.Status.String()
	r.LastPing = s.LastPing
	r.LastStart = s.LastStart
	r.LastStartRID = s.StartRID
	r.LastDuration = s.LastDuration
	r.NPings = s.NPings
	r.Deadline = s.Deadline
}
