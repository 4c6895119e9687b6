// Package cluster runs one vigilo node of a cluster (docs/CLUSTER.md): the
// node's store, whose every commit is a proposal to the replicated log
// (package raftlog, over HTTP between the nodes), the engine while this node
// leads the log, and the API listener, which forwards each request to the
// leader while this node does not.
//
// A ping the leader answers 2xx is in the synced log of a quorum of nodes
// and applied on the leader. When the leader dies, another node wins the
// election, applies what was committed, opens the engine on its store
// (which re-arms every check's deadline) and takes the traffic; the
// outbox's notifications replay with their Idempotency-Keys.
//
// What is built is the first step: the whole state is one raft group, so
// one node at a time runs every check. The 64 virtual shards spread over
// the nodes (placement, per-shard ownership, gathering lists from every
// shard), joining an empty node, snapshots and log compaction are not
// built yet (README, "Not built").
package cluster
