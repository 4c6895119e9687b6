package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
)

// What alerting keeps: each project's notification channels, each check's
// notification log (one record per notification, with every delivery attempt),
// and the outbox, the notifications not yet delivered or given up.
//
//	prefix  key after the prefix                        value
//	'h'     project id (16) channel id (16)             Channel (CBOR)
//	'o'     check id (16) notification id (16)          Notification (CBOR)
//	'q'     notification id (16)                        check id (16): the outbox
//
// Notification ids are UUIDv7, so both 'o' (per check) and 'q' iterate in
// creation order: the outbox replays in the order the flips happened. A flip's
// notifications are written in the flip's own batch (AddNotification), so a flip
// is never durable without its alerts, nor an alert without its flip.
const (
	pfxChannel = 'h'
	pfxNotif   = 'o'
	pfxOutbox  = 'q'
)

// Notification states.
const (
	NotifyPending   = "pending"
	NotifyDelivered = "delivered"
	NotifyFailed    = "failed"
)

// Channel is one notification channel (integration) of a project.
type Channel struct {
	ID        uuid.UUID `cbor:"1,keyasint"`
	ProjectID uuid.UUID `cbor:"2,keyasint"`
	Name      string    `cbor:"3,keyasint,omitempty"`
	Kind      string    `cbor:"4,keyasint"`
	// Config is the kind's configuration as JSON, validated by the API before it
	// is stored; the store does not look inside.
	Config  []byte    `cbor:"5,keyasint,omitempty"`
	Created time.Time `cbor:"6,keyasint"`
}

// Notification is one alert for one flip through one channel, and its delivery
// record. What it says about the check is copied in when it is made, so it tells
// what was true at the flip even if the check changes or goes before delivery.
type Notification struct {
	ID        uuid.UUID `cbor:"1,keyasint"`
	CheckID   uuid.UUID `cbor:"2,keyasint"`
	ProjectID uuid.UUID `cbor:"3,keyasint"`
	ChannelID uuid.UUID `cbor:"4,keyasint"`
	Event     string    `cbor:"5,keyasint"` // down or up
	Created   time.Time `cbor:"6,keyasint"`
	FlipAt    time.Time `cbor:"7,keyasint"`
	State     string    `cbor:"8,keyasint"` // pending, delivered, failed

	Check NotifiedCheck `cbor:"9,keyasint"`

	// NAttempts counts every attempt; Attempts keeps the latest MaxAttemptsKept.
	NAttempts int       `cbor:"10,keyasint,omitempty"`
	Attempts  []Attempt `cbor:"11,keyasint,omitempty"`
}

// MaxAttemptsKept bounds a notification's attempt log: a receiver down for a day
// under a 60 s backoff would otherwise add some 1,400 entries.
const MaxAttemptsKept = 50

// NotifiedCheck is the check as a notification tells of it.
type NotifiedCheck struct {
	Name          string    `cbor:"1,keyasint,omitempty"`
	Slug          string    `cbor:"2,keyasint,omitempty"`
	Desc          string    `cbor:"3,keyasint,omitempty"`
	Tags          string    `cbor:"4,keyasint,omitempty"`
	Status        string    `cbor:"5,keyasint,omitempty"`
	LastPing      time.Time `cbor:"6,keyasint,omitempty"`
	AlertMessage  string    `cbor:"7,keyasint,omitempty"`
	AlertTags     []string  `cbor:"8,keyasint,omitempty"`
	AlertPriority string    `cbor:"9,keyasint,omitempty"`
}

// Attempt is one delivery attempt.
type Attempt struct {
	At      time.Time     `cbor:"1,keyasint"`
	Status  int           `cbor:"2,keyasint,omitempty"` // HTTP status or SMTP code; 0 none
	Error   string        `cbor:"3,keyasint,omitempty"`
	Latency time.Duration `cbor:"4,keyasint"`
}

// AddAttempt appends a to n's log, dropping the oldest beyond MaxAttemptsKept.
func (n *Notification) AddAttempt(a Attempt) {
	n.NAttempts++
	n.Attempts = append(n.Attempts, a)
	if over := len(n.Attempts) - MaxAttemptsKept; over > 0 {
		n.Attempts = append(n.Attempts[:0], n.Attempts[over:]...)
	}
}

// These records are small and written once per flip or attempt, so they go
// through the library with times as RFC 3339 text (exact to the nanosecond)
// rather than through the hand-made mirrors the hot records use.
var notifyEncMode cbor.EncMode

func init() {
	var err error
	notifyEncMode, err = cbor.EncOptions{Time: cbor.TimeRFC3339Nano}.EncMode()
	if err != nil {
		panic(err)
	}
}

func channelKey(dst []byte, projectID, id uuid.UUID) []byte {
	return append(appendID(dst, pfxChannel, projectID), id[:]...)
}

func notifKey(dst []byte, checkID, id uuid.UUID) []byte {
	return append(appendID(dst, pfxNotif, checkID), id[:]...)
}

func (b *Batch) putRecord(key []byte, what string, v any) {
	val, err := notifyEncMode.Marshal(v)
	if err != nil {
		b.fail(fmt.Errorf("encode %s: %w", what, err))
		return
	}
	b.set(key, val)
}

// PutChannel writes ch.
func (b *Batch) PutChannel(ch *Channel) {
	b.key = channelKey(b.key[:0], ch.ProjectID, ch.ID)
	b.putRecord(b.key, "channel "+ch.ID.String(), ch)
}

// DeleteChannel removes a channel. Its notifications stay in their checks' logs.
func (b *Batch) DeleteChannel(projectID, id uuid.UUID) {
	b.key = channelKey(b.key[:0], projectID, id)
	b.del(b.key)
}

// PutNotification writes n into its check's log and keeps the outbox in step:
// a pending notification is in it, a delivered or failed one is not.
func (b *Batch) PutNotification(n *Notification) {
	b.key = notifKey(b.key[:0], n.CheckID, n.ID)
	b.putRecord(b.key, "notification "+n.ID.String(), n)
	b.key = appendID(b.key[:0], pfxOutbox, n.ID)
	if n.State == NotifyPending {
		b.set(b.key, n.CheckID[:])
	} else {
		b.del(b.key)
	}
}

// DropOutbox removes notification id from the outbox without touching any log:
// for a notification whose check is gone.
func (b *Batch) DropOutbox(id uuid.UUID) {
	b.key = appendID(b.key[:0], pfxOutbox, id)
	b.del(b.key)
}

// deleteCheckNotifications drops the check's notification log. Its outbox
// entries are left for the outbox to drop when it finds the log gone.
func (b *Batch) deleteCheckNotifications(checkID uuid.UUID) {
	b.delIDRange(pfxNotif, checkID)
}

// Channels returns the project's channels in id order.
func (s *Store) Channels(projectID uuid.UUID) ([]Channel, error) {
	return scanRecords[Channel](s, appendID(nil, pfxChannel, projectID), 0, false)
}

// AllChannels returns every project's channels, for loading at start.
func (s *Store) AllChannels() ([]Channel, error) {
	return scanRecords[Channel](s, []byte{pfxChannel}, 0, false)
}

// Notifications returns up to limit (0: all) of the check's notifications,
// newest first.
func (s *Store) Notifications(checkID uuid.UUID, limit int) ([]Notification, error) {
	return scanRecords[Notification](s, appendID(nil, pfxNotif, checkID), limit, true)
}

// GetNotification returns one notification, or ErrNotFound.
func (s *Store) GetNotification(checkID, id uuid.UUID) (*Notification, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	var n Notification
	err := s.get(notifKey(nil, checkID, id), func(v []byte) error {
		if err := decMode.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("decode notification %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// Outbox calls fn for every notification in the outbox, oldest first. An
// entry whose notification log is gone (its check was deleted) is reported
// with a nil notification, for the caller to drop.
func (s *Store) Outbox(fn func(id uuid.UUID, n *Notification) error) error {
	type entry struct{ id, check uuid.UUID }
	var entries []entry
	if err := s.scan([]byte{pfxOutbox}, false, func(k, v []byte) (bool, error) {
		if len(k) != 1+16 || len(v) != 16 {
			return true, nil
		}
		entries = append(entries, entry{uuid.UUID(k[1:]), uuid.UUID(v)})
		return true, nil
	}); err != nil {
		return err
	}
	for _, e := range entries {
		n, err := s.GetNotification(e.check, e.id)
		if errors.Is(err, ErrNotFound) {
			n, err = nil, nil
		}
		if err != nil {
			return err
		}
		if err := fn(e.id, n); err != nil {
			return err
		}
	}
	return nil
}

// scan calls fn for each key under prefix, in key order or reversed, until fn
// says stop.
func (s *Store) scan(prefix []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	it, err := s.iter(prefix, prefixEnd(nil, prefix))
	if err != nil {
		return err
	}
	// Not method values (it.First...): they would move the iterator to
	// the heap.
	var ok bool
	if reverse {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	for ok {
		more, err := fn(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		if !more {
			break
		}
		if reverse {
			ok = it.Prev()
		} else {
			ok = it.Next()
		}
	}
	if err := it.Error(); err != nil {
		it.Close()
		return err
	}
	return it.Close()
}

func scanRecords[T any](s *Store, prefix []byte, limit int, reverse bool) ([]T, error) {
	var out []T
	err := s.scan(prefix, reverse, func(k, v []byte) (bool, error) {
		var r T
		if err := decMode.Unmarshal(bytes.Clone(v), &r); err != nil {
			return false, fmt.Errorf("decode %q: %w", k, err)
		}
		out = append(out, r)
		return limit == 0 || len(out) < limit, nil
	})
	return out, err
}
