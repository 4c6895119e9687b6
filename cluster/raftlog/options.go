package raftlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/vigilo/vigilo/engine/store"
)

// Defaults of Options.
const (
	DefaultShards         = 64
	DefaultTick           = 100 * time.Millisecond
	DefaultElectionTicks  = 10 // 1 s at the default tick
	DefaultHeartbeatTicks = 1
	DefaultInbox          = 4096
	DefaultMaxEntryBytes  = 1 << 20
	DefaultCompactEvery   = 10_000
	DefaultCompactKeep    = 5_000
	DefaultCompactBytes   = 64 << 20
)

// FetchFunc reads the state of a snapshot that node from sent for the
// shard at index (from's Node.OpenSnapshot, over the network) and hands it
// to read as a store state stream; an error from read is returned.
type FetchFunc func(ctx context.Context, from uint64, shard uint32, index uint64, read func(io.Reader) error) error

// ApplyFunc applies one replicated command to the state machine by adding
// its writes to b, which also carries the shard's new applied position and
// is committed once for the whole loop iteration. It runs on every replica
// in log order and must be deterministic: an error means the command has no
// effect anywhere (b must be left as it was) and its proposer gets the error.
type ApplyFunc func(shard uint32, index uint64, cmd []byte, b *store.Batch) error

// ApplyRepr is the default ApplyFunc: cmd is a store.Batch's Repr.
func ApplyRepr(_ uint32, _ uint64, cmd []byte, b *store.Batch) error {
	return b.AppendRepr(cmd)
}

// Options configure a Node. Zero values mean the documented default.
type Options struct {
	// ID is this node's raft id: non-zero and never reused by another node.
	ID uint64
	// Peers is every node's id, this one's included, the same on every node:
	// each shard bootstraps with all of them as voters.
	Peers []uint64
	// Shards is the number of raft groups; default 64. Fixed for a cluster's
	// life (resharding is not built).
	Shards int
	// Store is the node's Pebble store; required. The node writes its log
	// and applies commands there, and does not close it.
	Store *store.Store
	// Transport carries messages to the other nodes; required.
	Transport Transport
	// Apply applies commands; default ApplyRepr.
	Apply ApplyFunc
	// Join starts a node that is not among the bootstrap voters: its shards
	// stay empty until their leaders, once a membership change has added
	// this node, send them a snapshot and the log after it.
	Join bool
	// CompactEvery is how many entries are applied between two cuts of a
	// shard's log; default 10,000. Negative: the log is never cut, and a
	// joining node is sent the bootstrap snapshot and the whole log.
	CompactEvery int
	// CompactKeep is how many applied entries a cut leaves, for followers
	// a little behind to catch up from the log and not a snapshot; default
	// 5,000.
	CompactKeep int
	// CompactBytes also cuts a shard's log once it holds this many bytes,
	// and caps what a cut keeps at half of it; default 64 MiB.
	CompactBytes int
	// StateSpan is the keys of a shard's state machine, which its
	// snapshots carry and replace (a nil hi: to the end). Default: the whole
	// store outside the raft log, which only a node of one shard can use;
	// with more shards and compaction on it is required.
	StateSpan func(shard uint32) (lo, hi []byte)
	// FetchSnapshot fetches a snapshot's state from the leader that sent
	// it; required with compaction on.
	FetchSnapshot FetchFunc
	// OnInstall, if set, runs on the loop once a snapshot's state is
	// committed on this replica: what OnConfChange keeps in memory is to be
	// read again from the store, since the changes the snapshot covers
	// never pass through it here. It must not block.
	OnInstall func(shard uint32)
	// OnConfChange, if set, sees every membership change as it is applied
	// on this replica, with the Context it was proposed with, and may add
	// writes to b (the batch the change is applied in): for the node's
	// directory of peer addresses. It runs on the loop and must not block.
	OnConfChange func(shard uint32, cc *pb.ConfChangeV2, context []byte, b *store.Batch)
	// Tick is raft's logical clock period; default 100 ms.
	Tick time.Duration
	// ManualTick leaves ticking to Node.Tick (tests): no timer runs.
	ManualTick bool
	// ElectionTicks and HeartbeatTicks are raft's timeouts in ticks;
	// defaults 10 and 1. An election fires after ElectionTicks to twice that.
	ElectionTicks, HeartbeatTicks int
	// Inbox is how many inbound messages wait for the loop before more are
	// dropped (raft retransmits); default 4096.
	Inbox int
	// MaxEntryBytes caps the commands merged into one entry; default 1 MiB.
	MaxEntryBytes int
	// Logger gets the node's warnings; default slog.Default().
	Logger *slog.Logger
	// Registry gets the node's metrics; default a private registry.
	Registry prometheus.Registerer
}

// WithDefaults fills in every zero field but the required ones.
func (o Options) WithDefaults() Options {
	if o.Shards == 0 {
		o.Shards = DefaultShards
	}
	if o.Apply == nil {
		o.Apply = ApplyRepr
	}
	if o.Tick == 0 {
		o.Tick = DefaultTick
	}
	if o.ElectionTicks == 0 {
		o.ElectionTicks = DefaultElectionTicks
	}
	if o.HeartbeatTicks == 0 {
		o.HeartbeatTicks = DefaultHeartbeatTicks
	}
	if o.Inbox == 0 {
		o.Inbox = DefaultInbox
	}
	if o.MaxEntryBytes == 0 {
		o.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if o.CompactEvery == 0 {
		o.CompactEvery = DefaultCompactEvery
	}
	if o.CompactKeep == 0 {
		o.CompactKeep = DefaultCompactKeep
	}
	if o.CompactBytes == 0 {
		o.CompactBytes = DefaultCompactBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	return o
}

// Validate reports the first option that cannot work.
func (o Options) Validate() error {
	switch {
	case o.ID == 0:
		return errors.New("raftlog: ID is 0")
	case !slices.Contains(o.Peers, o.ID):
		return fmt.Errorf("raftlog: Peers %v leave out ID %d", o.Peers, o.ID)
	case slices.Contains(o.Peers, 0):
		return errors.New("raftlog: Peers include 0")
	case len(slices.Compact(slices.Sorted(slices.Values(o.Peers)))) != len(o.Peers):
		return fmt.Errorf("raftlog: Peers %v repeat an id", o.Peers)
	case o.Shards < 1 || o.Shards > 1<<16:
		return fmt.Errorf("raftlog: Shards %d outside [1, 65536]", o.Shards)
	case o.Store == nil:
		return errors.New("raftlog: no Store")
	case o.Transport == nil:
		return errors.New("raftlog: no Transport")
	case o.Tick < 0:
		return fmt.Errorf("raftlog: Tick %v is negative", o.Tick)
	case o.HeartbeatTicks < 1 || o.ElectionTicks <= o.HeartbeatTicks:
		return fmt.Errorf("raftlog: ElectionTicks %d must exceed HeartbeatTicks %d ≥ 1", o.ElectionTicks, o.HeartbeatTicks)
	case o.Inbox < 1:
		return fmt.Errorf("raftlog: Inbox %d is below 1", o.Inbox)
	case o.MaxEntryBytes < 1:
		return fmt.Errorf("raftlog: MaxEntryBytes %d is below 1", o.MaxEntryBytes)
	case o.CompactKeep < 0 || o.CompactBytes < 0:
		return fmt.Errorf("raftlog: CompactKeep %d or CompactBytes %d is negative", o.CompactKeep, o.CompactBytes)
	case o.CompactEvery >= 0 && o.Shards > 1 && o.StateSpan == nil:
		return fmt.Errorf("raftlog: %d shards compact only with a StateSpan each (or CompactEvery < 0)", o.Shards)
	case o.CompactEvery >= 0 && o.FetchSnapshot == nil:
		return errors.New("raftlog: compaction needs FetchSnapshot (or CompactEvery < 0)")
	}
	return nil
}
