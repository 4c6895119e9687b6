package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// A View reads the store as it was when it was taken, whatever is committed
// after: what a cluster node ships as a raft snapshot of its applied state,
// while it goes on applying. It pins the versions it sees (Pebble cannot
// drop them from disk), so it is closed as soon as it is no longer served.
// Close it before the store.
type View struct {
	s      *Store
	snap   *pebble.Snapshot
	lo, hi []byte // the span it reads, root keys; nil hi: to the end
	closed bool
}

// A viewCount is the open Views of one database. A Pebble snapshot is a
// sequence number, not a set of files: an excise (IngestState) takes the
// span's files from under it, and it would read the span as empty. So an
// ingestion excises only while no open view reads its span, and a view is
// never taken during one.
type viewCount struct {
	mu   sync.Mutex
	open map[*View]struct{}
}

// reads reports whether an open view reads any key of [lo, hi); mu held.
func (c *viewCount) reads(lo, hi []byte) bool {
	for v := range c.open {
		if (v.hi == nil || bytes.Compare(lo, v.hi) < 0) && bytes.Compare(v.lo, hi) < 0 {
			return true
		}
	}
	return false
}

// View takes a view of everything committed so far. A key space's view
// sees (and WriteState writes) the space's keys only, without their prefix;
// the root's sees the whole database, spaces included, keys as stored.
func (s *Store) View() (*View, error) {
	lo, hi := s.bounds(nil, nil)
	return s.view(lo, hi)
}

// SpanView is a root view that reads [lo, hi) only (nil hi: to the end),
// as View takes it: a snapshot of one key space, which leaves the other
// spaces free to be excised while it is open. WriteState refuses a span
// outside it.
func (s *Store) SpanView(lo, hi []byte) (*View, error) {
	if err := s.rootOnly("SpanView"); err != nil {
		return nil, err
	}
	return s.view(bytes.Clone(lo), bytes.Clone(hi))
}

func (s *Store) view(lo, hi []byte) (*View, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	s.views.mu.Lock()
	defer s.views.mu.Unlock()
	v := &View{s: s, snap: s.db.NewSnapshot(), lo: lo, hi: hi}
	if s.views.open == nil {
		s.views.open = make(map[*View]struct{})
	}
	s.views.open[v] = struct{}{}
	return v, nil
}

// Close releases the view; a second Close does nothing.
func (v *View) Close() error {
	v.s.views.mu.Lock()
	defer v.s.views.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	delete(v.s.views.open, v)
	if err := v.snap.Close(); err != nil {
		return fmt.Errorf("close store view: %w", err)
	}
	return nil
}

// A state stream is the state keys of a span in order, each as
// uvarint(len key) key uvarint(len value) value, then an empty key, the
// record count (8 bytes) and the CRC-32C of everything before it (4 bytes):
// a stream cut short, or damaged on the way, is refused whole.
var crc32c = crc32.MakeTable(crc32.Castagnoli)

// ErrBadState: a state stream does not decode, is cut short, or holds a
// key outside the span it replaces.
var ErrBadState = errors.New("store: bad state stream")

// stateSpans is [lo, hi) without the raft log's own keys, which every node
// keeps for itself (they are not state: each replica has its own log, and
// its own applied position). A nil hi is the end of the keyspace.
func stateSpans(lo, hi []byte) [][2][]byte {
	var spans [][2][]byte
	cur := lo
	for _, p := range []byte{pfxRaftApplied, pfxRaftState, pfxRaftEntry} {
		hole, holeEnd := []byte{p}, []byte{p + 1}
		if hi != nil && bytes.Compare(hole, hi) >= 0 {
			break
		}
		if bytes.Compare(cur, holeEnd) >= 0 {
			continue
		}
		if bytes.Compare(cur, hole) < 0 {
			spans = append(spans, [2][]byte{cur, hole})
		}
		cur = holeEnd
	}
	if hi == nil || bytes.Compare(cur, hi) < 0 {
		spans = append(spans, [2][]byte{cur, hi})
	}
	return spans
}

// replaceSpans is the state spans of [lo, hi) that a state replaces, each
// with an end: a nil hi is the end of the space (spaced) or of the database.
func replaceSpans(lo, hi []byte, spaced bool) [][2][]byte {
	spans := stateSpans(lo, hi)
	if !spaced && len(spans) > 0 && len(spans[0][0]) == 0 {
		// A compaction of Pebble v2.1.7 in its invariants mode (on under
		// -race) loses a range deletion that starts at the empty key: the
		// stale keys of a whole-root replace outlived it in 3 runs of 5
		// (TestLoadStateSplitsAroundHoles), and a program of Pebble alone
		// shows it too. No key of ours is empty, so the span starts at the
		// first key that is not.
		spans[0][0] = []byte{0}
	}
	for i, sp := range spans {
		if sp[1] != nil {
			continue
		}
		if spaced {
			// A space's keys are root-like, below the first space
			// prefix (delRange and set add the space's own in front).
			spans[i][1] = []byte{spaceBase}
		} else {
			spans[i][1] = keysEnd // the whole database, key spaces included
		}
	}
	return spans
}

// WriteState writes the view's state keys in [lo, hi) (nil hi: to the end)
// to w as a state stream, for ReadState on another node. On the root,
// [lo, hi) = SpaceSpan(id) is exactly key space id, keys prefixed; on a
// space the bounds and the keys written are the space's own, unprefixed, and
// nil hi is the end of the space.
func (v *View) WriteState(w io.Writer, lo, hi []byte) error {
	if plo, phi := v.s.bounds(lo, hi); bytes.Compare(plo, v.lo) < 0 || v.hi != nil && (phi == nil || bytes.Compare(phi, v.hi) > 0) {
		return fmt.Errorf("write state [%x, %x): outside the view's span [%x, %x)", lo, hi, v.lo, v.hi)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	crc := crc32.New(crc32c)
	out := io.MultiWriter(bw, crc)
	var n uint64
	var rec []byte
	for _, sp := range stateSpans(lo, hi) {
		plo, phi := v.s.bounds(sp[0], sp[1])
		it, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: plo, UpperBound: phi})
		if err != nil {
			return fmt.Errorf("write state: %w", err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			k := it.Key()
			if v.s.spaced {
				k = k[1:] // the bounds keep the iterator in the space
			}
			val, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return fmt.Errorf("write state: read %q: %w", k, err)
			}
			rec = binary.AppendUvarint(rec[:0], uint64(len(k)))
			rec = append(rec, k...)
			rec = binary.AppendUvarint(rec, uint64(len(val)))
			rec = append(rec, val...)
			if _, err := out.Write(rec); err != nil {
				it.Close()
				return fmt.Errorf("write state: %w", err)
			}
			n++
		}
		if err := it.Close(); err != nil {
			return fmt.Errorf("write state: %w", err)
		}
	}
	trailer := binary.BigEndian.AppendUint64([]byte{0}, n)
	if _, err := out.Write(trailer); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if _, err := bw.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// ReadState replaces the state keys in [lo, hi) (nil hi: to the end) by
// those of the state stream r, in b: range deletions of the span, then
// every key read. On error b holds part of the stream and must be
// discarded; only a stream read to its verified end leaves it whole. As
// with WriteState, a root batch given SpaceSpan(id) replaces key space id,
// and a space's batch takes a space's stream, unprefixed.
func (b *Batch) ReadState(r io.Reader, lo, hi []byte) error {
	spans := replaceSpans(lo, hi, b.spaced)
	for _, sp := range spans {
		b.delRange(sp[0], sp[1])
	}
	if err := readStateStream(r, spans, func(key, val []byte) error {
		b.set(key, val)
		return nil
	}); err != nil {
		return err
	}
	return b.err
}

// readStateStream calls put with each record of the state stream r, whose
// keys must lie in spans, and verifies the stream's count and checksum at
// its end. put's key and value are valid only
// during the call. An error from put stops the read and is returned.
func readStateStream(r io.Reader, spans [][2][]byte, put func(key, val []byte) error) error {
	crc := crc32.New(crc32c)
	br := &crcReader{r: bufio.NewReaderSize(r, 256<<10), crc: crc}
	var n uint64
	var key, val []byte
	for {
		kl, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrBadState, n, err)
		}
		if kl == 0 {
			break
		}
		if key, err = readN(br, key, kl); err != nil {
			return fmt.Errorf("%w: record %d key: %v", ErrBadState, n, err)
		}
		vl, err := binary.ReadUvarint(br)
		if err != nil {
			return fmt.Errorf("%w: record %d: %v", ErrBadState, n, err)
		}
		if val, err = readN(br, val, vl); err != nil {
			return fmt.Errorf("%w: record %d value: %v", ErrBadState, n, err)
		}
		if !inSpans(spans, key) {
			return fmt.Errorf("%w: key %q outside the span", ErrBadState, key)
		}
		if err := put(key, val); err != nil {
			return err
		}
		n++
	}
	var count [8]byte
	if _, err := io.ReadFull(br, count[:]); err != nil {
		return fmt.Errorf("%w: trailer: %v", ErrBadState, err)
	}
	sum := crc.Sum32()
	var got [4]byte
	if _, err := io.ReadFull(br.r, got[:]); err != nil {
		return fmt.Errorf("%w: checksum: %v", ErrBadState, err)
	}
	switch {
	case binary.BigEndian.Uint64(count[:]) != n:
		return fmt.Errorf("%w: %d records, trailer says %d", ErrBadState, n, binary.BigEndian.Uint64(count[:]))
	case binary.BigEndian.Uint32(got[:]) != sum:
		return fmt.Errorf("%w: checksum mismatch", ErrBadState)
	}
	return nil
}

// maxStateRecord bounds one key or value of a state stream, so that a
// damaged length cannot make ReadState allocate gigabytes.
const maxStateRecord = 64 << 20

func readN(r io.Reader, buf []byte, n uint64) ([]byte, error) {
	if n > maxStateRecord {
		return buf, fmt.Errorf("length %d over %d", n, maxStateRecord)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

func inSpans(spans [][2][]byte, k []byte) bool {
	for _, sp := range spans {
		if bytes.Compare(k, sp[0]) >= 0 && (sp[1] == nil || bytes.Compare(k, sp[1]) < 0) {
			return true
		}
	}
	return false
}

// crcReader sums what is read through it.
type crcReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	one [1]byte
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc.Write(p[:n])
	return n, err
}

func (c *crcReader) ReadByte() (byte, error) {
	x, err := c.r.ReadByte()
	if err == nil {
		c.one[0] = x
		c.crc.Write(c.one[:])
	}
	return x, err
}

// Append adds other's writes to b, after its own; other is left as it was.
// Keys go as they are: a root batch takes a space's batch, which writes into
// that space, but a space's batch takes only batches of the same space.
func (b *Batch) Append(other *Batch) error {
	if other.err != nil {
		return other.err
	}
	if b.spaced && (!other.spaced || other.pfx != b.pfx) {
		return fmt.Errorf("append batch: a batch of another key space than %d", b.s.spaceID)
	}
	if err := b.pb.Apply(other.pb, nil); err != nil {
		return fmt.Errorf("append batch: %w", err)
	}
	return nil
}
