package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/vigilo/vigilo/engine/store"
)

// shardLog is one shard's raft.Storage over the node's store. Only the
// node's loop goroutine calls it (RawNode is not safe for concurrent use, and
// neither is this), so it keeps what raft asks for most (bounds, terms) in
// memory and reads entries from Pebble.
//
// A shard starts from a virtual snapshot at index 1, term 1, whose conf
// state names every peer: the bootstrap etcd raft recommends over
// RawNode.Bootstrap, identical on every node given the same peers, so no
// node has to propose the membership.
type shardLog struct {
	st    *store.Store
	shard uint32

	hs *pb.HardState
	cs *pb.ConfState
	// snapIndex and snapTerm are the entry before the log's first: the
	// bootstrap snapshot, the last compaction's cut, or the snapshot
	// installed.
	snapIndex, snapTerm uint64
	// snap, when set, makes Snapshot a snapshot of the applied state
	// (snapshot.go); without it Snapshot is the bootstrap one.
	snap func() (*pb.Snapshot, error)
	// terms[i] is the term of entry snapIndex+1+i, the whole stored log,
	// sizes[i] its encoded size, and bytes their sum: what compaction
	// weighs.
	terms []uint64
	sizes []uint32
	bytes uint64
	// recent is the log's last entries (at most recentEntries, and
	// recentBytes of data): what raft reads back most, to apply what it just
	// committed and to send followers what they lack, served without a
	// Pebble iterator (27% of a replicated command's CPU when they were read
	// from the store).
	recent      []*pb.Entry
	recentBytes int
}

const (
	recentEntries  = 512
	recentMaxBytes = 1 << 20
)

const (
	bootstrapIndex = 1
	bootstrapTerm  = 1
)

func emptyLog(st *store.Store, shard uint32) *shardLog {
	return &shardLog{st: st, shard: shard, hs: &pb.HardState{}, cs: &pb.ConfState{}}
}

// openShardLog loads the shard's log. One that has none is bootstrapped
// with peers (written into b, which the caller commits before anything
// else); with no peers (a node joining a running cluster) it stays empty
// until the leader sends it the bootstrap snapshot.
func openShardLog(st *store.Store, shard uint32, peers []uint64, b *store.Batch) (*shardLog, error) {
	l := emptyLog(st, shard)
	v, err := st.RaftState(shard)
	if err != nil {
		return nil, err
	}
	if v == nil {
		if len(peers) > 0 {
			l.snapIndex, l.snapTerm = bootstrapIndex, bootstrapTerm
			l.hs = &pb.HardState{Term: new(uint64(bootstrapTerm)), Commit: new(uint64(bootstrapIndex))}
			l.cs = &pb.ConfState{Voters: append([]uint64(nil), peers...)}
		}
		if err := l.saveState(b); err != nil {
			return nil, err
		}
		return l, nil
	}
	if err := l.decodeState(v); err != nil {
		return nil, fmt.Errorf("shard %d: %w", shard, err)
	}
	first, last, ok, err := st.RaftLogBounds(shard)
	if err != nil {
		return nil, err
	}
	if !ok {
		return l, nil
	}
	if first != l.snapIndex+1 {
		return nil, fmt.Errorf("shard %d: log starts at %d, after snapshot %d", shard, first, l.snapIndex)
	}
	l.terms = make([]uint64, 0, last-first+1)
	l.sizes = make([]uint32, 0, last-first+1)
	err = l.readEntries(first, last+1, func(e *pb.Entry, size int) bool {
		l.terms = append(l.terms, e.GetTerm())
		l.sizes = append(l.sizes, uint32(size))
		l.bytes += uint64(size)
		return true
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// readEntries calls fn with the stored entries [lo, hi) in order and their
// encoded size, until it returns false; an index missing in between is
// raft.ErrUnavailable.
func (l *shardLog) readEntries(lo, hi uint64, fn func(e *pb.Entry, size int) bool) error {
	var decodeErr error
	next := lo
	err := l.st.RaftEntries(l.shard, lo, hi, func(i uint64, v []byte) bool {
		if i != next {
			decodeErr = fmt.Errorf("shard %d: log has a gap at %d: %w", l.shard, next, raft.ErrUnavailable)
			return false
		}
		e := new(pb.Entry)
		if decodeErr = proto.Unmarshal(v, e); decodeErr != nil {
			return false
		}
		next++
		return fn(e, len(v))
	})
	if err == nil {
		err = decodeErr
	}
	return err
}

// The 'H' value: hard state and conf state, each length-prefixed, then the
// snapshot's index and term.
func (l *shardLog) saveState(b *store.Batch) error {
	var v []byte
	for _, m := range []proto.Message{l.hs, l.cs} {
		p, err := proto.Marshal(m)
		if err != nil {
			return err
		}
		v = binary.AppendUvarint(v, uint64(len(p)))
		v = append(v, p...)
	}
	v = binary.BigEndian.AppendUint64(v, l.snapIndex)
	v = binary.BigEndian.AppendUint64(v, l.snapTerm)
	b.PutRaftState(l.shard, v)
	return nil
}

var errBadState = errors.New("stored raft state does not decode")

func (l *shardLog) decodeState(v []byte) error {
	part := func() ([]byte, bool) {
		n, k := binary.Uvarint(v)
		if k <= 0 || uint64(len(v)-k) < n {
			return nil, false
		}
		p := v[k : k+int(n)]
		v = v[k+int(n):]
		return p, true
	}
	for _, m := range []proto.Message{l.hs, l.cs} {
		p, ok := part()
		if !ok {
			return errBadState
		}
		if err := proto.Unmarshal(p, m); err != nil {
			return fmt.Errorf("%w: %v", errBadState, err)
		}
	}
	if len(v) != 16 {
		return errBadState
	}
	l.snapIndex = binary.BigEndian.Uint64(v)
	l.snapTerm = binary.BigEndian.Uint64(v[8:])
	return nil
}

func (l *shardLog) lastIndex() uint64 { return l.snapIndex + uint64(len(l.terms)) }

// append adds entries to the log in b, first dropping any stored entries at
// or after the first one's index (a new leader's log replaces a conflicting
// suffix).
func (l *shardLog) append(b *store.Batch, ents []*pb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	first := ents[0].GetIndex()
	if first <= l.snapIndex {
		return fmt.Errorf("shard %d: append at %d, inside snapshot %d", l.shard, first, l.snapIndex)
	}
	if first > l.lastIndex()+1 {
		return fmt.Errorf("shard %d: append at %d leaves a gap after %d", l.shard, first, l.lastIndex())
	}
	if last := l.lastIndex(); first <= last {
		b.DeleteRaftEntries(l.shard, first, last+1)
		keep := first - l.snapIndex - 1
		l.terms = l.terms[:keep]
		for _, n := range l.sizes[keep:] {
			l.bytes -= uint64(n)
		}
		l.sizes = l.sizes[:keep]
		l.dropRecentFrom(first)
	}
	for _, e := range ents {
		v, err := proto.Marshal(e)
		if err != nil {
			return err
		}
		b.PutRaftEntry(l.shard, e.GetIndex(), v)
		l.terms = append(l.terms, e.GetTerm())
		l.sizes = append(l.sizes, uint32(len(v)))
		l.bytes += uint64(len(v))
		l.recent = append(l.recent, e)
		l.recentBytes += len(e.GetData())
	}
	for len(l.recent) > 1 && (len(l.recent) > recentEntries || l.recentBytes > recentMaxBytes) {
		l.recentBytes -= len(l.recent[0].GetData())
		l.recent[0] = nil
		l.recent = l.recent[1:]
	}
	return nil
}

// dropRecentFrom forgets the recent entries from index on.
func (l *shardLog) dropRecentFrom(index uint64) {
	for len(l.recent) > 0 && l.recent[len(l.recent)-1].GetIndex() >= index {
		last := len(l.recent) - 1
		l.recentBytes -= len(l.recent[last].GetData())
		l.recent[last] = nil
		l.recent = l.recent[:last]
	}
}

// fromRecent is Entries served from memory; ok is false when lo is older
// than what recent holds.
func (l *shardLog) fromRecent(lo, hi, maxSize uint64) ([]*pb.Entry, bool) {
	if len(l.recent) == 0 || lo < l.recent[0].GetIndex() {
		return nil, false
	}
	start := lo - l.recent[0].GetIndex()
	end := hi - l.recent[0].GetIndex()
	var out []*pb.Entry
	var size uint64
	for _, e := range l.recent[start:end] {
		size += uint64(proto.Size(e))
		if len(out) > 0 && size > maxSize {
			break
		}
		out = append(out, e)
	}
	// A copy of the pointers: raft may append to what it is given.
	return out, true
}

// InitialState implements raft.Storage.
func (l *shardLog) InitialState() (*pb.HardState, *pb.ConfState, error) {
	return proto.Clone(l.hs).(*pb.HardState), proto.Clone(l.cs).(*pb.ConfState), nil
}

// Entries implements raft.Storage.
func (l *shardLog) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	if lo <= l.snapIndex {
		return nil, raft.ErrCompacted
	}
	if hi > l.lastIndex()+1 {
		return nil, fmt.Errorf("shard %d: entries [%d, %d) past the last %d", l.shard, lo, hi, l.lastIndex())
	}
	if out, ok := l.fromRecent(lo, hi, maxSize); ok {
		return out, nil
	}
	var out []*pb.Entry
	var size uint64
	err := l.readEntries(lo, hi, func(e *pb.Entry, n int) bool {
		size += uint64(n)
		if len(out) > 0 && size > maxSize {
			return false
		}
		out = append(out, e)
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, raft.ErrUnavailable
	}
	return out, nil
}

// Term implements raft.Storage.
func (l *shardLog) Term(i uint64) (uint64, error) {
	switch {
	case i < l.snapIndex:
		return 0, raft.ErrCompacted
	case i == l.snapIndex:
		return l.snapTerm, nil
	case i > l.lastIndex():
		return 0, raft.ErrUnavailable
	}
	return l.terms[i-l.snapIndex-1], nil
}

// LastIndex implements raft.Storage.
func (l *shardLog) LastIndex() (uint64, error) { return l.lastIndex(), nil }

// FirstIndex implements raft.Storage.
func (l *shardLog) FirstIndex() (uint64, error) { return l.snapIndex + 1, nil }

// Snapshot implements raft.Storage: with compaction on, the applied state
// (Node.snapshot). Without it, the bootstrap snapshot, the only one there
// is, which a leader sends a node that joined later. That one carries the
// current conf state, not the bootstrap's: raft on the joiner restores only
// a snapshot whose voters name it. The log from index 2 then replays the
// membership changes, which that later start absorbs (adding a voter
// again, removing one already gone, are no-ops).
func (l *shardLog) Snapshot() (*pb.Snapshot, error) {
	if l.snap != nil {
		return l.snap()
	}
	return &pb.Snapshot{Metadata: &pb.SnapshotMetadata{
		Index:     new(l.snapIndex),
		Term:      new(l.snapTerm),
		ConfState: proto.Clone(l.cs).(*pb.ConfState),
	}}, nil
}

// installBootstrap takes the leader's bootstrap snapshot (one without
// state: compaction is off there) on a joining node whose log is empty. Its
// state is empty, so the log from index 2 on rebuilds everything.
func (l *shardLog) installBootstrap(snap *pb.Snapshot, b *store.Batch) error {
	md := snap.GetMetadata()
	if md.GetIndex() != bootstrapIndex || md.GetTerm() != bootstrapTerm || l.lastIndex() != 0 {
		return fmt.Errorf("a snapshot at index %d, term %d for a log ending at %d: a snapshot without state installs only as the bootstrap snapshot of an empty log",
			md.GetIndex(), md.GetTerm(), l.lastIndex())
	}
	l.snapIndex, l.snapTerm = md.GetIndex(), md.GetTerm()
	l.cs = proto.Clone(md.GetConfState()).(*pb.ConfState)
	return l.saveState(b)
}

// restore makes the log start after the snapshot, dropping every stored
// entry: raft restores a snapshot only when the log does not hold its
// index and term.
func (l *shardLog) restore(snap *pb.Snapshot, b *store.Batch) error {
	md := snap.GetMetadata()
	if l.lastIndex() > l.snapIndex {
		b.DeleteRaftEntries(l.shard, l.snapIndex+1, l.lastIndex()+1)
	}
	l.snapIndex, l.snapTerm = md.GetIndex(), md.GetTerm()
	l.terms, l.sizes, l.bytes = nil, nil, 0
	l.dropRecentFrom(0)
	l.cs = proto.Clone(md.GetConfState()).(*pb.ConfState)
	return l.saveState(b)
}

// compact drops the entries up to and including index to, in b.
func (l *shardLog) compact(b *store.Batch, to uint64) error {
	if to <= l.snapIndex || to > l.lastIndex() {
		return fmt.Errorf("shard %d: compact to %d outside (%d, %d]", l.shard, to, l.snapIndex, l.lastIndex())
	}
	b.DeleteRaftEntries(l.shard, l.snapIndex+1, to+1)
	k := to - l.snapIndex
	l.snapTerm = l.terms[k-1]
	for _, n := range l.sizes[:k] {
		l.bytes -= uint64(n)
	}
	// Copies, so the dropped prefix's memory goes.
	l.terms = append([]uint64(nil), l.terms[k:]...)
	l.sizes = append([]uint32(nil), l.sizes[k:]...)
	l.snapIndex = to
	for len(l.recent) > 0 && l.recent[0].GetIndex() <= to {
		l.recentBytes -= len(l.recent[0].GetData())
		l.recent[0] = nil
		l.recent = l.recent[1:]
	}
	return l.saveState(b)
}

// size is the encoded size of stored entry i.
func (l *shardLog) size(i uint64) uint64 { return uint64(l.sizes[i-l.snapIndex-1]) }
