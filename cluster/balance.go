package cluster

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/vigilo/vigilo/cluster/raftlog"
)

// balance spreads the shards' leaderships over the members, every
// Options.Balance: a node that leads at least two shards more than the
// member that leads fewest hands one of its shards to it. So a node that
// joins, or comes back, takes its share once it has caught up, and the
// shards of a node that is gone are led by the others (raft's elections
// move them; this evens them out). Raft does the handing over
// (TransferLeader); a target that is not a caught-up voter is refused
// there, and the next one is tried.
func (n *Node) balance() {
	defer n.wg.Done()
	t := time.NewTicker(n.o.Balance)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		n.balanceOnce()
	}
}

func (n *Node) balanceOnce() {
	led := map[uint64]int{}
	for id := range n.Members() {
		led[id] = 0
	}
	var mine []uint32
	for _, h := range n.hosts {
		lead := n.raft.Leader(h.id)
		if lead == 0 {
			return // an election in progress: look again when it is over
		}
		led[lead]++
		if lead == n.o.ID && h.eng.Load() != nil {
			mine = append(mine, h.id)
		}
	}
	targets := make([]uint64, 0, len(led))
	for id := range led {
		if id != n.o.ID {
			targets = append(targets, id)
		}
	}
	slices.SortFunc(targets, func(a, b uint64) int { return cmp.Or(cmp.Compare(led[a], led[b]), cmp.Compare(a, b)) })
	for _, to := range targets {
		if len(mine)-led[to] < 2 {
			return
		}
		for _, s := range mine {
			err := n.handOver(s, to)
			if err == nil {
				n.m.transfers.Inc()
				n.log.Info("handing a shard's leadership over", "shard", s, "to", to)
				return
			}
			// Said at debug level: a target still catching up is
			// refused every round until it has.
			n.log.Debug("a shard's leadership not handed over", "shard", s, "to", to, "err", err)
			if !errors.Is(err, raftlog.ErrNotCaughtUp) {
				return
			}
		}
	}
}

// handOver hands shard's leadership to node to without failing a request:
// new requests for the shard wait (serveShard), those already in its
// engine finish, and only then is raft asked to transfer. A leader that
// transferred with proposals in flight would answer them 503 as it stepped
// down, though its successor commits them. Once the leadership has moved,
// the waiting requests go to the new leader; if it does not move within
// an election timeout, they are served here again.
func (n *Node) handOver(shard uint32, to uint64) error {
	h := n.hosts[shard]
	// Asked first: draining for a target raft then refuses (a dead member,
	// a joiner still catching up) would hold requests back for nothing.
	if err := n.raftCall(func(done raftlog.DoneFunc) { n.raft.TransferReady(shard, to, done) }); err != nil {
		return err
	}
	if !h.handing.CompareAndSwap(false, true) {
		return errors.New("cluster: a handover of this shard is under way")
	}
	defer h.handing.Store(false)
	h.draining.Store(true)
	defer h.draining.Store(false)
	for t0 := time.Now(); h.active.Load() > 0; {
		if time.Since(t0) > handOverDrain {
			return errors.New("cluster: requests did not drain for a handover")
		}
		time.Sleep(time.Millisecond)
	}
	if err := n.raftCall(func(done raftlog.DoneFunc) { n.raft.TransferLeader(shard, to, done) }); err != nil {
		return err
	}
	limit := time.Now().Add(time.Duration(max(n.o.ElectionTicks, raftlog.DefaultElectionTicks)) * n.o.Tick)
	// HoldingTerm, not Leader: it is cleared once this node has stepped
	// down, so watch cannot start the engine again after it is stopped.
	for n.raft.HoldingTerm(shard) != 0 && time.Now().Before(limit) {
		time.Sleep(n.o.Tick / 10)
	}
	if n.raft.HoldingTerm(shard) == 0 {
		// Moved: the engine goes now, while requests are still held back,
		// not at watch's next look, in which they would reach it and fail.
		n.stopEngine(h)
	}
	return nil
}

// raftCall makes one raftlog request and waits for its answer.
func (n *Node) raftCall(call func(raftlog.DoneFunc)) error {
	done := make(chan error, 1)
	call(func(_ uint64, err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-n.stop:
		return errNotHolding
	}
}

// handOverDrain bounds how long a handover waits for requests in the
// engine; a ping takes milliseconds.
const handOverDrain = time.Second
