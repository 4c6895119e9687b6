package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/vigilo/vigilo/engine/store"
)

// Snapshots and log compaction.
//
// A shard's log is cut CompactKeep entries behind what the node has applied,
// every CompactEvery entries, so its disk use stays bounded. A follower that
// needs an entry no longer in its leader's log (it was down, or joins) is
// sent a raft snapshot instead. Its Data is small: the state machine's
// sequence number. The state itself stays on the leader as a store.View
// taken at the snapshot's index, and the follower fetches it as a state
// stream (Options.FetchSnapshot → OpenSnapshot on the leader) before its
// loop ever sees the message. So a fetch neither stalls the loop nor
// leaves the log restored without its state; a fetch that fails drops the
// message, and raft sends another snapshot when the follower next answers.

// snapshotVersion is the first byte of a state snapshot's Data; the
// bootstrap snapshot has none.
const snapshotVersion = 1

// viewTTL is how long a view nobody is fetching is kept: it pins the
// versions it sees on disk.
const viewTTL = 2 * time.Minute

// ErrSnapshotGone: the snapshot asked for is no longer held (a newer one
// replaced it, or it expired); the follower is sent another.
var ErrSnapshotGone = errors.New("raftlog: snapshot no longer held")

type heldView struct {
	shard uint32
	index uint64
	v     *store.View
	refs  int
	last  time.Time // made or last fetched
	dead  bool      // retired: closed once refs is 0
}

// snapshot is shard s's raft.Storage.Snapshot: its applied state as last
// committed, held as a view for the follower to fetch.
func (n *Node) snapshot(s *shard) (*pb.Snapshot, error) {
	idx := s.durableApplied
	term, err := s.log.Term(idx)
	if err != nil {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	if err := n.holdView(s.id, idx); err != nil {
		n.o.Logger.Warn("raft snapshot: take a view", "shard", s.id, "err", err)
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	data := binary.BigEndian.AppendUint64([]byte{snapshotVersion}, s.durableSeq)
	return &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{
		Index: new(idx), Term: new(term),
		ConfState: proto.Clone(s.durableCS).(*pb.ConfState),
	}}, nil
}

func decodeSnapshotData(d []byte) (seq uint64, err error) {
	if len(d) != 9 || d[0] != snapshotVersion {
		return 0, fmt.Errorf("raftlog: snapshot data of %d bytes, version %v", len(d), d[:min(1, len(d))])
	}
	return binary.BigEndian.Uint64(d[1:]), nil
}

// holdView makes sure a view of the store at the shard's index is held,
// retiring the shard's older ones but the last (a follower may be fetching
// it).
func (n *Node) holdView(shard uint32, index uint64) error {
	n.viewMu.Lock()
	defer n.viewMu.Unlock()
	if n.viewsClosed {
		return ErrClosed
	}
	now := time.Now()
	var mine []*heldView
	for _, h := range n.views {
		if h.shard == shard && !h.dead {
			if h.index == index {
				h.last = now
				return nil
			}
			mine = append(mine, h)
		}
	}
	lo, hi := n.stateSpan(shard)
	v, err := n.o.Store.SpanView(lo, hi)
	if err != nil {
		return err
	}
	n.m.Snapshots.WithLabelValues("made").Inc()
	n.views = append(n.views, &heldView{shard: shard, index: index, v: v, last: now})
	slices.SortFunc(mine, func(a, b *heldView) int { return a.last.Compare(b.last) })
	for len(mine) > 1 {
		n.retireLocked(mine[0])
		mine = mine[1:]
	}
	return nil
}

// expireViews retires the views not fetched for viewTTL.
func (n *Node) expireViews(now time.Time) {
	n.viewMu.Lock()
	defer n.viewMu.Unlock()
	for _, h := range slices.Clone(n.views) {
		if !h.dead && now.Sub(h.last) > viewTTL {
			n.retireLocked(h)
		}
	}
}

// retireLocked stops offering h, and releases it unless it is being served
// (then its last Close does).
func (n *Node) retireLocked(h *heldView) {
	h.dead = true
	if h.refs == 0 {
		n.releaseLocked(h)
	}
}

func (n *Node) releaseLocked(h *heldView) {
	n.views = slices.DeleteFunc(n.views, func(x *heldView) bool { return x == h })
	if err := h.v.Close(); err != nil {
		n.o.Logger.Warn("raft snapshot: release a view", "shard", h.shard, "err", err)
	}
	n.viewsIdle.Broadcast()
}

// A SnapshotState is a held snapshot being served to a follower.
type SnapshotState struct {
	n *Node
	h *heldView
}

// OpenSnapshot opens the shard's snapshot at index, which this node's raft
// sent a follower, for that follower to fetch: ErrSnapshotGone when it is
// no longer held. Close it once written.
func (n *Node) OpenSnapshot(shard uint32, index uint64) (*SnapshotState, error) {
	n.viewMu.Lock()
	defer n.viewMu.Unlock()
	if n.viewsClosed {
		return nil, ErrClosed
	}
	for _, h := range n.views {
		if h.shard == shard && h.index == index && !h.dead {
			h.refs++
			h.last = time.Now()
			return &SnapshotState{n: n, h: h}, nil
		}
	}
	return nil, ErrSnapshotGone
}

// Write writes the state to w as a store state stream.
func (s *SnapshotState) Write(w io.Writer) error {
	lo, hi := s.n.stateSpan(s.h.shard)
	return s.h.v.WriteState(w, lo, hi)
}

// Close releases the snapshot.
func (s *SnapshotState) Close() {
	n := s.n
	n.viewMu.Lock()
	defer n.viewMu.Unlock()
	s.h.refs--
	if s.h.refs == 0 && s.h.dead {
		n.releaseLocked(s.h)
	}
}

// closeViews retires every view and waits for those being served.
func (n *Node) closeViews() {
	n.viewMu.Lock()
	defer n.viewMu.Unlock()
	n.viewsClosed = true
	for _, h := range slices.Clone(n.views) {
		if !h.dead {
			n.retireLocked(h)
		}
	}
	for len(n.views) > 0 {
		n.viewsIdle.Wait()
	}
}

func (n *Node) stateSpan(shard uint32) (lo, hi []byte) {
	if n.o.StateSpan == nil {
		return nil, nil
	}
	return n.o.StateSpan(shard)
}

// A snapshot message is held back from the loop until its state is here.
type fetchKey struct {
	shard uint32
	index uint64
}

// deliverSnapshot takes a MsgSnap off the way to the inbox: it goes there
// once its state is fetched.
func (n *Node) deliverSnapshot(e Envelope) {
	key := fetchKey{e.Shard, e.Msg.GetSnapshot().GetMetadata().GetIndex()}
	n.fetchMu.Lock()
	if _, ok := n.fetched[key]; ok {
		n.fetchMu.Unlock()
		n.toInbox(e)
		return
	}
	if n.fetching[e.Shard] || n.fetchStopped || n.o.FetchSnapshot == nil {
		n.fetchMu.Unlock()
		return // raft sends it again (and with no way to fetch, it is refused)
	}
	n.fetching[e.Shard] = true
	n.fetchWG.Add(1)
	n.fetchMu.Unlock()
	go n.fetch(e, key)
}

// fetch loads the state of e's snapshot to disk as it arrives (a table,
// store.LoadState), holding a block of it in memory at a time, whatever
// the shard's size.
func (n *Node) fetch(e Envelope, key fetchKey) {
	defer n.fetchWG.Done()
	var b *store.StateLoad
	lo, hi := n.stateSpan(key.shard)
	record, err := encodeInstallRecord(e.Msg.GetSnapshot())
	if err == nil {
		err = n.o.FetchSnapshot(n.fetchCtx, e.Msg.GetFrom(), key.shard, key.index, func(r io.Reader) error {
			var err error
			b, err = n.o.Store.LoadState(r, lo, hi, record)
			return err
		})
	}
	if err == nil && b == nil {
		err = errors.New("the fetch read no state")
	}
	n.fetchMu.Lock()
	n.fetching[key.shard] = false
	kept := err == nil && !n.closed.Load()
	if kept {
		n.fetched[key] = b
	}
	n.fetchMu.Unlock()
	if !kept {
		b.Discard() // nil-safe; a state loaded before the fetch failed goes too
		if err != nil {
			n.m.Snapshots.WithLabelValues("fetch_failed").Inc()
			n.o.Logger.Warn("raft snapshot: fetch", "shard", key.shard, "index", key.index, "from", e.Msg.GetFrom(), "err", err)
		}
		return
	}
	n.m.Snapshots.WithLabelValues("fetched").Inc()
	n.toInbox(e)
}

// takeFetched is the fetched state of the shard's snapshot at index; nil
// when it was not fetched.
func (n *Node) takeFetched(shard uint32, index uint64) *store.StateLoad {
	n.fetchMu.Lock()
	defer n.fetchMu.Unlock()
	key := fetchKey{shard, index}
	b := n.fetched[key]
	delete(n.fetched, key)
	return b
}

// dropFetched discards fetched states the shard has applied past (raft
// refused their snapshots as stale).
func (n *Node) dropFetched(shard uint32, applied uint64) {
	n.fetchMu.Lock()
	defer n.fetchMu.Unlock()
	for k, b := range n.fetched {
		if k.shard == shard && k.index <= applied {
			b.Discard()
			delete(n.fetched, k)
		}
	}
}

// stopFetches cancels the fetches in flight and drops what was fetched.
func (n *Node) stopFetches() {
	n.fetchMu.Lock()
	n.fetchStopped = true // no fetch starts after the Wait below
	n.fetchMu.Unlock()
	n.fetchCancel()
	n.fetchWG.Wait()
	n.fetchMu.Lock()
	defer n.fetchMu.Unlock()
	for k, b := range n.fetched {
		b.Discard()
		delete(n.fetched, k)
	}
}

// An install record is what the state of an installed snapshot carries
// (store.LoadState's record): the snapshot's metadata and sequence number,
// enough to restore the log to it.
const installRecordVersion = 1

func encodeInstallRecord(snap *pb.Snapshot) ([]byte, error) {
	seq, err := decodeSnapshotData(snap.GetData())
	if err != nil {
		return nil, err
	}
	md, err := proto.Marshal(snap.GetMetadata())
	if err != nil {
		return nil, fmt.Errorf("raftlog: encode snapshot metadata: %w", err)
	}
	rec := binary.AppendUvarint([]byte{installRecordVersion}, uint64(len(md)))
	rec = append(rec, md...)
	return binary.BigEndian.AppendUint64(rec, seq), nil
}

func decodeInstallRecord(rec []byte) (*pb.SnapshotMetadata, uint64, error) {
	bad := fmt.Errorf("raftlog: install record of %d bytes does not decode", len(rec))
	if len(rec) < 1 || rec[0] != installRecordVersion {
		return nil, 0, bad
	}
	n, k := binary.Uvarint(rec[1:])
	if k <= 0 || n > uint64(len(rec)) || uint64(len(rec)-1-k) != n+8 {
		return nil, 0, bad
	}
	md := new(pb.SnapshotMetadata)
	if err := proto.Unmarshal(rec[1+k:1+k+int(n)], md); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", bad, err)
	}
	return md, binary.BigEndian.Uint64(rec[1+k+int(n):]), nil
}

// finishInstall completes, into b, an install that a crash cut between
// its state and the batch that records it: the state says it is at a
// later index than the log. It says whether there was one.
func (n *Node) finishInstall(s *shard, b *store.Batch) (bool, error) {
	lo, _ := n.stateSpan(s.id)
	rec, err := n.o.Store.InstallRecord(lo)
	if err != nil || rec == nil {
		return false, err
	}
	md, seq, err := decodeInstallRecord(rec)
	if err != nil {
		return false, err
	}
	if md.GetIndex() <= s.applied {
		return false, nil // recorded in the log: the state has moved on
	}
	// The lost batch held the hard state raft had when it restored the
	// snapshot: a commit at least its index, a term at least its term. The
	// vote stays: one of an earlier term only makes this node refuse a
	// vote it could have given, never give one twice.
	hs := s.log.hs
	hs.Commit = new(max(hs.GetCommit(), md.GetIndex()))
	hs.Term = new(max(hs.GetTerm(), md.GetTerm()))
	if err := s.log.restore(&pb.Snapshot{Metadata: md}, b); err != nil {
		return false, err
	}
	s.applied, s.lastSeq = md.GetIndex(), seq
	pos := binary.BigEndian.AppendUint64(nil, s.applied)
	b.PutRaftApplied(s.id, binary.BigEndian.AppendUint64(pos, s.lastSeq))
	n.m.Snapshots.WithLabelValues("installed").Inc()
	return true, nil
}

// installSnapshot replaces the shard's log and state by the snapshot's, in
// b: raft restored it, and its state was fetched before raft saw it.
func (n *Node) installSnapshot(s *shard, snap *pb.Snapshot, b *store.Batch) error {
	md := snap.GetMetadata()
	if len(snap.GetData()) == 0 {
		if err := s.log.installBootstrap(snap, b); err != nil {
			return err
		}
		s.applied, s.posDirty = s.log.snapIndex, true
		return nil
	}
	seq, err := decodeSnapshotData(snap.GetData())
	if err != nil {
		return err
	}
	state := n.takeFetched(s.id, md.GetIndex())
	if state == nil {
		return fmt.Errorf("snapshot at %d restored without its state", md.GetIndex())
	}
	// The state goes in on its own, ahead of b, which records the install
	// in the log: a crash between the two keeps the state with its install
	// record, from which the next Open finishes the install (openShard).
	if err := n.o.Store.IngestState(state); err != nil {
		return fmt.Errorf("snapshot at %d: %w", md.GetIndex(), err)
	}
	if state.Excised() {
		n.m.Snapshots.WithLabelValues("excised").Inc()
	}
	n.o.Logger.Info("raft snapshot: installed", "shard", s.id, "index", md.GetIndex(),
		"records", state.Records(), "tables", state.Tables(), "bytes", state.Bytes(), "excised", state.Excised())
	if err := s.log.restore(snap, b); err != nil {
		return err
	}
	s.applied, s.lastSeq, s.posDirty = md.GetIndex(), seq, true
	n.m.Snapshots.WithLabelValues("installed").Inc()
	return nil
}

// maybeCompact cuts the shard's log, in b, once CompactEvery entries are
// applied past its start beyond the ones kept, or once it holds
// CompactBytes. A cut keeps the last CompactKeep applied entries, but no
// more than CompactBytes/2 of them: entries vary from one command to
// thousands.
func (n *Node) maybeCompact(s *shard, b *store.Batch) {
	if n.o.CompactEvery < 0 {
		return
	}
	l := s.log
	limit := uint64(n.o.CompactBytes)
	to, kept := s.durableApplied, uint64(0)
	for keep := 0; to > l.snapIndex && keep < n.o.CompactKeep && kept+l.size(to) <= limit/2; keep++ {
		kept += l.size(to)
		to--
	}
	if to <= l.snapIndex {
		return
	}
	var cut uint64 // bytes the cut drops
	byCount := to-l.snapIndex >= uint64(n.o.CompactEvery)
	if !byCount {
		if l.bytes < limit {
			return
		}
		for i := l.snapIndex + 1; i <= to; i++ {
			cut += l.size(i)
		}
		if cut < limit/4 {
			return // what is over the limit is not applied yet
		}
	}
	if err := l.compact(b, to); err != nil {
		n.o.Logger.Warn("raft log: compact", "shard", s.id, "to", to, "err", err)
		return
	}
	n.m.Compactions.Inc()
}
