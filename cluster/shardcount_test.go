package cluster

import (
	"strings"
	"testing"

	"github.com/vigilo/vigilo/engine"
)

// Started without a count, a node takes its data directory's: a restart
// needs no flag that could be given wrong.
func TestShardCountFromTheDataDirectory(t *testing.T) {
	o := Options{ID: 1, Peers: map[uint64]Peer{1: {Raft: freeAddr(t), API: freeAddr(t)}}, Shards: 5,
		Engine: engine.Options{DataDir: t.TempDir()}}
	n, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	o.Shards = 0
	if n, err = Open(o); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := len(n.hosts); got != 5 {
		t.Fatalf("reopened without a count: %d shards, want the directory's 5", got)
	}
	// A new directory takes the default.
	o.Engine.DataDir, o.Peers[1] = t.TempDir(), Peer{Raft: freeAddr(t), API: freeAddr(t)}
	m, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := len(m.hosts); got != DefaultShards {
		t.Fatalf("a new directory without a count: %d shards, want %d", got, DefaultShards)
	}
}

// An empty node joining without a count takes the cluster's, which a
// member tells it.
func TestJoinerLearnsTheShardCount(t *testing.T) {
	a := Peer{Raft: freeAddr(t), API: freeAddr(t)}
	first, err := Open(Options{ID: 1, Peers: map[uint64]Peer{1: a}, Shards: 3, Secret: "s",
		Engine: engine.Options{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	joiner, err := Open(Options{ID: 2, Peers: map[uint64]Peer{1: a, 2: {Raft: freeAddr(t), API: freeAddr(t)}},
		Join: true, Secret: "s", Engine: engine.Options{DataDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	defer joiner.Close()
	if got := len(joiner.hosts); got != 3 {
		t.Fatalf("the joiner runs %d shards, want the cluster's 3", got)
	}
}

// A single node's data started to join is refused for what it is, before
// any member is asked for a count (none answers here).
func TestJoinerWithSingleNodeDataIsRefusedFirst(t *testing.T) {
	dir := singleNodeDir(t)
	_, err := Open(Options{ID: 2, Peers: map[uint64]Peer{1: {Raft: freeAddr(t), API: freeAddr(t)}, 2: {Raft: freeAddr(t), API: freeAddr(t)}},
		Join: true, Engine: engine.Options{DataDir: dir}})
	if err == nil || !strings.Contains(err.Error(), "single node's data") {
		t.Fatalf("a single node's data started to join: %v", err)
	}
	// And a joiner given no member to ask is refused at once.
	_, err = Open(Options{ID: 2, Peers: map[uint64]Peer{2: {Raft: freeAddr(t), API: freeAddr(t)}}, Join: true,
		Engine: engine.Options{DataDir: t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), "needs a member") {
		t.Fatalf("a joiner with no member to ask: %v", err)
	}
}
