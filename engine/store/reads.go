package store

import (
	"errors"
	"time"

	"github.com/google/uuid"
)

// Reads see every commit that has returned (Commit) or completed
// (CommitAsync's done), and may see commits still in flight.

// GetProject returns the project, or ErrNotFound.
func (s *Store) GetProject(id uuid.UUID) (*Project, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	return s.getProject(id)
}

func (s *Store) getProject(id uuid.UUID) (*Project, error) {
	var key [1 + 16]byte
	var p *Project
	err := s.get(projectKey(key[:0], id), func(v []byte) (err error) {
		p, err = decodeProject(v)
		return err
	})
	return p, err
}

// Projects returns every project, in id order.
func (s *Store) Projects() ([]*Project, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	it, err := s.iter([]byte{pfxProject}, []byte{pfxProject + 1})
	if err != nil {
		return nil, err
	}
	var ps []*Project
	for ok := it.First(); ok; ok = it.Next() {
		p, err := decodeProject(it.Value())
		if err != nil {
			it.Close()
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, it.Close()
}

// LookupKey returns the project and role of the API key whose SHA-256 is hash,
// or ErrNotFound.
func (s *Store) LookupKey(hash [32]byte) (projectID uuid.UUID, role Role, err error) {
	if !s.enter() {
		return uuid.Nil, 0, ErrClosed
	}
	defer s.exit()
	var key [1 + 32]byte
	err = s.get(keyHashKey(key[:0], hash), func(v []byte) error {
		if len(v) != 17 {
			return errors.New("store: corrupt key index entry")
		}
		projectID, role = uuid.UUID(v[:16]), Role(v[16])
		return nil
	})
	return projectID, role, err
}

// LookupPingKey returns the project whose ping key is pingKey, or ErrNotFound.
func (s *Store) LookupPingKey(pingKey string) (uuid.UUID, error) {
	if pingKey == "" {
		return uuid.Nil, ErrNotFound
	}
	if !s.enter() {
		return uuid.Nil, ErrClosed
	}
	defer s.exit()
	var key [64]byte
	var id uuid.UUID
	err := s.get(pingKeyKey(key[:0], pingKey), func(v []byte) error {
		if len(v) < 16 {
			return errors.New("store: corrupt ping key index entry")
		}
		id = uuid.UUID(v[:16])
		return nil
	})
	return id, err
}

// GetCheck returns the check, or ErrNotFound.
func (s *Store) GetCheck(id uuid.UUID) (*Check, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	return s.getCheck(id)
}

func (s *Store) getCheck(id uuid.UUID) (*Check, error) {
	var key [checkKeyLen]byte
	var w checkWire
	c := new(Check)
	err := s.get(checkKey(key[:0], id), func(v []byte) error {
		return decodeCheck(v, &w, c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ProjectChecks calls fn with each check of the project, in check-id order,
// sequentially on the caller's goroutine; it stops at fn's first error and
// returns it. fn may call the Store's read and write methods (but not Close).
func (s *Store) ProjectChecks(projectID uuid.UUID, fn func(*Check) error) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	lo, hi := idRange(pfxProjCheck, projectID)
	idx, err := s.iter(lo, hi)
	if err != nil {
		return err
	}
	defer idx.Close()
	checks, err := s.iter([]byte{pfxCheck}, []byte{pfxCheck + 1})
	if err != nil {
		return err
	}
	defer checks.Close()
	var key [checkKeyLen]byte
	var w checkWire
	for ok := idx.First(); ok; ok = idx.Next() {
		k := idx.Key()
		if len(k) != projCheckKeyLn {
			continue
		}
		ck := checkKey(key[:0], uuid.UUID(k[1+16:]))
		if !checks.SeekGE(ck) || string(checks.Key()) != string(ck) {
			continue // index entry without its check: not expected; skip it
		}
		c := new(Check)
		if err := decodeCheck(checks.Value(), &w, c); err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := idx.Error(); err != nil {
		return err
	}
	return checks.Error()
}

// ChecksBySlug returns the ids of the project's checks with that slug (in id
// order; normally one, but slugs are not forced unique).
func (s *Store) ChecksBySlug(projectID uuid.UUID, slug string) ([]uuid.UUID, error) {
	if slug == "" {
		return nil, nil
	}
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	lo := slugPrefix(nil, projectID, slug)
	it, err := s.iter(lo, prefixEnd(nil, lo))
	if err != nil {
		return nil, err
	}
	var ids []uuid.UUID
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) == len(lo)+16 {
			ids = append(ids, uuid.UUID(k[len(lo):]))
		}
	}
	return ids, it.Close()
}

// Pings returns up to limit entries of the check's ping log, newest first,
// without bodies. limit <= 0 means all that are kept.
func (s *Store) Pings(checkID uuid.UUID, limit int) ([]Ping, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	lo, hi := idRange(pfxPing, checkID)
	it, err := s.iter(lo, hi)
	if err != nil {
		return nil, err
	}
	n := limit
	if n <= 0 || n > s.opts.PingLogLimit {
		n = s.opts.PingLogLimit
	}
	out := make([]Ping, 0, n)
	var w pingWire
	for ok := it.Last(); ok && (limit <= 0 || len(out) < limit); ok = it.Prev() {
		out = append(out, Ping{})
		if err := decodePing(it.Value(), &w, &out[len(out)-1]); err != nil {
			it.Close()
			return nil, err
		}
	}
	return out, it.Close()
}

// PingBody returns the body of ping n of the check: ErrNotFound if the ping
// is gone (or never was); empty (and nil error) if the ping had no body.
func (s *Store) PingBody(checkID uuid.UUID, n uint64) ([]byte, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	var key [pingKeyLen]byte
	var body []byte
	err := s.get(pingLogKey(key[:0], pfxBody, checkID, n), func(v []byte) error {
		body = cloneBytes(v)
		return nil
	})
	if err != ErrNotFound {
		return body, err
	}
	ok, err := s.has(pingLogKey(key[:0], pfxPing, checkID, n))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotFound
	}
	return nil, nil
}

// Flips returns the check's flips with from <= Time < to, newest first. A
// zero from or to leaves that side open.
func (s *Store) Flips(checkID uuid.UUID, from, to time.Time) ([]Flip, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	lo := appendID(make([]byte, 0, flipKeyLen), pfxFlip, checkID)
	var hi []byte
	if to.IsZero() {
		hi = prefixEnd(nil, lo)
	} else {
		hi = timeKey(appendID(nil, pfxFlip, checkID), to)
	}
	if !from.IsZero() {
		lo = timeKey(lo, from)
	}
	if string(lo) >= string(hi) {
		return nil, nil
	}
	it, err := s.iter(lo, hi)
	if err != nil {
		return nil, err
	}
	var out []Flip
	var w flipWire
	for ok := it.Last(); ok; ok = it.Prev() {
		out = append(out, Flip{})
		if err := decodeFlip(it.Value(), &w, &out[len(out)-1]); err != nil {
			it.Close()
			return nil, err
		}
	}
	return out, it.Close()
}
