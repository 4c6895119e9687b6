package raftlog

import (
	"errors"
	"fmt"
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
)

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
	// this node, send them the bootstrap snapshot and the log.
	Join bool
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
	}
	return nil
}
