package raftlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/vigilo/vigilo/engine/store"
)

var (
	// ErrNotLeader: this node does not lead the shard (or stopped leading it
	// before the command was applied, which may still commit later: a
	// caller that retries may apply it twice).
	ErrNotLeader = errors.New("raftlog: not the shard's leader")
	// ErrSkipped: the command's entry committed out of sequence and was
	// applied as a no-op on every replica.
	ErrSkipped = errors.New("raftlog: entry skipped out of sequence")
	// ErrClosed: the node is closed.
	ErrClosed = errors.New("raftlog: closed")
	// ErrTooLarge: one command exceeds Options.MaxEntryBytes.
	ErrTooLarge = errors.New("raftlog: command larger than an entry")
	// ErrNotCaughtUp is a leadership transfer refused because its target
	// is not a voter that answered lately and is near the leader's log.
	ErrNotCaughtUp = errors.New("raftlog: the node is not a caught-up voter")
	// ErrWouldLoseQuorum is a removal refused because the voters left
	// that answered lately would be fewer than their quorum: the shard
	// would stop taking writes (etcd's strict reconfiguration check).
	ErrWouldLoseQuorum = errors.New("raftlog: removing the node would leave fewer live voters than a quorum")
)

// An Envelope is one raft message of one shard.
type Envelope struct {
	Shard uint32
	Msg   *pb.Message
}

// Transport carries a loop iteration's messages to other nodes. Send must
// not block and may drop messages: raft retransmits. It must not keep msgs
// past the call unless it copies them.
type Transport interface {
	Send(to uint64, msgs []Envelope)
}

// DoneFunc learns a proposal's fate: the index of the entry that applied
// it on this node, or why it did not (ErrNotLeader, ErrSkipped, ErrClosed,
// the ApplyFunc's error). It runs on the node's loop and must not block.
type DoneFunc func(index uint64, err error)

type proposal struct {
	shard uint32
	cmd   []byte
	done  DoneFunc
	// cc, when set, makes this a membership change instead of a command;
	// transfer, when set, a leadership transfer to that node.
	cc       *pb.ConfChangeV2
	transfer uint64
	// probe, with transfer, only asks whether that node could take the
	// leadership now (TransferReady).
	probe bool
	// read, when set, makes this a leadership confirmation (ReadIndex).
	read bool
}

// Node is this node's replica of every shard: one etcd raft RawNode each,
// all driven by one loop goroutine, which writes the log appends, hard
// states and applied commands of all of them as one synced batch per
// iteration, and only then sends their messages and completes proposals.
type Node struct {
	o      Options
	m      *Metrics
	shards []*shard
	inbox  chan Envelope
	// props is the proposals waiting for the loop, appended under propMu:
	// Propose never blocks, since it is also called from DoneFuncs, on the
	// loop itself (a store commit's callback that commits again).
	propMu sync.Mutex
	props  []proposal
	wake   chan struct{} // cap 1: props has something
	ticks  chan chan struct{}
	// tickCount counts the loop's ticks (the loop's alone).
	tickCount uint64
	stop      chan struct{}
	done      chan struct{}
	// stopOnce guards stop; closed tells Propose and Deliver to give up.
	stopOnce sync.Once
	closed   atomic.Bool
	// err is the loop's fatal error (a failed commit), once it has one.
	errMu sync.Mutex
	err   error

	// The views held for followers to fetch (snapshot.go).
	viewMu      sync.Mutex
	viewsIdle   *sync.Cond // a view was released
	views       []*heldView
	viewsClosed bool
	// The snapshot states being fetched (one per shard at a time), and
	// those fetched whose message the loop has not installed yet.
	fetchMu      sync.Mutex
	fetching     map[uint32]bool
	fetched      map[fetchKey]*store.StateLoad
	fetchStopped bool
	fetchCtx     context.Context
	fetchCancel  context.CancelFunc
	fetchWG      sync.WaitGroup
}

type shard struct {
	id  uint32
	log *shardLog
	rn  *raft.RawNode

	lead      atomic.Uint64 // read by Leader from any goroutine
	holding   atomic.Uint64 // the term in which it became ready while it is, for HoldingTerm
	appliedAt atomic.Uint64 // applied, for Applied
	applied   uint64
	// durableApplied, durableSeq and durableCS are applied, lastSeq and
	// the conf state as of the last committed batch: what the store holds,
	// so what a snapshot taken now is of.
	durableApplied, durableSeq uint64
	durableCS                  *pb.ConfState
	lastSeq                    uint64 // the state machine's position: the last applied entry's sequence number
	leading                    uint64 // the term this node leads in; 0 while it does not
	ready                      bool   // leading, and its term's first entry is applied: nextSeq is known
	nextSeq                    uint64
	queued                     []proposal
	inflight                   map[uint64][]proposal // by sequence number, proposed in term leading
	posDirty                   bool
	completed                  []completion
	// ccToken numbers this node's membership changes; ccWait is the one
	// in flight (raft takes one at a time), completed when it applies.
	ccToken uint64
	ccWait  *proposal
	// ccQueued is membership changes that came before the new leader was
	// ready, proposed once it is.
	ccQueued []proposal
	// confApplied: a membership change was applied in this iteration's
	// apply batch, which then goes in one batch with the log's.
	confApplied bool
	// reads is the ReadIndex requests raft has not answered, by context.
	reads   map[string]proposal
	readSeq uint64
	// heard is, while leading, the tick at which raft last counted each
	// follower as recently active. Raft clears that mark at every
	// election timeout and sets it again at the next answer, so that a
	// look at the mark alone would, just after a clearing, take live
	// followers for dead ones.
	heard map[uint64]uint64
}

type completion struct {
	p     proposal
	index uint64
	err   error
}

// Open starts the node's loop over the shards' stored logs, bootstrapping
// the ones it has none of.
func Open(o Options) (*Node, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("raftlog: register metrics: %w", err)
	}
	n := &Node{
		o: o, m: m,
		inbox: make(chan Envelope, o.Inbox),
		wake:  make(chan struct{}, 1),
		ticks: make(chan chan struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),

		fetching: map[uint32]bool{},
		fetched:  map[fetchKey]*store.StateLoad{},
	}
	n.viewsIdle = sync.NewCond(&n.viewMu)
	n.fetchCtx, n.fetchCancel = context.WithCancel(context.Background())
	boot := o.Store.NewBatch()
	for i := range o.Shards {
		s, err := n.openShard(uint32(i), boot)
		if err != nil {
			boot.Discard()
			return nil, fmt.Errorf("raftlog: open shard %d: %w", i, err)
		}
		n.shards = append(n.shards, s)
	}
	if err := o.Store.CommitLocal(boot); err != nil {
		return nil, fmt.Errorf("raftlog: bootstrap: %w", err)
	}
	go n.run()
	return n, nil
}

// quietRaft keeps etcd raft's chatter out of the node's log; its panics
// (broken invariants) still panic.
var quietRaft = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

func (n *Node) openShard(id uint32, boot *store.Batch) (*shard, error) {
	peers := n.o.Peers
	if n.o.Join {
		peers = nil // the leader sends the bootstrap snapshot
	}
	l, err := openShardLog(n.o.Store, id, peers, boot)
	if err != nil {
		return nil, err
	}
	s := &shard{id: id, log: l, inflight: map[uint64][]proposal{}, reads: map[string]proposal{}}
	pos, err := n.o.Store.RaftApplied(id)
	if err != nil {
		return nil, err
	}
	s.applied = l.snapIndex
	if pos != nil {
		if len(pos) != 16 {
			return nil, fmt.Errorf("applied position of %d bytes", len(pos))
		}
		s.applied, s.lastSeq = binary.BigEndian.Uint64(pos), binary.BigEndian.Uint64(pos[8:])
	}
	if finished, err := n.finishInstall(s, boot); err != nil {
		return nil, fmt.Errorf("finish a snapshot's install: %w", err)
	} else if finished {
		n.o.Logger.Info("raft snapshot: finished an install cut by a restart", "shard", id, "index", s.applied)
	}
	if s.applied > l.hs.GetCommit() && s.applied <= l.lastIndex() {
		// The applies are written before the hard state that recorded
		// their commit (handleReadies), and a crash can keep the first
		// and lose the second. What was applied was committed; raft
		// refuses an applied index past the commit it is given.
		l.hs.Commit = new(s.applied)
	}
	s.durableApplied, s.durableSeq, s.durableCS = s.applied, s.lastSeq, l.cs
	s.appliedAt.Store(s.applied)
	if n.o.CompactEvery >= 0 {
		l.snap = func() (*pb.Snapshot, error) { return n.snapshot(s) }
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:            n.o.ID,
		ElectionTick:  n.o.ElectionTicks,
		HeartbeatTick: n.o.HeartbeatTicks,
		Storage:       l,
		Applied:       s.applied,
		// Appends stay small whatever an entry may hold, so a peer catching
		// up is sent many bodies it can take, not a few it cannot.
		MaxSizePerMsg:    1 << 20,
		MaxInflightMsgs:  256,
		MaxInflightBytes: 32 << 20,
		// A leader that removes itself steps down (otherwise it keeps
		// leading and drops every proposal).
		StepDownOnRemoval:         true,
		MaxUncommittedEntriesSize: 64 << 20,
		// A leader that hears from no quorum steps down, so a partitioned
		// minority stops taking writes within an election timeout.
		CheckQuorum: true,
		// A node back from a partition does not depose a working leader.
		PreVote: true,
		// Proposals go to the leader only, so a proposal's sequence number
		// is always assigned by the node that appends it.
		DisableProposalForwarding: true,
		Logger:                    quietRaft,
	})
	if err != nil {
		return nil, err
	}
	s.rn = rn
	return s, nil
}

// Leader is the shard's leader as this node last knew it; 0 when unknown.
func (n *Node) Leader(shard uint32) uint64 {
	if int(shard) >= len(n.shards) {
		return 0
	}
	return n.shards[shard].lead.Load()
}

// Holds says whether this node leads the shard and has applied everything
// its predecessors committed: its store then holds the shard's whole state,
// and proposals are taken.
func (n *Node) Holds(shard uint32) bool { return n.HoldingTerm(shard) != 0 }

// HoldingTerm is the raft term of this node's current holding of the shard
// (see Holds), or 0 while it does not hold it: a holder that lost the shard
// and won it back between two looks has another term.
func (n *Node) HoldingTerm(shard uint32) uint64 {
	if int(shard) >= len(n.shards) {
		return 0
	}
	return n.shards[shard].holding.Load()
}

// Applied is the index of the shard's last entry applied on this node (0
// before the first): beside the leader's, how far behind this replica is.
func (n *Node) Applied(shard uint32) uint64 {
	if int(shard) >= len(n.shards) {
		return 0
	}
	return n.shards[shard].appliedAt.Load()
}

// Shards is the number of shards.
func (n *Node) Shards() int { return len(n.shards) }

// Metrics are the node's metrics, registered on Options.Registry.
func (n *Node) Metrics() *Metrics { return n.m }

// Err is the loop's fatal error, if it stopped on one.
func (n *Node) Err() error {
	n.errMu.Lock()
	defer n.errMu.Unlock()
	return n.err
}

// Propose replicates cmd through the shard's log and applies it on every
// replica; done learns the outcome. Commands proposed to one shard apply in
// the order Propose was called.
func (n *Node) Propose(shard uint32, cmd []byte, done DoneFunc) {
	if len(cmd)+entryHeaderLen+binary.MaxVarintLen64 > n.o.MaxEntryBytes {
		done(0, ErrTooLarge)
		return
	}
	n.enqueue(proposal{shard: shard, cmd: cmd, done: done})
}

func (n *Node) enqueue(p proposal) {
	if int(p.shard) >= len(n.shards) {
		p.done(0, fmt.Errorf("raftlog: no shard %d", p.shard))
		return
	}
	n.propMu.Lock()
	if n.closed.Load() {
		n.propMu.Unlock()
		p.done(0, ErrClosed)
		return
	}
	n.props = append(n.props, p)
	n.propMu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// takeProposals queues what Propose added on the shards.
func (n *Node) takeProposals() {
	n.propMu.Lock()
	props := n.props
	n.props = nil
	n.propMu.Unlock()
	for _, p := range props {
		n.queue(p)
	}
}

// Deliver hands messages from another node to the loop; those that do not
// fit its inbox are dropped.
func (n *Node) Deliver(envs []Envelope) {
	if n.closed.Load() {
		return
	}
	for _, e := range envs {
		if int(e.Shard) >= len(n.shards) {
			continue
		}
		if e.Msg.GetType() == pb.MessageType_MsgSnap && len(e.Msg.GetSnapshot().GetData()) > 0 {
			n.deliverSnapshot(e)
			continue
		}
		n.toInbox(e)
	}
}

func (n *Node) toInbox(e Envelope) {
	select {
	case n.inbox <- e:
	default:
		n.m.InboxDropped.Inc()
	}
}

// Tick advances every shard's clock by one tick and returns once the loop
// has handled it and everything it caused on this node. For ManualTick.
func (n *Node) Tick() {
	req := make(chan struct{})
	select {
	case n.ticks <- req:
		<-req
	case <-n.done:
	}
}

// Close stops the loop; pending proposals fail with ErrClosed. It does not
// close the store.
func (n *Node) Close() {
	n.closed.Store(true)
	n.stopOnce.Do(func() { close(n.stop) })
	<-n.done
	n.stopFetches()
	n.closeViews()
}

func (n *Node) run() {
	defer close(n.done)
	var tick <-chan time.Time
	if !n.o.ManualTick {
		t := time.NewTicker(n.o.Tick)
		defer t.Stop()
		tick = t.C
	}
	defer n.failAll(ErrClosed)
	for {
		var req chan struct{}
		select {
		case <-n.stop:
			return
		case <-tick:
			n.tick()
		case req = <-n.ticks:
			n.tick()
		case e := <-n.inbox:
			n.step(e)
		case <-n.wake:
		}
		n.drain()
		err := n.process()
		if req != nil {
			close(req)
		}
		if err != nil {
			n.errMu.Lock()
			n.err = err
			n.errMu.Unlock()
			n.o.Logger.Error("raft loop stopped", "err", err)
			n.failAll(fmt.Errorf("raftlog: the loop stopped: %w", err))
			return
		}
	}
}

func (n *Node) tick() {
	n.expireViews(time.Now())
	var lag, entries, bytes uint64
	n.tickCount++
	for _, s := range n.shards {
		entries += uint64(len(s.log.terms))
		bytes += s.log.bytes
		var promote uint64
		if s.leading != 0 {
			// Before raft's tick, which may clear the marks.
			last := s.log.lastIndex()
			s.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
				if id != n.o.ID && last > pr.Match {
					lag = max(lag, last-pr.Match)
				}
				if pr.RecentActive {
					if s.heard == nil {
						s.heard = map[uint64]uint64{}
					}
					s.heard[id] = n.tickCount
				}
				if pr.IsLearner && pr.RecentActive && pr.Match+transferLag >= last {
					promote = id
				}
			})
		}
		s.rn.Tick()
		if promote != 0 && s.ready && s.ccWait == nil && len(s.ccQueued) == 0 {
			n.promote(s, promote)
		}
	}
	n.m.ReplicationLag.Set(float64(lag))
	n.m.LogEntries.Set(float64(entries))
	n.m.LogBytes.Set(float64(bytes))
}

func (n *Node) step(e Envelope) {
	// Errors are raft refusing a message (stale term, proposal to a
	// follower): nothing to do but drop it.
	_ = n.shards[e.Shard].rn.Step(e.Msg)
}

func (n *Node) queue(p proposal) {
	s := n.shards[p.shard]
	switch {
	case p.transfer != 0:
		if s.leading == 0 {
			p.done(0, ErrNotLeader)
			return
		}
		// Raft stops taking proposals while a transfer waits for its
		// target to catch up, up to an election timeout: to a node that is
		// down or far behind, that is a second of failed writes for
		// nothing.
		pr, ok := s.rn.Status().Progress[p.transfer]
		if !ok || pr.IsLearner || !pr.RecentActive || pr.Match+transferLag < s.log.lastIndex() {
			p.done(0, ErrNotCaughtUp)
			return
		}
		if !p.probe {
			s.rn.TransferLeader(p.transfer)
		}
		p.done(0, nil)
	case p.cc != nil:
		n.proposeConfChange(s, p)
	case p.read:
		if s.leading == 0 {
			p.done(0, ErrNotLeader)
			return
		}
		s.readSeq++
		rctx := string(binary.BigEndian.AppendUint64(nil, s.readSeq))
		s.reads[rctx] = p
		s.rn.ReadIndex([]byte(rctx))
	default:
		s.queued = append(s.queued, p)
	}
}

// ErrChangeInFlight: the shard has a membership change not yet applied.
var ErrChangeInFlight = errors.New("raftlog: another membership change is in flight")

// proposeConfChange proposes p's change, its context prefixed with a token
// by which its application is recognised here.
func (n *Node) proposeConfChange(s *shard, p proposal) {
	switch {
	case s.leading == 0:
		p.done(0, ErrNotLeader)
		return
	case !s.ready:
		s.ccQueued = append(s.ccQueued, p)
		return
	case s.ccWait != nil:
		p.done(0, ErrChangeInFlight)
		return
	case addsVoterAsLearner(s.log.cs, p.cc):
		// A joiner that restarted asks again: made a learner, a voter
		// would be demoted.
		p.done(0, nil)
		return
	case !keepsQuorum(s.rn.Status(), p.cc, func(id uint64, pr tracker.Progress) bool {
		at, ok := s.heard[id]
		return id == n.o.ID || pr.RecentActive || ok && n.tickCount-at <= uint64(n.o.ElectionTicks)
	}):
		p.done(0, ErrWouldLoseQuorum)
		return
	}
	s.ccToken++
	token := s.ccToken<<16 | n.o.ID&0xffff
	cc := proto.Clone(p.cc).(*pb.ConfChangeV2)
	cc.Context = append(binary.BigEndian.AppendUint64(nil, token), p.cc.GetContext()...)
	if err := s.rn.ProposeConfChange(cc); err != nil {
		p.done(0, fmt.Errorf("%w: %v", ErrNotLeader, err))
		return
	}
	p.cc = cc
	s.ccWait = &p
}

// ProposeConfChange changes the shard's membership (adds or removes nodes)
// through its log; done learns when the change is applied here. The
// change's Context reaches Options.OnConfChange on every replica.
func (n *Node) ProposeConfChange(shard uint32, cc *pb.ConfChangeV2, done DoneFunc) {
	n.enqueue(proposal{shard: shard, cc: cc, done: done})
}

// transferLag is how far behind the leader's log a transfer's target may
// be: what is in flight under load, caught up in milliseconds.
const transferLag = 1000

// TransferLeader asks the shard's leader, if this node is it, to hand the
// leadership to node to (which must be a caught-up voter that answered
// lately, else ErrNotCaughtUp); done learns whether the request was made,
// not whether it succeeded: watch Leader.
func (n *Node) TransferLeader(shard uint32, to uint64, done DoneFunc) {
	n.enqueue(proposal{shard: shard, transfer: to, done: done})
}

// TransferReady learns whether TransferLeader(shard, to) would be taken
// now (nil) or refused (ErrNotLeader, ErrNotCaughtUp), without asking for
// it: a caller that must prepare for a handover (drain its requests) asks
// first.
func (n *Node) TransferReady(shard uint32, to uint64, done DoneFunc) {
	n.enqueue(proposal{shard: shard, transfer: to, probe: true, done: done})
}

// ConfirmLeader learns whether this node still leads the shard: done gets
// the shard's commit index once a quorum has answered a heartbeat sent
// after the call (raft's ReadIndex), or ErrNotLeader. Until that, no other
// node can have been elected: an old leader that checks this before an
// action with effects outside the cluster (an alert) cannot act after its
// successor has taken over, except for the time the action itself takes.
func (n *Node) ConfirmLeader(shard uint32, done DoneFunc) {
	n.enqueue(proposal{shard: shard, read: true, done: done})
}

// drain takes what else is waiting, so that one iteration handles it all.
func (n *Node) drain() {
	for range 4 * n.o.Inbox {
		select {
		case e := <-n.inbox:
			n.step(e)
		default:
			return
		}
	}
}

// process proposes what is queued and handles every shard's Ready until
// none has one.
func (n *Node) process() error {
	for {
		// Again after each pass: applying a new leader's first entry
		// releases the commands queued behind it, and a completed
		// proposal's DoneFunc may have proposed again.
		n.takeProposals()
		n.propose()
		handled, err := n.handleReadies()
		if err != nil || !handled {
			return err
		}
	}
}

// propose merges each ready shard's queued commands into entries.
func (n *Node) propose() {
	for _, s := range n.shards {
		if s.ready && len(s.ccQueued) > 0 {
			q := s.ccQueued
			s.ccQueued = nil
			for _, p := range q {
				n.proposeConfChange(s, p)
			}
		}
		if len(s.queued) == 0 {
			continue
		}
		if s.leading == 0 {
			for _, p := range s.queued {
				n.m.Proposals.WithLabelValues("not_leader").Inc()
				p.done(0, ErrNotLeader)
			}
			s.queued = s.queued[:0]
			continue
		}
		if !s.ready {
			continue // until its term's first entry is applied
		}
		for len(s.queued) > 0 {
			size, k := entryHeaderLen, 0
			for k < len(s.queued) && (k == 0 || size+binary.MaxVarintLen64+len(s.queued[k].cmd) <= n.o.MaxEntryBytes) {
				size += binary.MaxVarintLen64 + len(s.queued[k].cmd)
				k++
			}
			group := s.queued[:k:k]
			cmds := make([][]byte, k)
			for i, p := range group {
				cmds[i] = p.cmd
			}
			seq := s.nextSeq
			if err := s.rn.Propose(encodeEntry(s.leading, seq, cmds)); err != nil {
				// Not appended (leadership is being transferred, or the
				// uncommitted log is full): the sequence number stays free.
				for _, p := range group {
					n.m.Proposals.WithLabelValues("not_leader").Inc()
					p.done(0, fmt.Errorf("%w: %v", ErrNotLeader, err))
				}
			} else {
				s.inflight[seq] = group
				s.nextSeq++
			}
			s.queued = s.queued[k:]
		}
		s.queued = nil
	}
}

type readyShard struct {
	s  *shard
	rd raft.Ready
	// prevTerm and prevVote are the hard state's before this Ready.
	prevTerm, prevVote uint64
}

// handleReadies handles every shard's Ready: their log appends, hard
// states and snapshots go in one batch, synced when raft needs it (new
// entries, a vote, a term, a snapshot); their applies in another, applied
// first without a sync, so that the proposals they complete are answered
// while the appends that came with them are being synced. The applied
// entries were synced before, on a quorum (this leader's own write
// included: raft counts it at Advance), so a crash loses nothing a restart
// cannot redo from the log. A Ready whose applies reach into its own
// appends (a follower told of a commit with the entries), or that installs
// a snapshot, is written as one batch, appends first.
//
// A leader's messages (appends, heartbeats) leave before its own write: it
// counts itself towards a commit only once that write is done, so its
// fsync overlaps its followers' (etcd's server does the same). Every other
// message waits for the write: votes and append answers promise what is on
// disk.
func (n *Node) handleReadies() (bool, error) {
	var readies []readyShard
	logB, applyB := n.o.Store.NewBatch(), n.o.Store.NewBatch()
	discard := func() {
		logB.Discard()
		if applyB != nil {
			applyB.Discard()
		}
	}
	split := true
	for _, s := range n.shards {
		if !s.rn.HasReady() {
			continue
		}
		rd := s.rn.Ready()
		prevTerm, prevVote := s.log.hs.GetTerm(), s.log.hs.GetVote()
		if err := n.persist(s, rd, logB); err != nil {
			discard()
			return false, fmt.Errorf("shard %d: %w", s.id, err)
		}
		if !raft.IsEmptySnap(rd.Snapshot) || overlaps(rd) {
			split = false
		}
		if err := n.apply(s, rd.CommittedEntries, applyB); err != nil {
			discard()
			return false, fmt.Errorf("shard %d: %w", s.id, err)
		}
		if s.confApplied {
			// Its state record (conf state, and the hard state persist
			// just took, commit included) is in the apply batch: written
			// apart, it could outlive the log batch whose entries that
			// commit counts, or a cut's record written before it.
			split, s.confApplied = false, false
		}
		readies = append(readies, readyShard{s, rd, prevTerm, prevVote})
	}
	if len(readies) == 0 {
		discard()
		return false, nil
	}
	if !split {
		if err := logB.Append(applyB); err != nil {
			discard()
			return false, fmt.Errorf("merge raft batches: %w", err)
		}
		applyB.Discard()
		applyB = nil
	}
	posB := applyB
	if posB == nil {
		posB = logB
	}
	for _, r := range readies {
		// Into the log batch, after everything else: a cut's state record
		// must be the last one written.
		n.maybeCompact(r.s, logB)
		if r.s.posDirty {
			pos := binary.BigEndian.AppendUint64(nil, r.s.applied)
			posB.PutRaftApplied(r.s.id, binary.BigEndian.AppendUint64(pos, r.s.lastSeq))
			r.s.posDirty = false
		}
	}
	var later []readyShard
	early := map[uint64][]Envelope{}
	for _, r := range readies {
		hs := r.rd.HardState
		termKept := raft.IsEmptyHardState(hs) || hs.GetTerm() == r.prevTerm && hs.GetVote() == r.prevVote
		if r.s.leading != 0 && termKept {
			for _, m := range r.rd.Messages {
				early[m.GetTo()] = append(early[m.GetTo()], Envelope{Shard: r.s.id, Msg: m})
			}
		} else {
			later = append(later, r)
		}
	}
	for to, envs := range early {
		n.o.Transport.Send(to, envs)
	}
	if applyB != nil {
		if err := n.commit(applyB, false); err != nil {
			logB.Discard()
			return false, err
		}
		n.applied(readies)
		n.complete(readies)
	}
	if err := n.commit(logB, mustSync(readies)); err != nil {
		return false, err
	}
	if applyB == nil {
		n.applied(readies)
	}
	// Durable: now the votes and appends' answers may leave.
	byNode := map[uint64][]Envelope{}
	for _, r := range later {
		for _, m := range r.rd.Messages {
			byNode[m.GetTo()] = append(byNode[m.GetTo()], Envelope{Shard: r.s.id, Msg: m})
		}
	}
	for to, envs := range byNode {
		n.o.Transport.Send(to, envs)
	}
	// A snapshot is done once sent: its state is fetched from a view the
	// follower may not reach, and if that fails the follower rejects the
	// next append and is sent another, where a leader waiting for a report
	// would stop replicating to it for good.
	for _, r := range readies {
		for _, m := range r.rd.Messages {
			if m.GetType() == pb.MessageType_MsgSnap {
				r.s.rn.ReportSnapshot(m.GetTo(), raft.SnapshotFinish)
			}
		}
	}
	n.complete(readies)
	for _, r := range readies {
		r.s.rn.Advance(r.rd)
	}
	return true, nil
}

// commit writes b: synced, or applied to be synced by a later write.
func (n *Node) commit(b *store.Batch, sync bool) error {
	if b.Len() == 0 {
		b.Discard()
		return nil
	}
	commit := n.o.Store.ApplyLocal
	if sync {
		commit = n.o.Store.CommitLocal
		n.m.Commits.Inc()
	}
	if err := commit(b); err != nil {
		return fmt.Errorf("commit raft batch: %w", err)
	}
	return nil
}

// applied records what the store now holds, once the applies are written.
func (n *Node) applied(readies []readyShard) {
	for _, r := range readies {
		s := r.s
		s.durableApplied, s.durableSeq, s.durableCS = s.applied, s.lastSeq, s.log.cs
		if !raft.IsEmptySnap(r.rd.Snapshot) || len(r.rd.CommittedEntries) > 0 {
			n.dropFetched(s.id, s.applied)
		}
		if len(r.rd.Snapshot.GetData()) > 0 && n.o.OnInstall != nil {
			n.o.OnInstall(s.id)
		}
	}
}

// complete answers the proposals and leadership confirmations decided.
func (n *Node) complete(readies []readyShard) {
	for i := range readies {
		r := &readies[i]
		for _, rs := range r.rd.ReadStates {
			if p, ok := r.s.reads[string(rs.RequestCtx)]; ok {
				delete(r.s.reads, string(rs.RequestCtx))
				p.done(rs.Index, nil)
			}
		}
		r.rd.ReadStates = nil
		for _, c := range r.s.completed {
			c.p.done(c.index, c.err)
		}
		r.s.completed = r.s.completed[:0]
	}
}

// overlaps says whether rd applies entries it also appends.
func overlaps(rd raft.Ready) bool {
	if len(rd.Entries) == 0 || len(rd.CommittedEntries) == 0 {
		return false
	}
	return rd.CommittedEntries[len(rd.CommittedEntries)-1].GetIndex() >= rd.Entries[0].GetIndex()
}

// persist adds rd's hard state and entries to b, and follows leadership.
func (n *Node) persist(s *shard, rd raft.Ready, b *store.Batch) error {
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := n.installSnapshot(s, rd.Snapshot, b); err != nil {
			return err
		}
	}
	if err := s.log.append(b, rd.Entries); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		s.log.hs = proto.Clone(rd.HardState).(*pb.HardState)
		if err := s.log.saveState(b); err != nil {
			return err
		}
	}
	if rd.SoftState != nil {
		n.follow(s, rd.SoftState)
	}
	if s.leading != 0 && !raft.IsEmptyHardState(rd.HardState) && rd.HardState.GetTerm() != s.leading {
		// Leading in a later term with no soft state between (no path to
		// it is known): a new holding, as if lost and won again, so that
		// nothing is numbered or completed under the old term.
		n.failShard(s, ErrNotLeader)
		s.leading, s.ready = rd.HardState.GetTerm(), false
		s.holding.Store(0)
	}
	return nil
}

// follow tracks the shard's leader: a node that starts leading waits for
// its term's first entry before it numbers proposals; one that stops fails
// what it had in flight (which may still commit under the next leader).
func (n *Node) follow(s *shard, ss *raft.SoftState) {
	lead := ss.Lead
	if ss.RaftState == raft.StatePreCandidate || ss.RaftState == raft.StateCandidate {
		// Raft keeps the last leader it heard from while it campaigns;
		// for Leader, a node that campaigns knows of none (it has not
		// heard from one for an election timeout).
		lead = 0
	}
	if old := s.lead.Swap(lead); old != lead {
		n.m.LeaderChanges.Inc()
	}
	isLeader := ss.RaftState == raft.StateLeader
	switch {
	case isLeader && s.leading == 0:
		s.leading, s.ready = s.rn.BasicStatus().GetTerm(), false
		n.m.ShardsLed.Inc()
	case !isLeader && s.leading != 0:
		s.leading, s.ready = 0, false
		s.holding.Store(0)
		n.m.ShardsLed.Dec()
		n.failShard(s, ErrNotLeader)
	}
}

func (n *Node) failShard(s *shard, err error) {
	failed := 0
	for seq, group := range s.inflight {
		for _, p := range group {
			s.completed = append(s.completed, completion{p: p, err: err})
		}
		failed += len(group)
		delete(s.inflight, seq)
	}
	for _, p := range s.queued {
		s.completed = append(s.completed, completion{p: p, err: err})
	}
	failed += len(s.queued)
	s.queued = nil
	if w := s.ccWait; w != nil {
		s.completed = append(s.completed, completion{p: *w, err: err})
		s.ccWait = nil
		failed++
	}
	for _, p := range s.ccQueued {
		s.completed = append(s.completed, completion{p: p, err: err})
	}
	failed += len(s.ccQueued)
	s.ccQueued = nil
	for k, p := range s.reads {
		s.completed = append(s.completed, completion{p: p, err: err})
		delete(s.reads, k)
	}
	result := "not_leader"
	if errors.Is(err, ErrClosed) {
		result = "closed"
	}
	n.m.Proposals.WithLabelValues(result).Add(float64(failed))
}

// apply adds the committed entries' commands to b, in order.
func (n *Node) apply(s *shard, ents []*pb.Entry, b *store.Batch) error {
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= s.applied {
			continue // applied before a restart
		}
		switch e.GetType() {
		case pb.EntryNormal:
			n.applyNormal(s, e, b)
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			var cc interface {
				proto.Message
				pb.ConfChangeI
			} = new(pb.ConfChange)
			if e.GetType() == pb.EntryConfChangeV2 {
				cc = new(pb.ConfChangeV2)
			}
			if err := proto.Unmarshal(e.GetData(), cc); err != nil {
				return fmt.Errorf("entry %d: conf change: %w", idx, err)
			}
			s.log.cs = proto.Clone(s.rn.ApplyConfChange(cc)).(*pb.ConfState)
			if err := s.log.saveState(b); err != nil {
				return err
			}
			s.confApplied = true
			v2 := cc.AsV2()
			ctx := v2.GetContext()
			var token uint64
			if len(ctx) >= 8 {
				token, ctx = binary.BigEndian.Uint64(ctx), ctx[8:]
			}
			if n.o.OnConfChange != nil {
				n.o.OnConfChange(s.id, v2, ctx, b)
			}
			if w := s.ccWait; w != nil && token == binary.BigEndian.Uint64(w.cc.GetContext()) {
				s.completed = append(s.completed, completion{p: *w, index: idx})
				s.ccWait = nil
			}
		}
		s.applied, s.posDirty = idx, true
	}
	s.appliedAt.Store(s.applied)
	return nil
}

func (n *Node) applyNormal(s *shard, e *pb.Entry, b *store.Batch) {
	idx := e.GetIndex()
	if len(e.GetData()) == 0 {
		// A leader's first entry: everything before it is applied now.
		if s.leading != 0 && e.GetTerm() == s.leading && !s.ready {
			s.ready, s.nextSeq = true, s.lastSeq+1
			s.holding.Store(s.leading)
		}
		return
	}
	term, seq, cmds, err := decodeEntry(e.GetData())
	ours := s.leading != 0 && term == s.leading
	var group []proposal
	if ours {
		group = s.inflight[seq]
		delete(s.inflight, seq)
	}
	if err != nil || seq != s.lastSeq+1 {
		// Deterministic on every replica: the entry is a no-op.
		n.m.Skipped.Inc()
		if err == nil {
			err = ErrSkipped
		}
		for _, p := range group {
			n.m.Proposals.WithLabelValues("skipped").Inc()
			s.completed = append(s.completed, completion{p: p, index: idx, err: err})
		}
		return
	}
	s.lastSeq = seq
	for i, c := range cmds {
		err := n.o.Apply(s.id, idx, c, b)
		if i < len(group) {
			result := "applied"
			if err != nil {
				result = "rejected"
			}
			n.m.Proposals.WithLabelValues(result).Inc()
			s.completed = append(s.completed, completion{p: group[i], index: idx, err: err})
		}
	}
}

// failAll fails every pending proposal once the loop stops.
func (n *Node) failAll(err error) {
	n.closed.Store(true)
	for _, s := range n.shards {
		s.holding.Store(0)
		s.lead.Store(0)
		n.failShard(s, err)
		for _, c := range s.completed {
			if c.err == nil {
				// Recorded as applied in a batch the loop did not commit
				// (it stopped on that failure): not applied here.
				c.err = err
			}
			c.p.done(0, c.err)
		}
		s.completed = nil
	}
	n.propMu.Lock()
	props := n.props
	n.props = nil
	n.propMu.Unlock()
	for _, p := range props {
		p.done(0, err)
	}
}

// mustSync says whether an iteration's batch must be synced before its
// messages leave and its proposals complete: it appends entries, changes a
// term or vote, or installs a snapshot (raft.MustSync, and the snapshot).
func mustSync(readies []readyShard) bool {
	for _, r := range readies {
		if !raft.IsEmptySnap(r.rd.Snapshot) || len(r.rd.Entries) > 0 {
			return true
		}
		if hs := r.rd.HardState; !raft.IsEmptyHardState(hs) && (hs.GetTerm() != r.prevTerm || hs.GetVote() != r.prevVote) {
			return true
		}
	}
	return false
}

// keepsQuorum says whether the voters cc leaves, counting only the live
// ones (those that answered within about an election timeout, and the
// leader), are still a quorum of themselves. Only removals are checked: an
// addition that leaves a quorum short (a member added while another is
// down) is how a dead member is replaced, the new one catching up from a
// snapshot.
func keepsQuorum(st raft.Status, cc *pb.ConfChangeV2, live func(uint64, tracker.Progress) bool) bool {
	removed := map[uint64]bool{}
	for _, c := range cc.GetChanges() {
		if c.GetType() == pb.ConfChangeType_ConfChangeRemoveNode {
			removed[c.GetNodeId()] = true
		}
	}
	if len(removed) == 0 {
		return true
	}
	voters, alive := 0, 0
	for id, pr := range st.Progress {
		if pr.IsLearner || removed[id] {
			continue
		}
		voters++
		if live(id, pr) {
			alive++
		}
	}
	return voters > 0 && alive >= voters/2+1
}

// promote makes a learner that has caught up a voter. A node joins a shard
// as a learner (raft's advice): a voter that still has the whole log to
// fetch would count towards the quorum from the start, so that one more
// member down would stop the shard until the joiner caught up.
func (n *Node) promote(s *shard, id uint64) {
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode.Enum(), NodeId: &id}}}
	n.o.Logger.Info("a learner caught up: making it a voter", "shard", s.id, "node", id)
	n.proposeConfChange(s, proposal{shard: s.id, cc: cc, done: func(_ uint64, err error) {
		if err != nil {
			n.o.Logger.Warn("make a learner a voter", "shard", s.id, "node", id, "err", err)
		}
	}})
}

// addsVoterAsLearner says whether cc would make a learner of a node that
// cs has as a voter.
func addsVoterAsLearner(cs *pb.ConfState, cc *pb.ConfChangeV2) bool {
	for _, c := range cc.GetChanges() {
		if c.GetType() == pb.ConfChangeType_ConfChangeAddLearnerNode && slices.Contains(cs.GetVoters(), c.GetNodeId()) {
			return true
		}
	}
	return false
}
