package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The raft log of a cluster node's shards (docs/CLUSTER.md): opaque bytes
// here, encoded and decoded by package cluster/raftlog, which owns their
// meaning. They live in the node's one Pebble database so that a loop's log
// appends of every shard share one synced batch with nothing else to order.
const (
	pfxRaftEntry   = 'r' // 'r' shard, index → entry
	pfxRaftState   = 'H' // 'H' shard → hard state and conf state
	pfxRaftApplied = 'A' // 'A' shard → applied index and the state machine's position
	raftEntryKeyLn = 1 + 4 + 8
)

func raftEntryKey(dst []byte, shard uint32, index uint64) []byte {
	dst = append(dst, pfxRaftEntry)
	dst = binary.BigEndian.AppendUint32(dst, shard)
	return binary.BigEndian.AppendUint64(dst, index)
}

func raftShardKey(dst []byte, pfx byte, shard uint32) []byte {
	dst = append(dst, pfx)
	return binary.BigEndian.AppendUint32(dst, shard)
}

// The raft methods are the root store's: the log of every shard is kept
// once for the database, unprefixed, and a key space refuses them (a
// batch's records ErrRootOnly, which its commit returns; a read returns it).

// PutRaftEntry writes entry index of the shard's log, replacing any there.
func (b *Batch) PutRaftEntry(shard uint32, index uint64, entry []byte) {
	if b.rootOnly("PutRaftEntry") {
		return
	}
	b.key = raftEntryKey(b.key[:0], shard, index)
	b.set(b.key, entry)
}

// DeleteRaftEntries deletes entries [lo, hi) of the shard's log: a conflicting
// suffix, or a prefix the state machine no longer needs. Point deletions, as
// delKeys explains; the caller knows which indexes exist.
func (b *Batch) DeleteRaftEntries(shard uint32, lo, hi uint64) {
	if b.rootOnly("DeleteRaftEntries") {
		return
	}
	for i := lo; i < hi; i++ {
		b.key = raftEntryKey(b.key[:0], shard, i)
		b.del(b.key)
	}
}

// PutRaftState writes the shard's hard and conf state.
func (b *Batch) PutRaftState(shard uint32, state []byte) {
	if b.rootOnly("PutRaftState") {
		return
	}
	b.key = raftShardKey(b.key[:0], pfxRaftState, shard)
	b.set(b.key, state)
}

// PutRaftApplied writes the shard's applied position.
func (b *Batch) PutRaftApplied(shard uint32, applied []byte) {
	if b.rootOnly("PutRaftApplied") {
		return
	}
	b.key = raftShardKey(b.key[:0], pfxRaftApplied, shard)
	b.set(b.key, applied)
}

// RaftState is the shard's stored hard and conf state; nil when none is.
func (s *Store) RaftState(shard uint32) ([]byte, error) {
	if err := s.rootOnly("RaftState"); err != nil {
		return nil, err
	}
	return s.value(raftShardKey(nil, pfxRaftState, shard))
}

// RaftApplied is the shard's stored applied position; nil when none is.
func (s *Store) RaftApplied(shard uint32) ([]byte, error) {
	if err := s.rootOnly("RaftApplied"); err != nil {
		return nil, err
	}
	return s.value(raftShardKey(nil, pfxRaftApplied, shard))
}

// value is a copy of key's value; nil when it has none.
func (s *Store) value(key []byte) ([]byte, error) {
	if !s.enter() {
		return nil, ErrClosed
	}
	defer s.exit()
	var out []byte
	err := s.get(key, func(v []byte) error {
		out = cloneBytes(v)
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", key, err)
	}
	return out, nil
}

// RaftEntries calls fn with entries [lo, hi) of the shard's log in order,
// stopping early when fn returns false. The value is valid only during the
// call. Missing indexes are skipped: the caller checks continuity.
func (s *Store) RaftEntries(shard uint32, lo, hi uint64, fn func(index uint64, entry []byte) bool) error {
	if err := s.rootOnly("RaftEntries"); err != nil {
		return err
	}
	if !s.enter() {
		return ErrClosed
	}
	defer s.exit()
	it, err := s.iter(raftEntryKey(nil, shard, lo), raftEntryKey(nil, shard, hi))
	if err != nil {
		return fmt.Errorf("read raft log of shard %d: %w", shard, err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != raftEntryKeyLn {
			continue
		}
		if !fn(binary.BigEndian.Uint64(k[5:]), it.Value()) {
			break
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("read raft log of shard %d: %w", shard, err)
	}
	return nil
}

// RaftLogBounds is the first and last index in the shard's stored log; ok is
// false when it holds none.
func (s *Store) RaftLogBounds(shard uint32) (first, last uint64, ok bool, err error) {
	if err := s.rootOnly("RaftLogBounds"); err != nil {
		return 0, 0, false, err
	}
	if !s.enter() {
		return 0, 0, false, ErrClosed
	}
	defer s.exit()
	it, err := s.iter(raftEntryKey(nil, shard, 0), raftShardKey(nil, pfxRaftEntry, shard+1))
	if err != nil {
		return 0, 0, false, fmt.Errorf("read raft log of shard %d: %w", shard, err)
	}
	if it.First() {
		first = binary.BigEndian.Uint64(it.Key()[5:])
		if it.Last() {
			last, ok = binary.BigEndian.Uint64(it.Key()[5:]), true
		}
	}
	if err := it.Close(); err != nil {
		return 0, 0, false, fmt.Errorf("read raft log of shard %d: %w", shard, err)
	}
	return first, last, ok, nil
}

// Repr is a copy of the batch's writes in Pebble's batch encoding: the
// command a cluster node proposes, which every replica applies with
// AppendRepr. A key space's batch carries its keys as Pebble stores them,
// prefix included, so that the root store applying the repr writes into
// that space.
func (b *Batch) Repr() []byte { return cloneBytes(b.pb.Repr()) }

// AppendRepr adds the writes encoded in repr (from Repr) to b, after its
// own, keys as they are: on the root, a space's repr writes into that space.
// A repr that does not decode is an error and leaves b as it was, so that
// one bad command cannot fail the batch it shares with others; so is, on a
// key space's batch, a repr with a key outside that space.
func (b *Batch) AppendRepr(repr []byte) error {
	other := b.s.db.NewBatch()
	defer other.Close()
	if err := other.SetRepr(cloneBytes(repr)); err != nil {
		return fmt.Errorf("apply batch repr: %w", err)
	}
	// Walk it first: Apply copies bytes unread, and a record that does not
	// decode would fail the memtable insert of the whole merged commit.
	r, n := other.Reader(), uint32(0)
	for {
		kind, k, v, ok, err := r.Next()
		if err != nil {
			return fmt.Errorf("apply batch repr: record %d: %w", n, err)
		}
		if !ok {
			break
		}
		if err := b.s.checkRecord(kind, k, v); err != nil {
			return fmt.Errorf("apply batch repr: record %d: %w", n, err)
		}
		n++
	}
	if n != other.Count() {
		return fmt.Errorf("apply batch repr: %d records, header says %d", n, other.Count())
	}
	if err := b.pb.Apply(other, nil); err != nil {
		return fmt.Errorf("apply batch repr: %w", err)
	}
	return nil
}

// clusterMembersName is the metadata key of a cluster node's directory of
// its peers' addresses (package cluster's JSON), written with the
// membership changes that alter it. It lives in key space 0's span,
// though no space's store reads it: the directory is shard 0's membership,
// and a snapshot of shard 0 (its span) must carry it to a node that joins.
const clusterMembersName = "cluster-members"

func clusterMembersKey(dst []byte) []byte {
	return metaKey(append(dst, SpacePrefix(0)), clusterMembersName)
}

// PutClusterMembers writes the cluster's member directory.
func (b *Batch) PutClusterMembers(v []byte) {
	if b.rootOnly("PutClusterMembers") {
		return
	}
	b.key = clusterMembersKey(b.key[:0])
	b.set(b.key, v)
}

// ClusterMembers is the stored member directory; nil when none is.
func (s *Store) ClusterMembers() ([]byte, error) {
	if err := s.rootOnly("ClusterMembers"); err != nil {
		return nil, err
	}
	return s.value(clusterMembersKey(nil))
}

// rootOnly records, on a key space's batch, the error of a root-only method.
func (b *Batch) rootOnly(method string) bool {
	if !b.spaced {
		return false
	}
	b.fail(b.s.rootOnly(method))
	return true
}
