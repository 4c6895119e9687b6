package store

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/uuid"
)

// committer is the group-commit loop (see doc.go): one goroutine takes every
// batch queued since its last sync (at most MaxBatch), merges them into one
// Pebble batch, applies it with pebble.Sync (one WAL write, one fsync) and
// then completes them in submission order.
type committer struct {
	s       *Store
	max     int
	mu      sync.Mutex
	cond    sync.Cond // signalled when the queue becomes non-empty or on stop
	queue   []*Batch
	closing bool
	stopped chan struct{}

	// merged is the batch a group's batches are copied into; it is sized
	// for the group before the copy (Pebble's append-as-you-go grows it by
	// copying, which took 11% of the CPU of a 500,000-deadline burst), and
	// kept up to mergedRetain bytes between groups.
	merged    *pebble.Batch
	mergedCap int

	commits  atomic.Uint64
	syncs    atomic.Uint64
	ops      atomic.Uint64
	maxGroup atomic.Uint64
	// groupSize and syncTime are observed once per group, on the committer's
	// goroutine: a few tens of nanoseconds against a sync's hundreds of µs.
	groupSize, syncTime prometheus.Histogram
}

func (c *committer) start(s *Store) {
	c.s = s
	c.max = s.opts.MaxBatch
	c.cond.L = &c.mu
	c.stopped = make(chan struct{})
	c.groupSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "vigilo_store_group_commits",
		Help:    "Commits merged into one WAL sync (the group commit's batch size).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	})
	c.syncTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "vigilo_store_commit_seconds",
		Help:    "Time one group took to apply and fsync.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12),
	})
	go c.run()
}

// stop makes the committer finish what is queued and exit; later commits
// fail with ErrClosed. Idempotent.
func (c *committer) stop() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.cond.Broadcast()
	<-c.stopped
}

func (c *committer) enqueue(b *Batch) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return ErrClosed
	}
	c.queue = append(c.queue, b)
	wake := len(c.queue) == 1 // otherwise the committer is busy and will look again
	c.mu.Unlock()
	if wake {
		c.cond.Signal()
	}
	return nil
}

// take waits for queued batches and returns up to MaxBatch of them, or nil
// when closing and the queue is empty.
func (c *committer) take(group []*Batch) []*Batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) == 0 && !c.closing {
		c.cond.Wait()
	}
	if len(c.queue) == 0 {
		return nil
	}
	if len(c.queue) <= c.max {
		group, c.queue = c.queue, group[:0]
	} else {
		group = append(group[:0], c.queue[:c.max]...)
		n := copy(c.queue, c.queue[c.max:])
		clear(c.queue[n:])
		c.queue = c.queue[:n]
	}
	return group
}

// mergedRetain is the largest merged batch kept between groups: a burst of
// deadline groups merges a few MiB.
const mergedRetain = 64 << 20

func (c *committer) run() {
	defer close(c.stopped)
	var group []*Batch
	for {
		if group = c.take(group); len(group) == 0 {
			if c.merged != nil {
				c.merged.Close()
			}
			return
		}
		c.commitGroup(group)
		clear(group)
		// Completing the group made its committers runnable, queued on
		// this P; let them run and queue their next batches before taking
		// the next group. Not a delay: with nothing runnable this returns
		// at once. Measured: ~28% fewer syncs per commit at 64 goroutines.
		runtime.Gosched()
	}
}

// pending returns the batch to apply for the group: the only non-empty one
// as is, or several merged into c.merged (reset first). nil: nothing to write.
// Batches whose encoding failed are left out; they fail alone.
func (c *committer) pending(group []*Batch) (*pebble.Batch, error) {
	var one *pebble.Batch
	n, size := 0, 0
	for _, b := range group {
		if b.err == nil && !b.pb.Empty() {
			one = b.pb
			n++
			size += len(b.pb.Repr())
		}
	}
	if n <= 1 {
		return one, nil
	}
	merged := c.mergedFor(size)
	for _, b := range group {
		if b.err == nil && !b.pb.Empty() {
			if err := merged.Apply(b.pb, nil); err != nil {
				return nil, err
			}
		}
	}
	return merged, nil
}

// mergedFor returns c.merged, empty, with room for size bytes.
func (c *committer) mergedFor(size int) *pebble.Batch {
	if c.merged != nil && size <= c.mergedCap {
		c.merged.Reset()
		return c.merged
	}
	if c.merged != nil {
		c.merged.Close()
	}
	c.mergedCap = size + size/4
	c.merged = c.s.db.NewBatchWithSize(c.mergedCap, pebble.WithMaxRetainedSizeBytes(mergedRetain))
	if c.mergedCap > mergedRetain {
		c.mergedCap = 0 // Reset will drop the buffer: size the next one afresh
	}
	return c.merged
}

func (c *committer) commitGroup(group []*Batch) {
	pb, err := c.pending(group)
	if pb != nil {
		// A sample accepted before one of these commits was submitted must
		// not land after it (a monitor's deletion would leave it behind),
		// and it becomes durable with this sync. A failed group of samples
		// is counted as lost and does not fail the commits. (A replicated
		// store's samples are proposals: replicate orders them, and the
		// commits here are the raft loop's own.)
		if c.s.opts.Replicate == nil {
			_ = c.s.flushSamples(syncNever, 1)
		}
		// Cleared before the apply, not after: a group of samples applied
		// meanwhile sets it again rather than passing for covered.
		c.s.sm.unsynced.Store(false)
		start := time.Now()
		err = c.s.db.Apply(pb, pebble.Sync)
		if err != nil {
			c.s.sm.unsynced.Store(true)
		}
		c.s.lastSync.Store(time.Now().UnixNano())
		c.syncTime.Observe(time.Since(start).Seconds())
		c.syncs.Add(1)
	}
	c.groupSize.Observe(float64(len(group)))
	c.complete(group, err)
}

// complete counts and completes a group, in order.
func (c *committer) complete(group []*Batch, err error) {
	var ops uint64
	for _, b := range group {
		ops += uint64(b.pb.Count())
	}
	c.ops.Add(ops)
	c.commits.Add(uint64(len(group)))
	if g := uint64(len(group)); g > c.maxGroup.Load() {
		c.maxGroup.Store(g)
	}
	for _, b := range group {
		e := b.err
		if e == nil {
			e = err
		}
		if done := b.done; done != nil {
			b.Discard()
			done(e)
		} else {
			b.errc <- e
		}
	}
}

func (c *committer) stats() Stats {
	c.mu.Lock()
	q := len(c.queue)
	c.mu.Unlock()
	return Stats{
		Commits:    c.commits.Load(),
		Syncs:      c.syncs.Load(),
		BatchedOps: c.ops.Load(),
		MaxGroup:   c.maxGroup.Load(),
		Queued:     uint64(q),
	}
}

// Commit applies b atomically and returns once it is durable (its WAL record
// fsynced). Concurrent Commits share WAL syncs (group commit). b goes back to
// the pool: the caller must not use it after Commit.
func (s *Store) Commit(b *Batch) error {
	if err := s.submit(b, nil); err != nil {
		return err
	}
	err := <-b.errc
	b.Discard()
	return err
}

// CommitAsync is Commit without the wait: it queues b and returns at once;
// done (if not nil) is called once b is durable, or has failed. done runs on
// the committer's goroutine, so it must be quick and must not block (in
// particular it must not Commit); commits complete — and their done calls are
// made — in the order CommitAsync and Commit were called. After Close, done
// is called at once with ErrClosed on the caller's goroutine. The caller must
// not use b after CommitAsync.
func (s *Store) CommitAsync(b *Batch, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	if err := s.submit(b, done); err != nil {
		done(err)
	}
}

// ApplyLocal is CommitLocal without the wait for a sync: b is applied at
// once, atomically, and becomes durable with the next sync (Pebble syncs
// its WAL in order). For the raft loop's iterations that append nothing
// (applies, commit indexes): a crash that loses them loses what a restart
// redoes from the synced log. It bypasses the committer, so it must not be
// mixed with commits a concurrent goroutine makes on this node.
func (s *Store) ApplyLocal(b *Batch) error {
	defer b.Discard()
	if b.err != nil {
		return b.err
	}
	if err := s.checkBatch(b); err != nil {
		return err
	}
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	if err := s.db.Apply(b.pb, pebble.NoSync); err != nil {
		return fmt.Errorf("apply local batch: %w", err)
	}
	return nil
}

// CommitLocal is Commit on this node only, whatever Options.Replicate
// says: for the replicated log's own appends and applies.
func (s *Store) CommitLocal(b *Batch) error {
	if err := s.checkBatch(b); err != nil {
		b.Discard()
		return err
	}
	if err := s.submitLocal(b, nil); err != nil {
		return err
	}
	err := <-b.errc
	b.Discard()
	return err
}

// submit queues b for the committer, or proposes it when the store is
// replicated; on error b is back in the pool.
func (s *Store) submit(b *Batch, done func(error)) error {
	if err := s.checkBatch(b); err != nil {
		b.Discard()
		return err
	}
	if s.opts.Replicate != nil {
		return s.replicate(b, done)
	}
	return s.submitLocal(b, done)
}

// replicate hands b's writes to Options.Replicate. A Commit's batch stays
// out of the pool until its answer is in (Commit waits on its errc); a
// CommitAsync's goes back at once, its writes copied.
func (s *Store) replicate(b *Batch, done func(error)) error {
	if b.err != nil {
		err := b.err
		b.Discard()
		return err
	}
	if !s.enter() {
		b.Discard()
		return ErrClosed
	}
	defer s.exit()
	// Samples accepted before this commit are proposed before it, as the
	// committer applies them before its group: a monitor's deletion must
	// not be followed by a sample of it.
	_ = s.flushSamples(syncNever, 1)
	repr := b.Repr()
	if done == nil {
		errc := b.errc
		s.opts.Replicate(repr, func(err error) { errc <- err })
		return nil
	}
	b.Discard()
	s.opts.Replicate(repr, done)
	return nil
}

func (s *Store) submitLocal(b *Batch, done func(error)) error {
	b.done = done
	if !s.enter() {
		b.Discard()
		return ErrClosed
	}
	err := s.c.enqueue(b)
	s.exit()
	if err != nil {
		b.Discard()
	}
	return err
}

// DeleteCheck removes check c, its index entries, its ping log (entries and
// bodies) and its flips, atomically and durably. Deleting an absent check is
// not an error. The caller must make sure nothing writes to the check
// concurrently (its actor is stopped first).
func (s *Store) DeleteCheck(c *Check) error {
	if !s.enter() {
		return ErrClosed
	}
	b := s.NewBatch()
	b.deleteCheck(c)
	// The index entries of the stored version, in case c is stale.
	stored, err := s.getCheck(c.ID)
	s.exit()
	switch {
	case err == nil:
		if stored.ProjectID != c.ProjectID || stored.Slug != c.Slug {
			b.deleteCheck(stored)
		}
	case err != ErrNotFound:
		b.Discard()
		return err
	}
	return s.Commit(b)
}

// DeleteProject removes the project, its key index entries, all its checks
// and everything under them, atomically and durably. Deleting an absent
// project is not an error. The caller must make sure nothing writes to the
// project or its checks concurrently.
func (s *Store) DeleteProject(id uuid.UUID) error {
	if !s.enter() {
		return ErrClosed
	}
	b := s.NewBatch()
	err := s.deleteProject(b, id)
	s.exit()
	if err != nil {
		b.Discard()
		return err
	}
	return s.Commit(b)
}

func (s *Store) deleteProject(b *Batch, id uuid.UUID) error {
	p, err := s.getProject(id)
	switch {
	case err == nil:
		b.DeleteProjectKeys(p)
	case err != ErrNotFound:
		return err
	}
	b.key = projectKey(b.key[:0], id)
	b.del(b.key)

	lo, hi := idRange(pfxProjCheck, id)
	it, err := s.iter(lo, hi)
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != projCheckKeyLn {
			continue
		}
		cid := uuid.UUID(k[1+16:])
		b.key = checkKey(b.key[:0], cid)
		b.del(b.key)
		b.delIDRange(pfxPing, cid)
		b.delIDRange(pfxBody, cid)
		b.delIDRange(pfxFlip, cid)
		b.deleteCheckNotifications(cid)
		b.delIDRange(pfxIncident, cid)
	}
	if err := it.Close(); err != nil {
		return err
	}
	b.delIDRange(pfxProjCheck, id)
	b.delIDRange(pfxSlug, id)
	b.delIDRange(pfxChannel, id)
	b.delIDRange(pfxProjMonitor, id)
	b.deleteProjectDialectIndex(id)
	b.deleteProjectLookupIndex(id)
	return nil
}
