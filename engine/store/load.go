package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// Loading a state stream to disk, for a replica that installs a snapshot of
// any size. Batch.ReadState holds the whole state in memory until it is
// committed: a shard of a million checks is gigabytes, and a node replacing
// a dead one fetches every shard at once. LoadState writes the stream to an
// sstable as it reads it, holding a block at a time, and IngestState puts
// the tables in the database in one step (Pebble's ingestion: a link and a
// manifest edit, atomic and durable), replacing the span.
//
// The tables carry range deletions of the span's state spans and, under
// the span's install key, a record the caller gives (raftlog: the
// snapshot's index, term and membership). An ingestion is a step of its own,
// ahead of the batch that records the install in the raft log, so a crash
// can keep the state and lose that batch; the record lets the next start see
// which snapshot the state is, and finish the install.

// stateLoadDir is where LoadState writes its tables, in the store's
// directory. Open empties it: a table there was never ingested.
const stateLoadDir = "state-loads"

// pfxInstalled follows a span's lower bound in the span's install key:
// below every other key of a key space or of the root (letters), so the
// record goes first in the table.
const pfxInstalled = 0x01

func installKey(lo []byte) []byte {
	return append(append(make([]byte, 0, len(lo)+1), lo...), pfxInstalled)
}

// A StateLoad is a state stream written to sstables by LoadState, for one
// IngestState or a Discard.
type StateLoad struct {
	s       *Store
	paths   []string
	excise  *pebble.KeyRange // the one span the load replaces, when it is one
	records uint64
	bytes   int64
	tables  int
	excised bool
}

// Records is the number of state records loaded, the install record aside.
func (l *StateLoad) Records() uint64 { return l.records }

// Bytes is the size of the tables.
func (l *StateLoad) Bytes() int64 { return l.bytes }

// Tables is the number of tables the state was written to.
func (l *StateLoad) Tables() int { return l.tables }

// Excised says whether IngestState removed the span's old keys by an
// excise (Pebble drops their files from the span, and the new tables go
// to the bottom level: nothing to compact) rather than by the tables'
// range deletions, which a compaction applies later.
func (l *StateLoad) Excised() bool { return l.excised }

// Discard removes the tables; a StateLoad ingested or discarded already is
// left alone.
func (l *StateLoad) Discard() {
	if l == nil {
		return
	}
	for _, p := range l.paths {
		_ = l.s.opts.FS.Remove(p)
	}
	l.paths = nil
}

var loadSeq atomic.Uint64

// errLoadAbandoned ends the writes of a table LoadState gives up on.
var errLoadAbandoned = errors.New("state load abandoned")

// abandonable is a table's file, which a failed load closes without the
// sync that finishing it would cost.
type abandonable struct {
	objstorage.Writable
	abandoned atomic.Bool // set by LoadState; read by the writer's goroutine
}

func (a *abandonable) Write(p []byte) error {
	if a.abandoned.Load() {
		return errLoadAbandoned
	}
	return a.Writable.Write(p)
}

func (a *abandonable) Finish() error {
	if a.abandoned.Load() {
		a.Writable.Abort()
		return errLoadAbandoned
	}
	return a.Writable.Finish()
}

// A loadTable is the table LoadState is writing: it holds the keys from
// start on.
type loadTable struct {
	w     *sstable.Writer
	f     *abandonable
	start []byte
	size  int64 // keys and values written
}

// LoadState reads the state stream r for [lo, hi) (as ReadState takes it,
// root keys) into tables of about Options.LoadTableSize, verifying it
// whole, with record under the span's install key; a record the stream
// itself carries there (the sender installed a snapshot once) is dropped.
// Each table carries the range deletions of the span's state spans
// between its first key and the next table's, so the tables replace the
// span together and never overlap. Only the root store loads: a snapshot
// replaces a key space from outside it.
func (s *Store) LoadState(r io.Reader, lo, hi, record []byte) (_ *StateLoad, err error) {
	if err := s.rootOnly("LoadState"); err != nil {
		return nil, err
	}
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	fs := s.opts.FS
	dir := fs.PathJoin(s.opts.Dir, stateLoadDir)
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	spans := replaceSpans(lo, hi, false)
	ik := installKey(lo)
	if !inSpans(spans, ik) {
		return nil, fmt.Errorf("load state: install key %q outside the span", ik)
	}
	l := &StateLoad{s: s}
	if len(spans) == 1 {
		l.excise = &pebble.KeyRange{Start: spans[0][0], End: spans[0][1]}
	}
	wo := s.popts.MakeWriterOptions(0, s.db.TableFormat())
	// A filter keeps a hash of every key until the table is closed: memory
	// that grows with the state, where the rest of the writer holds a block.
	// Compactions rebuild the filters of what they write.
	wo.FilterPolicy = nil
	var t *loadTable
	defer func() {
		if err != nil {
			if t != nil {
				t.f.abandoned.Store(true)
				_ = t.w.Close() // closes its file, unsynced
			}
			l.Discard() // l, not the result: a failed return has set that to nil
		}
	}()
	open := func(start []byte) error {
		path := fs.PathJoin(dir, fmt.Sprintf("%d-%d.sst", os.Getpid(), loadSeq.Add(1)))
		f, err := fs.Create(path, "")
		if err != nil {
			return fmt.Errorf("load state: %w", err)
		}
		l.paths = append(l.paths, path)
		l.tables++
		a := &abandonable{Writable: objstorageprovider.NewFileWritable(f)}
		t = &loadTable{w: sstable.NewWriter(a, wo), f: a, start: bytes.Clone(start)}
		return nil
	}
	// finish closes t, its range deletions ending at end, where the next
	// table starts.
	finish := func(end []byte) error {
		for _, sp := range spans {
			from, to := sp[0], sp[1]
			if bytes.Compare(from, t.start) < 0 {
				from = t.start
			}
			if bytes.Compare(to, end) > 0 {
				to = end
			}
			if bytes.Compare(from, to) < 0 {
				if err := t.w.DeleteRange(from, to); err != nil {
					return fmt.Errorf("load state: %w", err)
				}
			}
		}
		w := t.w
		t = nil
		if err := w.Close(); err != nil { // syncs and closes the file
			return fmt.Errorf("load state: %w", err)
		}
		return nil
	}
	if err := open(spans[0][0]); err != nil {
		return nil, err
	}
	if err := t.w.Set(ik, record); err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	var loaded uint64
	prev := bytes.Clone(ik) // reused: ik stays as it is
	if err := readStateStream(r, spans, func(key, val []byte) error {
		if string(key) == string(ik) {
			return nil // the sender's own install record
		}
		// A table takes keys in strictly increasing order; a stream out
		// of order is damaged.
		if string(key) <= string(prev) {
			return fmt.Errorf("%w: key %q out of order", ErrBadState, key)
		}
		if t.size >= s.opts.LoadTableSize {
			if err := finish(key); err != nil {
				return err
			}
			if err := open(key); err != nil {
				return err
			}
		}
		if err := t.w.Set(key, val); err != nil {
			return fmt.Errorf("load state: %w", err)
		}
		t.size += int64(len(key) + len(val))
		prev = append(prev[:0], key...)
		loaded++
		return nil
	}); err != nil {
		return nil, err
	}
	if err := finish(spans[len(spans)-1][1]); err != nil {
		return nil, err
	}
	for _, p := range l.paths {
		st, err := fs.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("load state: %w", err)
		}
		l.bytes += st.Size()
	}
	l.records = loaded
	return l, nil
}

// IngestState replaces the span l was loaded for by l's keys and install
// record, in one durable step, and removes l's tables. Writes committed
// before it are under it; l is spent either way. A span that is one state
// span (a key space) is excised, unless an open View reads it: the excise
// would empty the span under that view.
func (s *Store) IngestState(l *StateLoad) error {
	if err := s.rootOnly("IngestState"); err != nil {
		return err
	}
	if l == nil || len(l.paths) == 0 {
		return errors.New("ingest state: nothing loaded")
	}
	defer l.Discard()
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	s.views.mu.Lock()
	defer s.views.mu.Unlock()
	var err error
	if l.excise != nil && !s.views.reads(l.excise.Start, l.excise.End) {
		_, err = s.db.IngestAndExcise(context.Background(), l.paths, nil, nil, *l.excise)
		l.excised = err == nil
	} else {
		err = s.db.Ingest(context.Background(), l.paths)
	}
	if err != nil {
		return fmt.Errorf("ingest state of %d tables: %w", len(l.paths), err)
	}
	return nil
}

// InstallRecord is the record of the last state ingested for the span
// starting at lo; nil when none was.
func (s *Store) InstallRecord(lo []byte) ([]byte, error) {
	if err := s.rootOnly("InstallRecord"); err != nil {
		return nil, err
	}
	return s.value(installKey(lo))
}

// clearStateLoads removes the tables of loads never ingested: a crash
// left them.
func clearStateLoads(o Options) error {
	dir := o.FS.PathJoin(o.Dir, stateLoadDir)
	if err := o.FS.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear %s: %w", dir, err)
	}
	return nil
}
