package store

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// The lookup indexes answer the management APIs' questions about a project
// without reading the project: which check is the oldest whose fields equal a
// request's (Healthchecks.io's unique), which checks carry a tag, which check
// a read-only unique_key names, and a page of checks in creation order
// (Better Uptime's lists). Every key ends in the check's created time and id
// where order matters, so the first entry of a prefix is the oldest match.
//
//	prefix  key after the prefix                                          value
//	'C'     project (16) created (8) id (16)                              empty: creation order
//	'T'     project (16) tag 0x00 id (16)                                 empty: one per tag of the check
//	'g'     project (16) tags 0x00 created (8) id (16)                    empty: the tags string as written
//	'd'     project (16) grace (8) simple (1) timeout (8) created (8) id  empty: the durations
//	'u'     project (16) unique key (first 8 of 20) id (16)               empty: read-only unique_key
//
// Durations are nanoseconds; simple is 1 for a simple check and 0 for a cron
// check, whose timeout is then written as 0 (Healthchecks.io matches a timeout
// only against simple checks). Like the name index they are written only when
// they change, never by a ping.
const (
	pfxCreated  = 'C'
	pfxTag      = 'T'
	pfxTagsText = 'g'
	pfxDuration = 'd'
	pfxReadKey  = 'u'

	lookupKeyName = "lookup-index"
	lookupVersion = 1
	// readKeyLen is how much of a unique key its index entry keeps: enough to
	// make a false candidate (which is confirmed and dropped) improbable.
	readKeyLen = 8
)

// UniqueKey is Healthchecks.io's unique_key of a check, the identifier a
// read-only API key sees instead of its uuid: the SHA-1 of the first 16 hex
// digits of the uuid.
func UniqueKey(id uuid.UUID) [20]byte {
	var h [32]byte
	hex.Encode(h[:], id[:])
	return sha1.Sum(h[:16])
}

// Tags splits a check's tags string into its tags, as Healthchecks.io does.
func Tags(tags string) []string { return strings.Fields(tags) }

func createdKey(dst []byte, c *Check) []byte {
	dst = timeKey(appendID(dst, pfxCreated, c.ProjectID), c.Created)
	return append(dst, c.ID[:]...)
}

func tagPrefix(dst []byte, projectID uuid.UUID, tag string) []byte {
	dst = append(appendID(dst, pfxTag, projectID), tag...)
	return append(dst, 0)
}

func tagsTextPrefix(dst []byte, projectID uuid.UUID, tags string) []byte {
	dst = append(appendID(dst, pfxTagsText, projectID), tags...)
	return append(dst, 0)
}

// durationSegment is 'd' project grace simple timeout: the prefix every check
// with those durations shares.
func durationSegment(dst []byte, projectID uuid.UUID, grace time.Duration, simple bool, timeout time.Duration) []byte {
	dst = binary.BigEndian.AppendUint64(appendID(dst, pfxDuration, projectID), uint64(grace))
	if !simple {
		return binary.BigEndian.AppendUint64(append(dst, 0), 0)
	}
	return binary.BigEndian.AppendUint64(append(dst, 1), uint64(timeout))
}

func readKeyPrefix(dst []byte, projectID uuid.UUID, key [20]byte) []byte {
	return append(appendID(dst, pfxReadKey, projectID), key[:readKeyLen]...)
}

// oldestSuffix appends the created time and id that end the ordered keys.
func oldestSuffix(dst []byte, c *Check) []byte {
	return append(timeKey(dst, c.Created), c.ID[:]...)
}

// lookupKeys appends every lookup entry of c to keys (a slice of keys sharing
// buf), so a change can delete the old ones and set the new ones.
func lookupKeys(c *Check) [][]byte {
	keys := make([][]byte, 0, 4+strings.Count(c.Tags, " ")+1)
	keys = append(keys, createdKey(nil, c))
	for _, t := range Tags(c.Tags) {
		keys = append(keys, append(tagPrefix(nil, c.ProjectID, t), c.ID[:]...))
	}
	keys = append(keys, oldestSuffix(tagsTextPrefix(nil, c.ProjectID, c.Tags), c))
	keys = append(keys, oldestSuffix(durationSegment(nil, c.ProjectID, c.Grace, c.Kind != "cron", c.Timeout), c))
	keys = append(keys, append(readKeyPrefix(nil, c.ProjectID, UniqueKey(c.ID)), c.ID[:]...))
	return keys
}

// lookupChanged says whether old and c differ in anything the lookup indexes hold.
func lookupChanged(old, c *Check) bool {
	return old.ProjectID != c.ProjectID || !old.Created.Equal(c.Created) || old.Tags != c.Tags ||
		old.Grace != c.Grace || old.Timeout != c.Timeout || (old.Kind == "cron") != (c.Kind == "cron")
}

// putLookupIndex keeps c's lookup entries in step with PutCheck(old, c).
func (b *Batch) putLookupIndex(old, c *Check) {
	if old != nil && !lookupChanged(old, c) {
		return
	}
	var stale [][]byte
	if old != nil {
		stale = lookupKeys(old)
	}
	fresh := lookupKeys(c)
	for _, k := range stale {
		if !slices.ContainsFunc(fresh, func(f []byte) bool { return bytes.Equal(f, k) }) {
			b.del(k)
		}
	}
	for _, k := range fresh {
		b.set(k, nil)
	}
}

func (b *Batch) deleteLookupIndex(c *Check) {
	for _, k := range lookupKeys(c) {
		b.del(k)
	}
}

func (b *Batch) deleteProjectLookupIndex(projectID uuid.UUID) {
	for _, p := range []byte{pfxCreated, pfxTag, pfxTagsText, pfxDuration, pfxReadKey} {
		b.delIDRange(p, projectID)
	}
}

// Match is a Healthchecks.io unique lookup: the oldest check of a project
// whose fields equal every one that is set. A Timeout matches simple checks only.
type Match struct {
	Name, Slug, Tags *string
	Timeout, Grace   *time.Duration
}

// Empty says no field is set: nothing to match, the request makes a new check.
func (m *Match) Empty() bool {
	return m.Name == nil && m.Slug == nil && m.Tags == nil && m.Timeout == nil && m.Grace == nil
}

// Matches says whether c has every set field's value.
func (m *Match) Matches(c *Check) bool {
	return (m.Name == nil || c.Name == *m.Name) &&
		(m.Slug == nil || c.Slug == *m.Slug) &&
		(m.Tags == nil || c.Tags == *m.Tags) &&
		(m.Timeout == nil || c.Kind != "cron" && c.Timeout == *m.Timeout) &&
		(m.Grace == nil || c.Grace == *m.Grace)
}

// older orders checks as the indexes do: by creation time, then id.
func older(a, b *Check) bool {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c < 0
	}
	return bytes.Compare(a.ID[:], b.ID[:]) < 0
}

// FindMatch returns the oldest check of the project that m matches and live
// accepts (the caller's confirmation that the check exists: an index entry can
// outlive its check by a crash in the middle of a project's deletion), or
// ErrNotFound. It reads the entries of the most selective index m allows, not
// the project: a name's or slug's namesakes; a tags string's or durations'
// checks oldest first, stopping at the first match.
func (s *Store) FindMatch(projectID uuid.UUID, m Match, live func(uuid.UUID) bool) (*Check, error) {
	if m.Empty() {
		return nil, ErrNotFound
	}
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	accept := func(c *Check) bool { return c.ProjectID == projectID && m.Matches(c) && live(c.ID) }
	switch {
	case m.Name != nil || m.Slug != nil:
		var prefix []byte
		if m.Name != nil {
			prefix = namePrefix(nil, projectID, *m.Name)
		} else {
			prefix = slugPrefix(nil, projectID, *m.Slug)
		}
		var best *Check
		err := s.eachIndexed(prefix, prefixEnd(nil, prefix), len(prefix), func(c *Check) (bool, error) {
			if accept(c) && (best == nil || older(c, best)) {
				best = c
			}
			return true, nil
		})
		if err == nil && best == nil {
			err = ErrNotFound
		}
		return best, err
	case m.Tags != nil:
		prefix := tagsTextPrefix(nil, projectID, *m.Tags)
		return s.firstIndexed(prefix, accept)
	case m.Timeout != nil && m.Grace != nil:
		return s.firstIndexed(durationSegment(nil, projectID, *m.Grace, true, *m.Timeout), accept)
	default:
		return s.oldestAcrossSegments(projectID, m, accept)
	}
}

// firstIndexed is the first check of the creation-ordered entries under
// prefix that accept takes.
func (s *Store) firstIndexed(prefix []byte, accept func(*Check) bool) (*Check, error) {
	var found *Check
	err := s.eachIndexed(prefix, prefixEnd(nil, prefix), len(prefix)+8, func(c *Check) (bool, error) {
		if accept(c) {
			found = c
			return false, nil
		}
		return true, nil
	})
	if err == nil && found == nil {
		err = ErrNotFound
	}
	return found, err
}

// oldestAcrossSegments answers a match on the timeout or the grace alone from
// the 'd' index by skipping from one distinct value of the other duration to
// the next: one seek per distinct value (a project has few), not one per check.
func (s *Store) oldestAcrossSegments(projectID uuid.UUID, m Match, accept func(*Check) bool) (*Check, error) {
	lo := appendID(nil, pfxDuration, projectID)
	segLen := 8 // a timeout match varies the grace
	if m.Timeout == nil {
		lo = binary.BigEndian.AppendUint64(lo, uint64(*m.Grace))
		segLen = 9 // a grace match varies simple and timeout
	}
	hi := prefixEnd(nil, lo)
	it, err := s.iter(lo, hi)
	if err != nil {
		return nil, err
	}
	var segs [][]byte
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < len(lo)+segLen {
			ok = it.Next()
			continue
		}
		seg := slices.Clone(k[:len(lo)+segLen])
		segs = append(segs, seg)
		ok = it.SeekGE(prefixEnd(nil, seg))
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	var best *Check
	for _, seg := range segs {
		prefix := seg
		if m.Timeout != nil {
			prefix = binary.BigEndian.AppendUint64(append(seg, 1), uint64(*m.Timeout))
		}
		c, err := s.firstIndexed(prefix, accept)
		if err == ErrNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		if best == nil || older(c, best) {
			best = c
		}
	}
	if best == nil {
		return nil, ErrNotFound
	}
	return best, nil
}

// eachIndexed calls fn with the record of each index entry in [lo, hi) whose
// key is exactly idAt bytes of prefix followed by a check id, in key order,
// until fn says stop. Entries whose record is gone are skipped.
func (s *Store) eachIndexed(lo, hi []byte, idAt int, fn func(*Check) (bool, error)) error {
	idx, err := s.iter(lo, hi)
	if err != nil {
		return err
	}
	defer idx.Close()
	return s.eachIndexedFrom(&idx, idx.First(), idAt, fn)
}

func (s *Store) eachIndexedFrom(idx *iterator, ok bool, idAt int, fn func(*Check) (bool, error)) error {
	var key [checkKeyLen]byte
	var w checkWire
	for ; ok; ok = idx.Next() {
		k := idx.Key()
		if len(k) != idAt+16 {
			continue
		}
		c := new(Check)
		err := s.get(checkKey(key[:0], uuid.UUID(k[idAt:])), func(v []byte) error { return decodeCheck(v, &w, c) })
		if err == ErrNotFound {
			continue
		}
		if err != nil {
			return err
		}
		more, err := fn(c)
		if err != nil || !more {
			return err
		}
	}
	return idx.Error()
}

// TaggedChecks calls fn with each check of the project that has tag, in id
// order, until fn says stop.
func (s *Store) TaggedChecks(projectID uuid.UUID, tag string, fn func(*Check) (bool, error)) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	prefix := tagPrefix(nil, projectID, tag)
	return s.eachIndexed(prefix, prefixEnd(nil, prefix), len(prefix), fn)
}

// SluggedChecks calls fn with each check of the project whose slug is slug, in
// id order, until fn says stop.
func (s *Store) SluggedChecks(projectID uuid.UUID, slug string, fn func(*Check) (bool, error)) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	prefix := slugPrefix(nil, projectID, slug)
	return s.eachIndexed(prefix, prefixEnd(nil, prefix), len(prefix), fn)
}

// ChecksByUniqueKey returns the ids of the project's checks whose UniqueKey
// may be key (normally one; callers confirm with UniqueKey).
func (s *Store) ChecksByUniqueKey(projectID uuid.UUID, key [20]byte) ([]uuid.UUID, error) {
	return s.indexed(readKeyPrefix(nil, projectID, key))
}

// CreatedChecks calls fn with the project's checks oldest first, skipping the
// first skip entries, until fn says stop. Skipping reads keys only, never a
// record.
func (s *Store) CreatedChecks(projectID uuid.UUID, skip int, fn func(*Check) (bool, error)) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	lo, hi := idRange(pfxCreated, projectID)
	idx, err := s.iter(lo, hi)
	if err != nil {
		return err
	}
	defer idx.Close()
	ok := idx.First()
	for ; ok && skip > 0; skip-- {
		ok = idx.Next()
	}
	return s.eachIndexedFrom(&idx, ok, len(lo)+8, fn)
}

// ensureLookupIndex writes the lookup entries of every check of a store made
// before they existed, once, in batches. It is the root's, run by Open on
// the raw database: key spaces are newer than the index, and their checks
// have always been written with it.
func ensureLookupIndex(db *pebble.DB) error {
	key := metaKey(nil, lookupKeyName)
	if _, closer, err := db.Get(key); err == nil {
		return closer.Close()
	} else if err != pebble.ErrNotFound {
		return err
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{pfxCheck}, UpperBound: []byte{pfxCheck + 1}})
	if err != nil {
		return err
	}
	b := db.NewBatch()
	var w checkWire
	flush := func(final bool) error {
		if final {
			var v [binary.MaxVarintLen64]byte
			if err := b.Set(key, v[:binary.PutUvarint(v[:], lookupVersion)], nil); err != nil {
				return err
			}
		}
		err := b.Commit(pebble.Sync)
		b = db.NewBatch()
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		var c Check
		if err := decodeCheck(it.Value(), &w, &c); err != nil {
			it.Close()
			return err
		}
		for _, k := range lookupKeys(&c) {
			if err := b.Set(k, nil, nil); err != nil {
				it.Close()
				return err
			}
		}
		if b.Len() > 4<<20 {
			if err := flush(false); err != nil {
				it.Close()
				return err
			}
		}
	}
	if err := it.Close(); err != nil {
		return err
	}
	return flush(true)
}
