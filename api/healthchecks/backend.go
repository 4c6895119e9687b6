package healthchecks

import (
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/engine/store"
)

// Backend is what this dialect needs of the engine. Methods taking a project answer
// store.ErrNotFound for a check of another project as for an unknown one.
type Backend interface {
	// Authenticate maps an API key to its project.
	Authenticate(key string) (project uuid.UUID, readOnly bool, ok bool)
	// EachCheck calls fn with each check of the project, in id order, until fn
	// says stop: those with the slug if one is given, and with every one of tags.
	EachCheck(project uuid.UUID, slug string, tags []string, fn func(*store.Check) (more bool, err error)) error
	Check(project, id uuid.UUID) (store.Check, error)
	// CheckByUniqueKey is the project's check whose store.UniqueKey is key.
	CheckByUniqueKey(project uuid.UUID, key [20]byte) (store.Check, error)
	// CreateCheck returns the oldest check of the project that m matches, after
	// edit, or else a new check made by edit from defaults; created says which.
	// Concurrent creates in one project cannot both create a check m matches.
	CreateCheck(project uuid.UUID, m store.Match, edit func(*store.Check) error) (c store.Check, created bool, err error)
	UpdateCheck(project, id uuid.UUID, edit func(*store.Check) error) (store.Check, error)
	PauseCheck(project, id uuid.UUID) (store.Check, error)
	// ResumeCheck resumes a paused check; for one that is not paused it changes
	// nothing and reports paused false.
	ResumeCheck(project, id uuid.UUID) (c store.Check, paused bool, err error)
	DeleteCheck(project, id uuid.UUID) (store.Check, error)
	Pings(project, id uuid.UUID) ([]store.Ping, error)
	PingBody(project, id uuid.UUID, n uint64) ([]byte, error)
	Flips(project, id uuid.UUID, from, to time.Time) ([]store.Flip, error)
	// Timing is the check's status for display (withStarted is API v1's view, where
	// a run in progress shows as "started") and Healthchecks' next_ping, when the
	// grace period starts (zero if never): one answer, so the schedule is compiled once.
	Timing(c *store.Check, withStarted bool) (status string, nextPing time.Time)
	// ValidateSchedule checks a cron expression and time zone.
	ValidateSchedule(schedule, tz string) error

	// Channels are the project's notification channels, oldest first.
	Channels(project uuid.UUID) []store.Channel
	Channel(project, id uuid.UUID) (store.Channel, error)
	// SaveChannel creates or replaces a channel after validating its kind and
	// config; a refused config is a *ChannelError.
	SaveChannel(ch store.Channel) (store.Channel, error)
	DeleteChannel(project, id uuid.UUID) error
	// TestChannel sends a test notification through the channel now.
	TestChannel(project, id uuid.UUID) (store.Attempt, error)
	// Notifications is the check's notification log, newest first.
	Notifications(project, check uuid.UUID) ([]store.Notification, error)
}

// ChannelError is a channel kind or configuration the backend refuses: the
// caller's mistake, answered with 400 and this message.
type ChannelError struct{ Msg string }

func (e *ChannelError) Error() string { return e.Msg }
