package store

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Key spaces: several logical stores in one Pebble database. A cluster node
// runs one engine per virtual shard, each over a store of its own, and they
// all live in the node's one database, under the raft log the root store
// keeps: one WAL, so one fsync serves every shard's commits, and each shard's
// state is one contiguous span of keys, which a raft snapshot of that shard
// moves whole (SpaceSpan, View.WriteState, Batch.ReadState).
//
// A space's key is the root's key with SpacePrefix(id) in front. The prefix
// is added and stripped at the few places where keys meet Pebble — Batch.set,
// del and delRange, Store.get, Store.iter (and its iterator's Key and seeks),
// View.WriteState — so that every key builder, and every parser of keys at
// fixed offsets (k[1:17]...), is the same for a space as for the root.

// MaxSpaces is how many key spaces a database can hold.
const MaxSpaces = 64

// spaceBase is the prefix of space 0. Every prefix the root store uses is an
// ASCII letter (keys.go, raft.go, lookup.go, dialects.go, monitors.go,
// notify.go; TestRootPrefixesBelowSpaces holds them to it), so spaces 0xC0 to
// 0xFF sort after every root key and a space's keys are one span.
const spaceBase = 0xC0

// keysEnd is above every key of the database: a root key starts with an
// ASCII prefix, a key of space 63 with 0xFF and then a root key, so it is
// below 0xFF 0xFF. (A range deletion needs an end key; 0xFF alone would
// leave space 63 out.)
var keysEnd = []byte{0xff, 0xff}

// ErrRootOnly is returned (wrapped) by the raft and cluster-membership
// methods of a key space: the raft log of every shard is kept by the root
// store, once for the database.
var ErrRootOnly = errors.New("store: raft state is kept by the root store, not by a key space")

// SpaceOptions configure a key space. The zero value is a space that commits
// locally.
type SpaceOptions struct {
	// Replicate is Options.Replicate for the space: when set, each Commit,
	// CommitAsync and group of samples of the space is handed to it as a
	// Batch.Repr, whose keys carry the space's prefix, so that the root
	// store applying that repr (Batch.AppendRepr, then ApplyLocal or
	// CommitLocal: what the raft log does on every replica) writes into the
	// space. Nil: commits are local, through the space's own committer,
	// whose syncs are of the database's one WAL.
	Replicate func(repr []byte, done func(error))
}

// Validate reports the first invalid field of o; every value is valid today
// (nil Replicate is local commits), so that a field added later can be
// checked where the others are.
func (o SpaceOptions) Validate() error { return nil }

// SpacePrefix is the first byte of every key of space id: 0xC0+id, above
// every prefix the root store uses. An id outside [0, MaxSpaces) gives 0,
// which no key starts with.
func SpacePrefix(id int) byte {
	if id < 0 || id >= MaxSpaces {
		return 0
	}
	return byte(spaceBase + id)
}

// SpaceSpan is [lo, hi) of space id's keys, for a raft snapshot of that
// space: View.WriteState and Batch.ReadState of the root store, given these
// bounds, move exactly the space's keys. hi is never nil. An id outside
// [0, MaxSpaces) gives an empty span, which moves nothing.
func SpaceSpan(id int) (lo, hi []byte) {
	if id < 0 || id >= MaxSpaces {
		return []byte{0}, []byte{0}
	}
	p := SpacePrefix(id)
	if p == 0xff {
		return []byte{p}, bytes.Clone(keysEnd)
	}
	return []byte{p}, []byte{p + 1}
}

// Space returns the store of key space id (0 ≤ id < MaxSpaces) in s's
// database: every key it writes, reads or iterates is s's key with the
// one-byte prefix SpacePrefix(id) in front. It shares s's Pebble database
// (and its options: PingLogLimit, MaxBatch); it has its own committer,
// sample buffer, batch pool, counters (Stats) and close state. Its Close
// stops only what is its own; s.Close closes every space still open first.
// Space on a space is an error (spaces do not nest), and so is opening an id
// that is open; once closed, an id can be opened again.
//
// The database-wide keys stay at the root, unprefixed: the format and
// lookup-index markers (checked at Open), the raft log and the cluster
// members, whose methods a space refuses with ErrRootOnly.
func (s *Store) Space(id int, o SpaceOptions) (*Store, error) {
	if s.root != nil {
		return nil, fmt.Errorf("store: open key space %d: called on key space %d, and spaces do not nest", id, s.spaceID)
	}
	if id < 0 || id >= MaxSpaces {
		return nil, fmt.Errorf("store: open key space %d: out of range [0, %d)", id, MaxSpaces)
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("store: open key space %d: %w", id, err)
	}
	s.spacesMu.Lock()
	defer s.spacesMu.Unlock()
	if s.spacesClosed {
		return nil, fmt.Errorf("store: open key space %d: %w", id, ErrClosed)
	}
	if s.spaces[id] != nil {
		return nil, fmt.Errorf("store: open key space %d: already open", id)
	}
	opts := s.opts
	opts.Replicate = o.Replicate
	lo, hi := SpaceSpan(id)
	sp := &Store{
		opts:     opts,
		db:       s.db,
		drained:  make(chan struct{}, 1),
		lastSync: s.lastSync, // one WAL: a sync by any store covers them all
		views:    s.views,
		root:     s,
		spaceID:  id,
		spaced:   true,
		pfx:      SpacePrefix(id),
		spaceLo:  lo,
		spaceHi:  hi,
	}
	sp.c.start(sp)
	sp.startSamples()
	s.spaces[id] = sp
	return sp, nil
}

// SpaceID is the id of the key space s is, and false for a root store.
func (s *Store) SpaceID() (int, bool) { return s.spaceID, s.spaced }

// closeSpaces closes the root's open spaces, and stops Space from opening
// more: the first step of the root's Close, while the database and the root
// itself still serve them (a space's Replicate may apply through the root).
func (s *Store) closeSpaces() error {
	s.spacesMu.Lock()
	s.spacesClosed = true
	var open []*Store
	for _, sp := range s.spaces {
		if sp != nil {
			open = append(open, sp)
		}
	}
	s.spacesMu.Unlock()
	var errs []error
	for _, sp := range open {
		if err := sp.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// forgetSpace drops a closed space from its root, so that its id can be
// opened again.
func (s *Store) forgetSpace(sp *Store) {
	s.spacesMu.Lock()
	if s.spaces[sp.spaceID] == sp {
		s.spaces[sp.spaceID] = nil
	}
	s.spacesMu.Unlock()
}

// rootOnly is the error of a root-only method called on a space; nil on the
// root.
func (s *Store) rootOnly(method string) error {
	if !s.spaced {
		return nil
	}
	return fmt.Errorf("%s on key space %d: %w", method, s.spaceID, ErrRootOnly)
}

// spaceKey is key as Pebble stores it for s: key itself at the root, the
// prefix and key in a space, appended to dst.
func (s *Store) spaceKey(dst, key []byte) []byte {
	if !s.spaced {
		return append(dst, key...)
	}
	dst = append(dst, s.pfx)
	return append(dst, key...)
}

// bounds maps [lo, hi) of s's keys to Pebble's keys: as they are at the root
// (nil meaning unbounded), prefixed in a space, where nil is the edge of the
// space. The bounds are fresh slices in a space, as an iterator keeps them.
func (s *Store) bounds(lo, hi []byte) (plo, phi []byte) {
	if !s.spaced {
		return lo, hi // inlined: the root pays no call
	}
	return s.spaceBounds(lo, hi)
}

func (s *Store) spaceBounds(lo, hi []byte) (plo, phi []byte) {
	buf := make([]byte, 0, 2+len(lo)+len(hi))
	if lo == nil {
		plo = s.spaceLo
	} else {
		buf = s.spaceKey(buf, lo)
		plo = buf
	}
	if hi == nil {
		phi = s.spaceHi
	} else {
		phi = s.spaceKey(buf[len(buf):], hi)
	}
	return plo, phi
}

// inSpace says whether a Pebble key is one of s's (always, at the root).
func (s *Store) inSpace(k []byte) bool {
	return !s.spaced || bytes.Compare(k, s.spaceLo) >= 0 && bytes.Compare(k, s.spaceHi) < 0
}

// iterator is a Pebble iterator over one store's keys. In a space, Key strips
// the prefix and the seeks add it, so callers see the keys the root would
// have and parse them at the same offsets. Only the methods the package uses
// are here: one that took or returned a raw key would bypass the prefix.
type iterator struct {
	it    *pebble.Iterator
	space *Store // nil at the root: keys pass as they are
	seek  []byte // a space's seek key, prefixed; reused
}

// iter opens an iterator over [lo, hi) of s's keys. It is returned by value,
// so that it costs no allocation more than Pebble's own.
func (s *Store) iter(lo, hi []byte) (iterator, error) {
	var i iterator
	if s.spaced {
		lo, hi = s.spaceBounds(lo, hi)
		i.space = s
	}
	var err error
	i.it, err = s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	return i, err
}

func (i *iterator) First() bool                  { return i.it.First() }
func (i *iterator) Last() bool                   { return i.it.Last() }
func (i *iterator) Next() bool                   { return i.it.Next() }
func (i *iterator) Prev() bool                   { return i.it.Prev() }
func (i *iterator) Value() []byte                { return i.it.Value() }
func (i *iterator) ValueAndErr() ([]byte, error) { return i.it.ValueAndErr() }
func (i *iterator) Error() error                 { return i.it.Error() }
func (i *iterator) Close() error                 { return i.it.Close() }

// Key is the current key as the store sees it (without a space's prefix;
// the bounds keep a space's iterator on keys that have it).
func (i *iterator) Key() []byte {
	k := i.it.Key()
	if i.space != nil && len(k) > 0 {
		return k[1:]
	}
	return k
}

func (i *iterator) SeekGE(key []byte) bool {
	if i.space == nil {
		return i.it.SeekGE(key)
	}
	i.seek = i.space.spaceKey(i.seek[:0], key)
	return i.it.SeekGE(i.seek)
}

func (i *iterator) SeekLT(key []byte) bool {
	if i.space == nil {
		return i.it.SeekLT(key)
	}
	i.seek = i.space.spaceKey(i.seek[:0], key)
	return i.it.SeekLT(i.seek)
}

// SeekPrefixGE is not used today; it is here, prefixed, so that a caller
// who needs it does not reach for the raw iterator.
func (i *iterator) SeekPrefixGE(key []byte) bool {
	if i.space == nil {
		return i.it.SeekPrefixGE(key)
	}
	i.seek = i.space.spaceKey(i.seek[:0], key)
	return i.it.SeekPrefixGE(i.seek)
}

// checkRecord refuses, on a key space, a batch record (kind, key, value as
// Pebble's batch reader gives them) that writes outside the space: a repr
// made by another space, or by the root, would otherwise write there
// through this one. The root takes every record, as it always has.
func (s *Store) checkRecord(kind pebble.InternalKeyKind, k, v []byte) error {
	if !s.spaced {
		return nil
	}
	switch kind {
	case pebble.InternalKeyKindLogData:
		return nil // no key
	case pebble.InternalKeyKindSet, pebble.InternalKeyKindDelete, pebble.InternalKeyKindSingleDelete,
		pebble.InternalKeyKindDeleteSized, pebble.InternalKeyKindMerge:
		if !s.inSpace(k) {
			return fmt.Errorf("key %q outside key space %d", k, s.spaceID)
		}
		return nil
	case pebble.InternalKeyKindRangeDelete:
		// v is the end key: [k, v) must lie within [spaceLo, spaceHi].
		if !s.inSpace(k) || bytes.Compare(v, k) < 0 || bytes.Compare(v, s.spaceHi) > 0 {
			return fmt.Errorf("range [%q, %q) outside key space %d", k, v, s.spaceID)
		}
		return nil
	default:
		return fmt.Errorf("record kind %v, which a store never writes, in key space %d", kind, s.spaceID)
	}
}

// checkBatch refuses, on a key space, a batch of another store than the same
// space (the root's, say), whose keys would land outside it. The root takes
// any batch: a space's batch applied there writes into the space, as its repr
// does.
func (s *Store) checkBatch(b *Batch) error {
	if s.spaced && (!b.spaced || b.pfx != s.pfx) {
		return fmt.Errorf("store: key space %d given a batch of another store", s.spaceID)
	}
	return nil
}
