package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Samples (see ApplySample) are buffered in memory and applied to Pebble in
// groups: at ~10,000 probes a second, one Pebble commit per sample (its
// commit pipeline and the hand-off to the WAL writer) was 3–4% of the node's
// CPU, spent on data nobody waits for.

// sampleGroupMax is how many samples make a group that the ApplySample call
// that fills it applies at once, rather than waiting for the flusher: enough
// that one Pebble commit is shared by hundreds of samples, few enough that
// that call's apply stays in the tens of microseconds and the buffer in the
// tens of kilobytes (a response time is under 100 bytes).
const sampleGroupMax = 256

// sampleFlushEvery is how long a sample may wait in memory when fewer than
// sampleGroupMax come: what a kill -9 can lose of samples that no commit
// carried. Short, since memory is all it costs; long enough that a group
// still holds hundreds of samples at thousands a second.
const sampleFlushEvery = 50 * time.Millisecond

// sampleSyncEvery bounds how long an applied sample waits for a WAL sync when
// nothing commits: what a power cut can lose.
const sampleSyncEvery = time.Second

// samples is the Store's buffer of samples and its flusher.
//
// Why two locks: a group is swapped out under mu and applied outside it, so
// ApplySample never waits for Pebble unless it fills a group; but then a
// swapped-out group is in neither the buffer nor Pebble while it is applied.
// applyMu is held from the swap to the end of the apply, so whoever takes it
// next (the committer before its group, a read) finds every sample accepted
// before that moment either in Pebble or still in the buffer, to apply itself.
type samples struct {
	mu      sync.Mutex
	pending *pebble.Batch // accepted and not yet applied
	n       int           // samples in pending

	applyMu sync.Mutex
	spare   *pebble.Batch // the group being applied, empty between applies (applyMu)
	// lastProposal is the last group proposed on a replicated store
	// (applyMu).
	lastProposal *sampleProposal

	// unsynced: a group was applied without a sync that no sync has covered
	// since. Cleared before a Sync apply, set after a NoSync one: a race
	// leaves it set, which costs at most one sync too many.
	unsynced atomic.Bool

	accepted atomic.Uint64
	groups   atomic.Uint64
	lost     atomic.Uint64

	stop    chan struct{}
	stopped chan struct{}
}

// sampleSync says when a flush syncs the WAL.
type sampleSync int

const (
	syncIfDue sampleSync = iota // if nothing synced for sampleSyncEvery
	syncNever                   // the committer, whose group's sync comes next, and reads
	syncNow                     // FlushSamples and Close
)

// startSamples starts the flusher; Close stops it (stopSamples).
func (s *Store) startSamples() {
	sm := &s.sm
	sm.pending, sm.spare = s.db.NewBatch(), s.db.NewBatch()
	sm.stop, sm.stopped = make(chan struct{}), make(chan struct{})
	go s.flushLoop()
}

func (s *Store) flushLoop() {
	defer close(s.sm.stopped)
	t := time.NewTicker(sampleFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-s.sm.stop:
			return
		case <-t.C:
			// A failed group is dropped (they are samples) and counted in
			// Stats.SamplesLost; there is no caller to tell.
			_ = s.flushSamples(syncIfDue, 1)
		}
	}
}

// stopSamples stops the flusher, then applies and syncs what is pending.
// Called by Close once no operation is in progress and the committer is
// stopped, before Pebble closes.
func (s *Store) stopSamples() error {
	close(s.sm.stop)
	<-s.sm.stopped
	return s.flushSamples(syncNow, 1)
}

// ApplySample writes b atomically without waiting for a WAL sync, and returns
// b to the pool. It is for records that are samples, whose loss in a crash
// costs a data point and nothing else: a routine probe's response time. Never
// use it for state, nor for anything a caller acknowledges.
//
// b joins a group of samples in memory, which is applied to Pebble when it
// reaches sampleGroupMax (by this call, which then returns the apply's error,
// if any: the whole group is lost), by the flusher every sampleFlushEvery,
// by the committer before any commit it applies (so a sample never lands
// after a commit submitted after it, a monitor's deletion say), or by a read
// of samples (ResponseTimes, AllMonitors), which sees b at once. A kill -9
// loses at most the samples of the last sampleFlushEvery that no commit
// carried; a power cut at most about sampleSyncEvery of samples, as the
// group is durable with the next sync (Pebble syncs the WAL in order): any
// commit's, or the flusher's when none came for sampleSyncEvery.
func (s *Store) ApplySample(b *Batch) error {
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
	if b.pb.Empty() {
		return nil
	}
	sm := &s.sm
	sm.mu.Lock()
	err := sm.pending.Apply(b.pb, nil) // fails only on a malformed batch
	if err == nil {
		sm.n++
	}
	full := sm.n >= sampleGroupMax
	sm.mu.Unlock()
	if err != nil {
		return fmt.Errorf("buffer sample: %w", err)
	}
	sm.accepted.Add(1)
	if full {
		// Every call that finds the group full waits for its apply: when
		// Pebble stalls, samples do not pile up in memory.
		if err := s.flushSamples(syncIfDue, sampleGroupMax); err != nil {
			return fmt.Errorf("apply samples: %w", err)
		}
	}
	return nil
}

// FlushSamples applies the samples ApplySample has buffered and syncs the
// WAL: when it returns, every sample accepted before it was called is
// durable. Close does it too.
func (s *Store) FlushSamples() error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	if err := s.flushSamples(syncNow, 1); err != nil {
		return fmt.Errorf("flush samples: %w", err)
	}
	return nil
}

// readSamples makes every accepted sample visible to a read that follows,
// without a sync. The caller has entered.
func (s *Store) readSamples() error {
	if err := s.flushSamples(syncNever, 1); err != nil {
		return fmt.Errorf("apply samples: %w", err)
	}
	return nil
}

// flushSamples applies the pending group if it has at least atLeast samples
// (more than 1: the caller's own sample may have gone with a group another call
// applied while it waited for applyMu), syncing as mode says. A failed group
// is dropped, and the store stays usable.
func (s *Store) flushSamples(mode sampleSync, atLeast int) error {
	sm := &s.sm
	sm.applyMu.Lock()
	wait, err := s.flushSamplesLocked(mode, atLeast)
	sm.applyMu.Unlock()
	if wait != nil {
		// Not under applyMu: the raft loop may itself be flushing
		// samples, in a commit's callback, before it can answer.
		<-wait.done
		err = wait.err
	}
	return err
}

// flushSamplesLocked is flushSamples under applyMu; on a replicated store
// it may leave the wait for the proposal's outcome to its caller.
func (s *Store) flushSamplesLocked(mode sampleSync, atLeast int) (*sampleProposal, error) {
	sm := &s.sm
	sm.mu.Lock()
	group, n := sm.pending, sm.n
	if n < atLeast {
		n = 0
	} else {
		sm.pending, sm.spare, sm.n = sm.spare, group, 0
	}
	sm.mu.Unlock()

	sync := false
	switch mode {
	case syncNow:
		// Even with nothing applied since: the committer clears unsynced
		// before its sync, which may still be under way.
		sync = true
	case syncIfDue:
		sync = (n > 0 || sm.unsynced.Load()) &&
			time.Now().UnixNano()-s.lastSync.Load() > int64(sampleSyncEvery)
	}
	if s.opts.Replicate != nil && (n > 0 || mode == syncNow) {
		return s.replicateSamples(group, n, mode == syncNow), nil
	}
	if n == 0 && !sync {
		return nil, nil
	}
	if sync {
		sm.unsynced.Store(false)
	}
	var err error
	switch {
	case n == 0:
		err = s.db.LogData(nil, pebble.Sync) // a sync for earlier groups
	case sync:
		err = s.db.Apply(group, pebble.Sync)
	default:
		err = s.db.Apply(group, pebble.NoSync)
	}
	if n > 0 {
		group.Reset()
	}
	switch {
	case err != nil:
		sm.unsynced.Store(true) // what was there to sync may still be
		sm.lost.Add(uint64(n))
		return nil, err
	case sync:
		s.lastSync.Store(time.Now().UnixNano())
	default:
		sm.unsynced.Store(true)
	}
	if n > 0 {
		sm.groups.Add(1)
	}
	return nil, nil
}

// replicateSamples proposes a group of n samples on a replicated store,
// where they must reach every replica like the rest of the state: a
// failover would otherwise lose every response time the old leader kept.
// The group is proposed in its place in the order of proposals
// (Store.replicate flushes samples before each commit's); a lost group is
// counted in Stats.SamplesLost. With wait (FlushSamples, Close) it returns
// the proposal to wait for: this group's, or with none, the last one
// proposed, which the flusher may have sent and not seen answered. The
// caller holds applyMu.
func (s *Store) replicateSamples(group *pebble.Batch, n int, wait bool) *sampleProposal {
	sm := &s.sm
	if n == 0 {
		if wait {
			return sm.lastProposal
		}
		return nil
	}
	repr := cloneBytes(group.Repr())
	group.Reset()
	sm.groups.Add(1)
	p := &sampleProposal{done: make(chan struct{})}
	sm.lastProposal = p
	s.opts.Replicate(repr, func(err error) {
		if err != nil {
			sm.lost.Add(uint64(n))
		}
		p.err = err
		close(p.done)
	})
	if wait {
		return p
	}
	return nil
}

// sampleProposal is a group of samples proposed on a replicated store.
type sampleProposal struct {
	done chan struct{} // closed once answered
	err  error
}
