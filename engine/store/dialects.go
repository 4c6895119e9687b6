package store

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/google/uuid"
)

// What the Opsgenie and Better Uptime dialects need of the store: the attributes
// of theirs that the check model has no field for, and two indexes, because
// Opsgenie addresses a heartbeat by its name and Better Uptime by a number, where
// everything else here is addressed by uuid.
//
//	prefix  key after the prefix                        value
//	'N'     project id (16) name 0x00 check id (16)     empty: name index
//	'n'     project id (16) number (8) check id (16)    empty: number index
//
// Both are per project, like 's', so deleting a project drops each with one range
// delete, and a name or number only ever resolves within the caller's project.
const (
	pfxName   = 'N'
	pfxNumber = 'n'
)

// DialectAttrs holds what the Opsgenie and Better Uptime APIs accept about a
// heartbeat and echo back, but that changes nothing in how the check is
// monitored (alerting is not built yet). A Check has none (nil) until one of those
// APIs sets something, so a check made through Healthchecks.io costs one pointer.
//
// Check records are copied by value and a copy shares this struct: treat it as
// immutable and replace it (Clone, change, assign) rather than change it in place.
type DialectAttrs struct {
	// Opsgenie. IntervalUnit is the unit the interval was given in (minutes,
	// hours, days), so a heartbeat reads back as it was written.
	IntervalUnit  string   `cbor:"1,keyasint,omitempty"`
	OwnerTeamID   string   `cbor:"2,keyasint,omitempty"`
	OwnerTeamName string   `cbor:"3,keyasint,omitempty"`
	AlertMessage  string   `cbor:"4,keyasint,omitempty"`
	AlertTags     []string `cbor:"5,keyasint,omitempty"`
	AlertPriority string   `cbor:"6,keyasint,omitempty"`

	// Better Uptime. A nil pointer is "not set": email and push then default to
	// true, the numbers to null.
	Call           bool   `cbor:"10,keyasint,omitempty"`
	SMS            bool   `cbor:"11,keyasint,omitempty"`
	Email          *bool  `cbor:"12,keyasint,omitempty"`
	Push           *bool  `cbor:"13,keyasint,omitempty"`
	CriticalAlert  bool   `cbor:"14,keyasint,omitempty"`
	TeamWait       *int64 `cbor:"15,keyasint,omitempty"`
	HeartbeatGroup *int64 `cbor:"16,keyasint,omitempty"`
	SortIndex      *int64 `cbor:"17,keyasint,omitempty"`
	PolicyID       string `cbor:"18,keyasint,omitempty"`
	TeamName       string `cbor:"19,keyasint,omitempty"`

	// When a dialect last changed the check, and when one paused it (Unix
	// nanoseconds, 0 unknown): Better Uptime shows both.
	UpdatedAt int64 `cbor:"30,keyasint,omitempty"`
	PausedAt  int64 `cbor:"31,keyasint,omitempty"`

	// Origin is the dialect that created the check ("opsgenie", "betteruptime");
	// alerting routes by it (package notify).
	Origin string `cbor:"32,keyasint,omitempty"`
}

// Clone returns a deep copy of a (a zero DialectAttrs for nil), for an edit to change.
func (a *DialectAttrs) Clone() *DialectAttrs {
	if a == nil {
		return &DialectAttrs{}
	}
	c := *a
	c.AlertTags = slices.Clone(a.AlertTags)
	for _, p := range []**bool{&c.Email, &c.Push} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	for _, p := range []**int64{&c.TeamWait, &c.HeartbeatGroup, &c.SortIndex} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	return &c
}

// CheckNumber is the number the Better Uptime dialect knows a check by: 53 bits of
// the SHA-256 of its uuid, at least 1. It is derived rather than stored, so every
// check has one however it was made, and it is exact as a JSON number in any
// client (2^53). Two checks of one project sharing a number is possible but, below
// some 10^5 checks per project, less likely than one in 10^6; ChecksByNumber then
// returns both.
func CheckNumber(id uuid.UUID) uint64 {
	h := sha256.Sum256(id[:])
	if n := binary.BigEndian.Uint64(h[:8]) >> 11; n != 0 {
		return n
	}
	return 1
}

func namePrefix(dst []byte, projectID uuid.UUID, name string) []byte {
	dst = appendID(dst, pfxName, projectID)
	dst = append(dst, name...)
	return append(dst, 0)
}

func nameKey(dst []byte, projectID uuid.UUID, name string, checkID uuid.UUID) []byte {
	return append(namePrefix(dst, projectID, name), checkID[:]...)
}

func numberPrefix(dst []byte, projectID uuid.UUID, n uint64) []byte {
	return binary.BigEndian.AppendUint64(appendID(dst, pfxNumber, projectID), n)
}

func numberKey(dst []byte, projectID uuid.UUID, n uint64, checkID uuid.UUID) []byte {
	return append(numberPrefix(dst, projectID, n), checkID[:]...)
}

// putDialectIndex keeps c's name and number entries in step with PutCheck(old, c).
// Unlike the slug entry they are written only when they change (the check is new,
// renamed or moved to another project): a ping never changes them, and pings are
// the hot path.
func (b *Batch) putDialectIndex(old, c *Check) {
	moved := old == nil || old.ProjectID != c.ProjectID
	renamed := moved || old.Name != c.Name
	if old != nil && old.Name != "" && renamed {
		b.key = nameKey(b.key[:0], old.ProjectID, old.Name, old.ID)
		b.del(b.key)
	}
	if c.Name != "" && renamed {
		b.key = nameKey(b.key[:0], c.ProjectID, c.Name, c.ID)
		b.set(b.key, nil)
	}
	if moved {
		if old != nil {
			b.key = numberKey(b.key[:0], old.ProjectID, CheckNumber(old.ID), old.ID)
			b.del(b.key)
		}
		b.key = numberKey(b.key[:0], c.ProjectID, CheckNumber(c.ID), c.ID)
		b.set(b.key, nil)
	}
}

// deleteDialectIndex adds the deletion of c's name and number entries.
func (b *Batch) deleteDialectIndex(c *Check) {
	if c.Name != "" {
		b.key = nameKey(b.key[:0], c.ProjectID, c.Name, c.ID)
		b.del(b.key)
	}
	b.key = numberKey(b.key[:0], c.ProjectID, CheckNumber(c.ID), c.ID)
	b.del(b.key)
}

// deleteProjectDialectIndex adds the deletion of every name and number entry of
// the project.
func (b *Batch) deleteProjectDialectIndex(projectID uuid.UUID) {
	b.delIDRange(pfxName, projectID)
	b.delIDRange(pfxNumber, projectID)
}

// ChecksByName returns the ids of the project's checks named name, in id order
// (names are not unique: Healthchecks.io and Better Uptime allow repeats). An
// entry may outlive its check by a crash between the two deletes of a project;
// callers resolve ids through the registry, which has no such check.
func (s *Store) ChecksByName(projectID uuid.UUID, name string) ([]uuid.UUID, error) {
	if name == "" {
		return nil, nil
	}
	return s.indexed(namePrefix(nil, projectID, name))
}

// ChecksByNumber returns the ids of the project's checks whose CheckNumber is n
// (normally one), in id order.
func (s *Store) ChecksByNumber(projectID uuid.UUID, n uint64) ([]uuid.UUID, error) {
	return s.indexed(numberPrefix(nil, projectID, n))
}

// indexed returns the check ids of the index entries that are exactly prefix
// followed by an id.
func (s *Store) indexed(prefix []byte) ([]uuid.UUID, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	it, err := s.iter(prefix, prefixEnd(nil, prefix))
	if err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	for ok := it.First(); ok; ok = it.Next() {
		if k := it.Key(); len(k) == len(prefix)+16 {
			ids = append(ids, uuid.UUID(k[len(prefix):]))
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return nil, err
	}
	return ids, it.Close()
}
