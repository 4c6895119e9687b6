// Package raftlog is a cluster node's replicated log: one etcd raft group
// (go.etcd.io/raft/v3) per virtual shard, every group's log kept in the
// node's one Pebble store (engine/store), and one loop goroutine that drives
// them all.
//
// Each loop iteration writes the log appends, hard states and applied
// commands of every shard that has work as one synced batch, and only then
// sends the shards' messages and tells proposers their commands are applied:
// a command acknowledged to its proposer is in the synced log of a quorum of
// the shard's replicas and applied on the leader (docs/CLUSTER.md, section
// 4). A command is a store.Batch's Repr by default, applied on every replica
// into the same batch as the shard's applied position.
//
// Proposals are taken by the shard's leader only. Each entry carries the
// leader's term and the shard's next sequence number, assigned once the
// leader has applied its term's first entry; an entry that commits out of
// sequence is a no-op on every replica, so an old leader's late entry can
// never be applied after a newer leader's.
//
// This is phase 1 of the cluster (docs/CLUSTER.md, section 9): the node and
// its tests over an in-process transport. Not built yet: log compaction and
// snapshots, membership changes after bootstrap, the network transport, and
// the engine running its checks on shard leaders.
package raftlog
