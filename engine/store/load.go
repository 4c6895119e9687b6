package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// Loading a state stream to disk, for a replica that installs a snapshot of
// any size. Batch.ReadState holds the whole state in memory until it is
// committed: a shard of a million checks is gigabytes, and a node replacing
// a dead one fetches every shard at once. LoadState writes the stream to an
// sstable as it reads it, holding a block at a time, and IngestState puts
// the table in the database in one step (Pebble's ingestion: a link and a
// manifest edit, atomic and durable), replacing the span.
//
// The table carries range deletions of the span's state spans and, under
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

// A StateLoad is a state stream written to an sstable by LoadState, for one
// IngestState or a Discard.
type StateLoad struct {
	s       *Store
	path    string
	records uint64
	bytes   int64
}

// Records is the number of state records loaded, the install record aside.
func (l *StateLoad) Records() uint64 { return l.records }

// Bytes is the size of the table.
func (l *StateLoad) Bytes() int64 { return l.bytes }

// Discard removes the table; a StateLoad ingested or discarded already is
// left alone.
func (l *StateLoad) Discard() {
	if l == nil || l.path == "" {
		return
	}
	_ = l.s.opts.FS.Remove(l.path)
	l.path = ""
}

var loadSeq atomic.Uint64

// LoadState reads the state stream r for [lo, hi) (as ReadState takes it,
// root keys) into a table, verifying it whole, with record under the
// span's install key; a record the stream itself carries there (the sender
// installed a snapshot once) is dropped. Only the root store loads: a
// snapshot replaces a key space from outside it.
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
	path := fs.PathJoin(dir, fmt.Sprintf("%d-%d.sst", os.Getpid(), loadSeq.Add(1)))
	f, err := fs.Create(path, "")
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	l := &StateLoad{s: s, path: path}
	wo := s.popts.MakeWriterOptions(0, s.db.TableFormat())
	// A filter keeps a hash of every key until the table is closed: memory
	// that grows with the state, where the rest of the writer holds a block.
	// Compactions rebuild the filters of what they write.
	wo.FilterPolicy = nil
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), wo)
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = w.Close() // closes f
			}
			l.Discard() // l, not the result: a failed return has set that to nil
		}
	}()
	spans := replaceSpans(lo, hi, false)
	for _, sp := range spans {
		if err := w.DeleteRange(sp[0], sp[1]); err != nil {
			return nil, fmt.Errorf("load state: %w", err)
		}
	}
	ik := installKey(lo)
	if !inSpans(spans, ik) {
		return nil, fmt.Errorf("load state: install key %q outside the span", ik)
	}
	if err := w.Set(ik, record); err != nil {
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
		if err := w.Set(key, val); err != nil {
			return fmt.Errorf("load state: %w", err)
		}
		prev = append(prev[:0], key...)
		loaded++
		return nil
	}); err != nil {
		return nil, err
	}
	closed = true
	if err := w.Close(); err != nil { // syncs and closes f
		return nil, fmt.Errorf("load state: %w", err)
	}
	st, err := fs.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	l.records, l.bytes = loaded, st.Size()
	return l, nil
}

// IngestState replaces the span l was loaded for by l's keys and install
// record, in one durable step, and removes l's table. Writes committed
// before it are under it; l is spent either way.
func (s *Store) IngestState(l *StateLoad) error {
	if err := s.rootOnly("IngestState"); err != nil {
		return err
	}
	if l == nil || l.path == "" {
		return errors.New("ingest state: nothing loaded")
	}
	defer l.Discard()
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	if err := s.db.Ingest(context.Background(), []string{l.path}); err != nil {
		return fmt.Errorf("ingest state %s: %w", l.path, err)
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
