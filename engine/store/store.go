package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

var (
	// ErrNotFound is returned by reads when the record is absent.
	ErrNotFound = errors.New("store: not found")
	// ErrLocked is returned (wrapped) by Open when another vigilo server, in
	// this process or another, has the directory open.
	ErrLocked = errors.New("directory is in use by another vigilo server")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store: closed")
)

// Options configure a Store. The zero value of every field but Dir means
// "the default"; see WithDefaults.
type Options struct {
	Dir          string // required
	PingLogLimit int    // pings kept per check; default 100
	CacheSize    int64  // Pebble block cache bytes; default 64 MiB
	MaxBatch     int    // most commits merged into one WAL sync; default 512
	FS           vfs.FS // optional, for tests; default vfs.Default
	// Replicate, when set, makes every Commit and CommitAsync a proposal to
	// a cluster's replicated log (package cluster): it is given the batch's
	// writes (Batch.Repr) and calls done once they are applied here — by
	// the log, through CommitLocal — or have failed, and the store never
	// applies them itself. Nil: commits are local, the single node.
	Replicate func(repr []byte, done func(error))
	// LoadTableSize is the keys and values LoadState writes to one table
	// before it starts the next: a shard of gigabytes goes in as tables a
	// compaction can take one at a time. Default 64 MiB.
	LoadTableSize int64
}

const (
	DefaultPingLogLimit  = 100
	DefaultCacheSize     = 64 << 20
	DefaultMaxBatch      = 512
	DefaultLoadTableSize = 64 << 20

	memTableSize = 64 << 20
)

// WithDefaults returns o with its zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.PingLogLimit == 0 {
		o.PingLogLimit = DefaultPingLogLimit
	}
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.LoadTableSize == 0 {
		o.LoadTableSize = DefaultLoadTableSize
	}
	return o
}

// Validate reports the first invalid field of o (after WithDefaults, zero
// values are valid).
func (o Options) Validate() error {
	switch {
	case o.Dir == "":
		return errors.New("store: Options.Dir is required")
	case o.PingLogLimit < 0:
		return fmt.Errorf("store: Options.PingLogLimit %d is negative", o.PingLogLimit)
	case o.CacheSize < 0:
		return fmt.Errorf("store: Options.CacheSize %d is negative", o.CacheSize)
	case o.MaxBatch < 0:
		return fmt.Errorf("store: Options.MaxBatch %d is negative", o.MaxBatch)
	case o.LoadTableSize < 0:
		return fmt.Errorf("store: Options.LoadTableSize %d is negative", o.LoadTableSize)
	}
	return nil
}

// Store is vigilo's on-disk state: one Pebble database, or one key space of
// one (Space). All methods are safe for concurrent use.
type Store struct {
	opts  Options
	db    *pebble.DB
	popts *pebble.Options // what LoadState writes its tables with
	lock  *pebble.Lock

	// Every read counts itself in active (enter/exit); Close sets closing,
	// stops the committer and waits for active to drain, so no operation
	// ever meets a closed Pebble. (Not an RWMutex: reads nest, e.g. a
	// ProjectChecks callback calling GetCheck, and a pending writer would
	// deadlock them.)
	active  atomic.Int64
	closing atomic.Bool
	drained chan struct{}
	closeMu sync.Mutex // serializes Close
	closed  bool

	batches sync.Pool // *Batch
	flipSeq atomic.Uint32
	// lastSync is when the WAL was last synced (unix nanoseconds), by a
	// committer or by a flush of samples. The root and its spaces share it:
	// they share the WAL, and one's sync covers the others' samples.
	lastSync *atomic.Int64
	// views counts the open Views of the database, root and spaces
	// together: IngestState excises a span only when none is open.
	views *viewCount

	// Key spaces (space.go). A space has root (the store it was opened
	// from), its id, and pfx, the byte every key of its own starts with;
	// spaceLo and spaceHi are SpaceSpan(spaceID). The root has root nil and
	// keeps the spaces it opened, for its Close.
	root             *Store
	spaceID          int
	spaced           bool
	pfx              byte
	spaceLo, spaceHi []byte
	spacesMu         sync.Mutex
	spaces           [MaxSpaces]*Store // open spaces (root)
	spacesClosed     bool              // the root is closing: no new space

	c  committer
	sm samples // ApplySample's buffer and its flusher (samples.go)
}

// Open opens (creating if needed) the store in o.Dir and starts its
// committer and its flusher of samples. It fails with an error wrapping
// ErrLocked when the directory is already open, in this process or another.
func Open(o Options) (*Store, error) {
	o = o.WithDefaults()
	wrap := func(err error) error { return fmt.Errorf("open store %s: %w", o.Dir, err) }
	if err := o.Validate(); err != nil {
		return nil, wrap(err)
	}
	if err := o.FS.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, wrap(err)
	}
	// Take Pebble's LOCK ourselves, so that a failure here can only be about
	// the lock, and be reported as such.
	lock, err := pebble.LockDirectory(o.Dir, o.FS)
	if err != nil {
		if isLockConflict(err) {
			return nil, fmt.Errorf("open store %s: %w (%s is locked: %v)",
				o.Dir, ErrLocked, o.FS.PathJoin(o.Dir, "LOCK"), err)
		}
		return nil, wrap(err)
	}
	if err := clearStateLoads(o); err != nil {
		lock.Close()
		return nil, wrap(err)
	}
	cache := pebble.NewCache(o.CacheSize)
	defer cache.Unref() // the DB holds its own reference
	popts := &pebble.Options{
		FS:                 o.FS,
		Cache:              cache,
		Lock:               lock,
		MemTableSize:       memTableSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             quietLogger{},
	}
	for i := range popts.Levels {
		popts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	popts.EnsureDefaults() // as Open does to its copy: LoadState writes tables with these
	db, err := pebble.Open(o.Dir, popts)
	if err != nil {
		lock.Close()
		return nil, wrap(err)
	}
	if err := checkFormat(db); err != nil {
		db.Close()
		lock.Close()
		return nil, wrap(err)
	}
	if err := ensureLookupIndex(db); err != nil {
		db.Close()
		lock.Close()
		return nil, wrap(fmt.Errorf("build lookup index: %w", err))
	}
	s := &Store{opts: o, db: db, popts: popts, lock: lock, drained: make(chan struct{}, 1), lastSync: new(atomic.Int64), views: new(viewCount)}
	s.c.start(s)
	s.startSamples()
	return s, nil
}

// isLockConflict tells a lock held elsewhere from other failures to lock.
func isLockConflict(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return false // creating the LOCK file failed: permissions, missing dir...
	}
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.EWOULDBLOCK) {
		return true // fcntl F_SETLK: held by another process (or MemFS)
	}
	// Pebble's vfs.Default keeps its own table of locks held in this process.
	return strings.Contains(err.Error(), "lock held by current process")
}

func checkFormat(db *pebble.DB) error {
	key := metaKey(nil, formatKeyName)
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		var buf [binary.MaxVarintLen64]byte
		n := binary.PutUvarint(buf[:], formatVersion)
		return db.Set(key, buf[:n], pebble.Sync)
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	f, n := binary.Uvarint(v)
	if n <= 0 || f != formatVersion {
		return fmt.Errorf("store: unsupported data format %x (want %d)", v, formatVersion)
	}
	return nil
}

// Close stops the committer after it has committed everything queued, applies
// and syncs the samples still buffered, then closes Pebble. Methods called
// after Close return ErrClosed. The root store closes its open key spaces
// first; a space's Close stops only its own committer and samples, and
// leaves the database to the root.
//
// Close waits for reads in progress (an AllChecks scan, say) to finish; it
// must not be called from a callback of one.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	var spacesErr error
	if !s.spaced {
		// While the root still serves them: a space's last samples may be
		// proposed through a Replicate that applies on the root.
		spacesErr = s.closeSpaces()
	}
	// No new operations; wait for those in progress (commits and samples
	// among them finish queueing), then let the committer sync what is
	// queued, and only then flush the samples left: the committer applies
	// those accepted before each of its groups first.
	s.closing.Store(true)
	for s.active.Load() != 0 {
		<-s.drained
	}
	s.c.stop()
	s.closed = true
	err := s.stopSamples()
	if err != nil {
		err = fmt.Errorf("flush samples: %w", err)
	}
	if s.spaced {
		s.root.forgetSpace(s)
		if err != nil {
			return fmt.Errorf("close key space %d of store %s: %w", s.spaceID, s.opts.Dir, err)
		}
		return nil
	}
	if spacesErr != nil {
		err = errors.Join(spacesErr, err)
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("close store %s: %w", s.opts.Dir, err)
	}
	return nil
}

// Options returns the options the store was opened with, defaults applied.
func (s *Store) Options() Options { return s.opts }

// Stats are the committer's counters, and ApplySample's.
type Stats struct {
	Commits    uint64 // batches committed (Commit, CommitAsync, DeleteCheck, DeleteProject)
	Syncs      uint64 // WAL syncs done by the committer: one per group of commits
	BatchedOps uint64 // Pebble operations (sets, deletes, range deletes) committed
	MaxGroup   uint64 // most commits ever merged into one sync
	Queued     uint64 // commits waiting for the committer right now
	// Samples are ApplySample's: batches accepted (buffered), groups of them
	// applied to Pebble, and those dropped because their group failed to
	// apply (the error went to the ApplySample or read that applied it, if
	// any).
	Samples      uint64
	SampleGroups uint64
	SamplesLost  uint64
}

// Stats returns the committer's counters, and ApplySample's. It is cheap; for Pebble's own
// metrics (LSM shape, cache hit rates, WAL bytes) use Metrics.
func (s *Store) Stats() Stats {
	st := s.c.stats()
	st.Samples = s.sm.accepted.Load()
	st.SampleGroups = s.sm.groups.Load()
	st.SamplesLost = s.sm.lost.Load()
	return st
}

// Metrics returns Pebble's metrics (nil after Close). Not free: it takes
// Pebble's locks and allocates; call it at scrape time, not per operation.
// They are the database's: a key space returns the same figures as its root.
func (s *Store) Metrics() *pebble.Metrics {
	if !s.enter() {
		return nil
	}
	defer s.exit()
	return s.db.Metrics()
}

// Compact flushes the memtables and compacts every key down the LSM, as a
// store that has been running a while is. For benchmarks: after a seeder wrote
// a million checks seconds earlier, a measured run otherwise spends half its
// CPU compacting the seed, which a node at steady state does not.
//
// The root compacts the whole database, its spaces included; a space its own
// span.
func (s *Store) Compact() error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	if err := s.db.Flush(); err != nil {
		return fmt.Errorf("compact store %s: flush: %w", s.opts.Dir, err)
	}
	lo, hi := []byte{0}, keysEnd
	if s.spaced {
		lo, hi = s.spaceLo, s.spaceHi
	}
	if err := s.db.Compact(context.Background(), lo, hi, true); err != nil {
		return fmt.Errorf("compact store %s: %w", s.opts.Dir, err)
	}
	return nil
}

// enter registers an operation that will use db; false once closing. Every
// true must be matched by exit.
func (s *Store) enter() bool {
	s.active.Add(1)
	if s.closing.Load() {
		s.exit()
		return false
	}
	return true
}

func (s *Store) exit() {
	if s.active.Add(-1) == 0 && s.closing.Load() {
		select {
		case s.drained <- struct{}{}:
		default:
		}
	}
}

// get calls fn with the value of key (valid only during the call), or
// returns ErrNotFound. In a space the key gets its prefix here.
func (s *Store) get(key []byte, fn func(v []byte) error) error {
	if s.spaced {
		// One allocation: the root's callers build their keys in arrays
		// that escape to the heap through Pebble's Get all the same.
		key = s.spaceKey(make([]byte, 0, 1+len(key)), key)
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	return fn(v)
}

func (s *Store) has(key []byte) (bool, error) {
	err := s.get(key, func([]byte) error { return nil })
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func cloneBytes(b []byte) []byte { return bytes.Clone(b) }

// quietLogger drops Pebble's informational chatter and keeps its errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}
