package betteruptime

import (
	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/api/wire"
	"github.com/vigilo/vigilo/engine/store"
)

// Backend is what this dialect needs of the engine. Methods taking a project
// answer store.ErrNotFound for another project's check as for an unknown one, and
// every change goes through the check's actor.
type Backend interface {
	wire.Keys
	// ProjectCheckCount is the number of the project's checks.
	ProjectCheckCount(project uuid.UUID) int
	// CreatedChecks are up to limit of the project's checks, oldest first,
	// after skipping the skip oldest.
	CreatedChecks(project uuid.UUID, skip, limit int) ([]store.Check, error)
	// CheckByNumber is the project's check whose store.CheckNumber is n.
	CheckByNumber(project uuid.UUID, n uint64) (store.Check, error)
	// CreateHeartbeat makes a check from the engine's defaults changed by edit,
	// paused if paused.
	CreateHeartbeat(project uuid.UUID, paused bool, edit func(*store.Check) error) (store.Check, error)
	// EditCheck applies edit (if any) and then, if paused is set, pauses or
	// resumes the check. An error from edit is returned as is, and nothing is
	// written.
	EditCheck(project, id uuid.UUID, paused *bool, edit func(*store.Check) error) (store.Check, error)
	DeleteCheck(project, id uuid.UUID) (store.Check, error)
	// Ping records a ping to the check with id (the token's check, of whatever
	// project) and returns once it is durable, or answers store.ErrNotFound.
	Ping(id uuid.UUID, ev heartbeat.Event, p store.Ping) error
	// Status is the check's status as Healthchecks.io shows it (new, up, grace,
	// down, paused), evaluated now.
	Status(c *store.Check, withStarted bool) string

	// Monitors (monitors.go). A monitor is addressed by its number, as heartbeats.
	Monitors(project uuid.UUID) ([]Monitor, error)
	MonitorByNumber(project uuid.UUID, n uint64) (Monitor, error)
	CreateMonitor(project uuid.UUID, a MonitorAttrs) (Monitor, error)
	// UpdateMonitor applies edit to the monitor's attributes in its actor; an
	// error from edit is returned as is and nothing is written.
	UpdateMonitor(project uuid.UUID, n uint64, edit func(MonitorAttrs) (MonitorAttrs, error)) (Monitor, error)
	DeleteMonitor(project uuid.UUID, n uint64) error
	ResponseTimes(project uuid.UUID, n uint64) ([]store.ResponseTime, error)
	Incidents(project uuid.UUID, n uint64) ([]store.Incident, error)
	// MonitorLimits are the engine's period floor for monitors.
	MonitorLimits() MonitorLimits
}

// Monitor is one monitor as the backend hands it out.
type Monitor struct {
	ID     uuid.UUID
	Number uint64
	Attrs  MonitorAttrs
	State  MonitorState
}
