package opsgenie

import (
	"errors"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/api/wire"
	"github.com/vigilo/vigilo/engine/store"
)

// ErrNameTaken is what Backend.CreateNamed returns when the project already has a
// check of that name.
var ErrNameTaken = errors.New("a heartbeat with this name already exists")

// Backend is what this dialect needs of the engine. Methods taking a project
// answer store.ErrNotFound for another project's check as for an unknown one, and
// every change goes through the check's actor.
type Backend interface {
	wire.Keys
	// Checks is every check of the project.
	Checks(project uuid.UUID) ([]store.Check, error)
	// CheckByName is the project's check named name; when several share it (the
	// other dialects allow that), the oldest.
	CheckByName(project uuid.UUID, name string) (store.Check, error)
	// CreateNamed makes a check named name from the engine's defaults changed by
	// edit, paused if paused, or answers ErrNameTaken; creations in one project
	// are serialised, so two cannot both take a name.
	CreateNamed(project uuid.UUID, name string, paused bool, edit func(*store.Check) error) (store.Check, error)
	// EditCheck applies edit (if any) and then, if paused is set, pauses or
	// resumes the check. An error from edit is returned as is, and nothing is
	// written.
	EditCheck(project, id uuid.UUID, paused *bool, edit func(*store.Check) error) (store.Check, error)
	DeleteCheck(project, id uuid.UUID) (store.Check, error)
	// Ping records a ping and returns once it is durable.
	Ping(id uuid.UUID, ev heartbeat.Event, p store.Ping) error
	// Status is the check's status as Healthchecks.io shows it (new, up, grace,
	// down, paused), evaluated now.
	Status(c *store.Check, withStarted bool) string
}
