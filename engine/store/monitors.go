package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// What active monitors keep: the monitor (its Better Uptime attributes, with its
// state as of its last create or update), its state machine's state as of its
// last probe, its response times, and its incidents, from which SLA is
// computed. A monitor's status changes are flips under 'f', as a check's are.
//
// The state has a key of its own so that a probe that changes it rewrites
// about 100 bytes, not the whole record with its kilobyte of attributes. A
// probe that changes nothing but LastProbe, Next and NResponses (most of
// them: the target is as it was) need not write it at all: its response time
// records both, and AllMonitors folds the newest one in. Next the host
// recomputes at load.
//
//	prefix  key after the prefix                        value
//	'M'     monitor id (16)                             Monitor (CBOR)
//	'S'     monitor id (16)                             its state (CBOR): wins over the state in 'M'
//	'G'     project id (16) monitor id (16)             empty: the project's monitors
//	'R'     monitor id (16) n (8)                       ResponseTime (CBOR); at least the newest ResponseLimit kept
//	'I'     monitor id (16) start (8)                   Incident (CBOR)
const (
	pfxMonitor     = 'M'
	pfxMonState    = 'S'
	pfxProjMonitor = 'G'
	pfxResponse    = 'R'
	pfxIncident    = 'I'
)

// Monitor is one active monitor.
type Monitor struct {
	ID        uuid.UUID `cbor:"1,keyasint"`
	ProjectID uuid.UUID `cbor:"2,keyasint"`
	// Attrs is the Better Uptime attributes as JSON (api/betteruptime's
	// MonitorAttrs): the store does not look inside.
	Attrs    []byte    `cbor:"3,keyasint"`
	Created  time.Time `cbor:"4,keyasint"`
	Updated  time.Time `cbor:"5,keyasint"`
	PausedAt time.Time `cbor:"6,keyasint,omitempty"`

	// MonitorState is the runtime state, owned by the monitor's actor; its
	// fields are the record's own in the encoding (keys 20 to 30).
	MonitorState
}

// MonitorState is a monitor's runtime state (actors/monitor.State and what its
// actor keeps beside it), written alone under 'S' after a probe.
type MonitorState struct {
	Status          string    `cbor:"20,keyasint"`
	Since           time.Time `cbor:"21,keyasint,omitempty"`
	FailingSince    time.Time `cbor:"22,keyasint,omitempty"`
	RecoveringSince time.Time `cbor:"23,keyasint,omitempty"`
	IncidentSince   time.Time `cbor:"24,keyasint,omitempty"`
	LastProbe       time.Time `cbor:"25,keyasint,omitempty"`
	Next            time.Time `cbor:"26,keyasint,omitempty"`
	Wake            uint8     `cbor:"27,keyasint,omitempty"`
	LastError       string    `cbor:"28,keyasint,omitempty"`
	NResponses      uint64    `cbor:"29,keyasint,omitempty"`
	// IncidentCause is the open incident's cause, kept here so resolving it
	// rewrites the incident without reading it back.
	IncidentCause string `cbor:"30,keyasint,omitempty"`
}

// ResponseTime is one probe's timing.
type ResponseTime struct {
	N         uint64        `cbor:"1,keyasint"`
	At        time.Time     `cbor:"2,keyasint"`
	Region    string        `cbor:"3,keyasint,omitempty"`
	Up        bool          `cbor:"4,keyasint,omitempty"`
	DNS       time.Duration `cbor:"5,keyasint,omitempty"`
	Connect   time.Duration `cbor:"6,keyasint,omitempty"`
	TLS       time.Duration `cbor:"7,keyasint,omitempty"`
	FirstByte time.Duration `cbor:"8,keyasint,omitempty"`
	Total     time.Duration `cbor:"9,keyasint,omitempty"`
}

// Incident is a period a monitor was down: from its first failing probe to the
// probe that resolved it (End zero while open).
type Incident struct {
	Start time.Time `cbor:"1,keyasint"`
	End   time.Time `cbor:"2,keyasint,omitempty"`
	Cause string    `cbor:"3,keyasint,omitempty"`
}

// ResponseLimit is how many response times are kept per monitor.
const ResponseLimit = 1000

func incidentKey(dst []byte, id uuid.UUID, start time.Time) []byte {
	return timeKey(appendID(dst, pfxIncident, id), start)
}

// PutMonitor writes m whole, with its project index entry.
func (b *Batch) PutMonitor(m *Monitor) {
	b.key = appendID(b.key[:0], pfxMonitor, m.ID)
	b.putRecord(b.key, "monitor", m)
	b.key = append(appendID(b.key[:0], pfxProjMonitor, m.ProjectID), m.ID[:]...)
	b.set(b.key, nil)
	b.PutMonitorState(m)
}

// PutMonitorState writes only m's runtime state (Status through
// IncidentCause): what a probe changes.
func (b *Batch) PutMonitorState(m *Monitor) {
	b.key = appendID(b.key[:0], pfxMonState, m.ID)
	b.putRecord(b.key, "monitor state", &m.MonitorState)
}

// responsePrune is how often the old response times are dropped: the ones
// expired since the last prune, every responsePrune entries, so a probe result
// costs one iterator seek in 64 rather than one each (see Batch.delKeys for why
// they are point deletions).
const responsePrune = 64

// AddResponseTime appends r as entry r.N of the monitor's response times and,
// every responsePrune entries, drops those older than the newest
// ResponseLimit.
func (b *Batch) AddResponseTime(id uuid.UUID, r *ResponseTime) {
	b.key = pingLogKey(b.key[:0], pfxResponse, id, r.N)
	b.putRecord(b.key, "response time", r)
	if r.N > ResponseLimit && r.N%responsePrune == 0 {
		// Only the entries expired since the last prune (and the one
		// before, in case its batch was lost): the ones below were deleted
		// then, and their tombstones need not be walked again.
		b.key = pingLogKey(b.key[:0], pfxResponse, id, r.N-ResponseLimit-min(r.N-ResponseLimit, 2*responsePrune))
		b.key2 = pingLogKey(b.key2[:0], pfxResponse, id, r.N-ResponseLimit+1)
		b.delKeys(b.key, b.key2)
	}
}

// IncidentRetention is how long incidents are kept: a year and a month, so a
// yearly SLA can always be computed.
const IncidentRetention = 396 * 24 * time.Hour

// PutIncident writes an incident (opened, or resolved with its End). It drops
// nothing: retention is PruneIncidents' job, since finding a check's expired
// incidents costs an iterator, and a burst of checks going down together would
// pay one each.
func (b *Batch) PutIncident(id uuid.UUID, in *Incident) {
	b.key = incidentKey(b.key[:0], id, in.Start)
	b.putRecord(b.key, "incident", in)
}

// pruneBatch is how many deletions PruneIncidents commits at a time.
const pruneBatch = 1024

// PruneIncidents deletes, with point deletions, every resolved incident of every
// check and monitor that started before cutoff, in one pass over the incident
// keys, committing as it goes; it returns how many it deleted. An open incident
// is kept however old: its check's actor will resolve it, and a resolved one is
// never written again, so this can run beside the actors.
func (s *Store) PruneIncidents(cutoff time.Time) (int, error) {
	if !s.enter() {
		return 0, ErrClosed
	}
	it, err := s.iter([]byte{pfxIncident}, []byte{pfxIncident + 1})
	if err != nil {
		s.exit()
		return 0, fmt.Errorf("prune incidents: %w", err)
	}
	defer s.exit()
	limit := uint64(nanos(cutoff)) ^ (1 << 63)
	deleted := 0
	var b *Batch
	flush := func() error {
		if b == nil {
			return nil
		}
		n := b.pb.Count()
		err := s.Commit(b)
		b = nil
		if err == nil {
			deleted += int(n)
		}
		return err
	}
	var in Incident
	for ok := it.First(); ok && err == nil; ok = it.Next() {
		k := it.Key()
		if len(k) != 1+16+8 || binary.BigEndian.Uint64(k[17:]) >= limit {
			continue
		}
		var v []byte
		if v, err = it.ValueAndErr(); err != nil {
			break
		}
		in = Incident{}
		if decMode.Unmarshal(v, &in) != nil || in.End.IsZero() {
			continue // open, or not ours to judge (its reader reports it)
		}
		if b == nil {
			b = s.NewBatch()
		}
		b.del(k) // copied into the batch
		if b.pb.Count() >= pruneBatch {
			err = flush()
		}
	}
	if err == nil {
		err = flush()
	} else if b != nil {
		b.Discard()
	}
	if err = errors.Join(err, it.Error(), it.Close()); err != nil {
		return deleted, fmt.Errorf("prune incidents: %w", err)
	}
	return deleted, nil
}

// DeleteMonitor removes the monitor and everything recorded for it.
func (b *Batch) DeleteMonitor(m *Monitor) {
	b.key = appendID(b.key[:0], pfxMonitor, m.ID)
	b.del(b.key)
	b.key = appendID(b.key[:0], pfxMonState, m.ID)
	b.del(b.key)
	b.key = append(appendID(b.key[:0], pfxProjMonitor, m.ProjectID), m.ID[:]...)
	b.del(b.key)
	// The monitor's buffered samples first, so that its point deletions see
	// them; none comes after, its actor being the one deleting it.
	if b.s.enter() {
		if err := b.s.readSamples(); err != nil {
			b.fail(fmt.Errorf("flush samples before deleting monitor %s: %w", m.ID, err))
		}
		b.s.exit()
	}
	b.delIDKeys(pfxResponse, m.ID)
	b.delIDKeys(pfxIncident, m.ID)
	b.delIDKeys(pfxFlip, m.ID)
	b.deleteCheckNotifications(m.ID)
}

// AllMonitors calls fn for every monitor, for loading at start: its latest
// state, with NResponses and LastProbe those of its newest response time when
// that is newer (samples ApplySample has accepted included). Next is as last
// written and may have passed.
func (s *Store) AllMonitors(fn func(*Monitor) error) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	if err := s.readSamples(); err != nil {
		return err
	}
	// All three prefixes are in id order, so the other iterators only move
	// forward.
	states, err := s.iter([]byte{pfxMonState}, []byte{pfxMonState + 1})
	if err != nil {
		return err
	}
	defer states.Close()
	responses, err := s.iter([]byte{pfxResponse}, []byte{pfxResponse + 1})
	if err != nil {
		return err
	}
	defer responses.Close()
	var key, end []byte
	err = s.scan([]byte{pfxMonitor}, false, func(k, v []byte) (bool, error) {
		var m Monitor
		if err := decMode.Unmarshal(v, &m); err != nil {
			return false, fmt.Errorf("decode monitor %x: %w", k[1:], err)
		}
		key = appendID(key[:0], pfxMonState, m.ID)
		if states.SeekGE(key) && bytes.Equal(states.Key(), key) {
			m.MonitorState = MonitorState{}
			if err := decMode.Unmarshal(states.Value(), &m.MonitorState); err != nil {
				return false, fmt.Errorf("decode monitor state %x: %w", k[1:], err)
			}
		}
		key = appendID(key[:0], pfxResponse, m.ID)
		end = prefixEnd(end[:0], key)
		if responses.SeekLT(end) && bytes.HasPrefix(responses.Key(), key) {
			var rt ResponseTime
			if err := decMode.Unmarshal(responses.Value(), &rt); err != nil {
				return false, fmt.Errorf("decode response time %x: %w", responses.Key()[1:], err)
			}
			if rt.N > m.NResponses {
				m.NResponses, m.LastProbe = rt.N, rt.At
			}
		}
		return true, fn(&m)
	})
	if err != nil {
		return err
	}
	if err := states.Error(); err != nil {
		return err
	}
	return responses.Error()
}

// ResponseTimes returns up to limit (0 or over ResponseLimit: ResponseLimit)
// of the monitor's newest response times, oldest first, every one ApplySample
// has accepted included.
func (s *Store) ResponseTimes(id uuid.UUID, limit int) ([]ResponseTime, error) {
	if limit <= 0 || limit > ResponseLimit {
		limit = ResponseLimit
	}
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	if err := s.readSamples(); err != nil {
		return nil, err
	}
	out, err := scanRecords[ResponseTime](s, appendID(nil, pfxResponse, id), limit, true)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// Incidents returns the monitor's incidents, oldest first.
func (s *Store) Incidents(id uuid.UUID) ([]Incident, error) {
	return scanRecords[Incident](s, appendID(nil, pfxIncident, id), 0, false)
}
