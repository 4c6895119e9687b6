package store

import (
	"time"

	"github.com/google/uuid"
)

// Role says what a key may do within its project.
type Role uint8

const (
	RoleReadWrite Role = 1
	RoleReadOnly  Role = 2
)

// Project is a tenant: every check and key belongs to exactly one.
// Keys are stored as SHA-256 hashes only; the plain keys are shown once, when made.
type Project struct {
	ID              uuid.UUID `cbor:"1,keyasint"`
	Name            string    `cbor:"2,keyasint"`
	Created         time.Time `cbor:"3,keyasint"`
	APIKeyHash      [32]byte  `cbor:"4,keyasint"`
	ReadOnlyKeyHash [32]byte  `cbor:"5,keyasint"`
	// PingKey is not secret in the sense of an API key: it is part of every slug
	// ping URL, as in Healthchecks.io, so it is kept in the clear.
	PingKey string `cbor:"6,keyasint"`
}

// Check is one heartbeat: its configuration (written by the APIs) and its runtime
// state (written by its actor). One record, so one Pebble write moves both together.
type Check struct {
	ID           uuid.UUID     `cbor:"1,keyasint"`
	ProjectID    uuid.UUID     `cbor:"2,keyasint"`
	Name         string        `cbor:"3,keyasint,omitempty"`
	Slug         string        `cbor:"4,keyasint,omitempty"`
	Tags         string        `cbor:"5,keyasint,omitempty"`
	Desc         string        `cbor:"6,keyasint,omitempty"`
	Kind         string        `cbor:"7,keyasint"` // "simple" or "cron"
	Timeout      time.Duration `cbor:"8,keyasint"`
	Grace        time.Duration `cbor:"9,keyasint"`
	Schedule     string        `cbor:"10,keyasint,omitempty"`
	TZ           string        `cbor:"11,keyasint,omitempty"`
	ManualResume bool          `cbor:"12,keyasint,omitempty"`
	Channels     string        `cbor:"13,keyasint,omitempty"`
	Created      time.Time     `cbor:"14,keyasint"`
	Methods      string        `cbor:"15,keyasint,omitempty"` // "" or "POST" (Healthchecks.io)

	// Runtime state, owned by the check's actor.
	Status       string        `cbor:"20,keyasint"` // new, up, grace, down, paused, started
	LastPing     time.Time     `cbor:"21,keyasint,omitempty"`
	LastStart    time.Time     `cbor:"22,keyasint,omitempty"`
	LastStartRID string        `cbor:"23,keyasint,omitempty"`
	LastDuration time.Duration `cbor:"24,keyasint,omitempty"`
	// Deadline is when the next timer-driven transition is due (zero: none).
	Deadline time.Time `cbor:"25,keyasint,omitempty"`
	// NPings is the number of pings ever received; the newest ping's N.
	NPings uint64 `cbor:"26,keyasint,omitempty"`
	// NoBodyFrom, when not zero, is a ping number from which on (up to NPings)
	// no ping had a body, so trimming those pings needs no body tombstone.
	// Zero is unknown. Kept by Batch.AppendPing.
	NoBodyFrom uint64 `cbor:"27,keyasint,omitempty"`

	// Dialect holds the Opsgenie and Better Uptime attributes (see dialects.go);
	// nil for a check no such API has touched.
	Dialect *DialectAttrs `cbor:"40,keyasint,omitempty"`
}

// Ping is one entry of a check's ping log.
type Ping struct {
	N          uint64        `cbor:"1,keyasint"`
	Kind       string        `cbor:"2,keyasint"` // success, start, fail, log, ign
	Time       time.Time     `cbor:"3,keyasint"`
	Scheme     string        `cbor:"4,keyasint,omitempty"`
	RemoteAddr string        `cbor:"5,keyasint,omitempty"`
	Method     string        `cbor:"6,keyasint,omitempty"`
	UA         string        `cbor:"7,keyasint,omitempty"`
	RID        string        `cbor:"8,keyasint,omitempty"`
	ExitStatus int           `cbor:"9,keyasint,omitempty"` // -1 when the ping carried none
	Duration   time.Duration `cbor:"10,keyasint,omitempty"`
	BodySize   int           `cbor:"11,keyasint,omitempty"`
	// Body is written beside the entry under its own key, so listing a log does not
	// read bodies; it is set on write and by PingBody, empty in Pings listings.
	Body []byte `cbor:"-"`
}

// Flip is a status change of a check.
type Flip struct {
	Time time.Time `cbor:"1,keyasint"`
	From string    `cbor:"2,keyasint"`
	To   string    `cbor:"3,keyasint"`
}
