package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// errNotHolding: this node no longer holds the state it was asked to act on.
var errNotHolding = errors.New("cluster: this node no longer holds the state")

// fence is the engine's NotifyFence while it holds term: an alert goes out
// only after a quorum has confirmed, since the call, that this node still
// leads in that term. Without it, a leader cut off from the others would go
// on delivering pending notifications for up to an election timeout after
// its successor started delivering them too.
//
// Confirmations are shared: the calls that arrive while one round is out
// wait for the next, which starts when it returns, so a burst of alerts
// costs two rounds, not one each. A round started before a call cannot
// answer it: its heartbeat may predate the loss.
type fence struct {
	n     *Node
	shard uint32
	term  uint64

	mu      sync.Mutex
	next    *fenceRound // collecting callers, not started
	running bool
}

type fenceRound struct {
	done chan struct{}
	err  error
}

func (f *fence) check(ctx context.Context) error {
	if f.n.raft.HoldingTerm(f.shard) != f.term {
		return errNotHolding
	}
	f.mu.Lock()
	if f.next == nil {
		f.next = &fenceRound{done: make(chan struct{})}
	}
	r := f.next
	var start *fenceRound
	if !f.running {
		start = f.takeLocked()
	}
	f.mu.Unlock()
	if start != nil {
		f.send(start)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if r.err != nil {
		return r.err
	}
	if f.n.raft.HoldingTerm(f.shard) != f.term {
		return errNotHolding
	}
	return nil
}

// takeLocked marks the collecting round as the one out.
func (f *fence) takeLocked() *fenceRound {
	r := f.next
	f.next, f.running = nil, true
	return r
}

// send confirms the leadership for round r; its answer sends the next
// round, if callers came meanwhile. (Not under mu: ConfirmLeader may answer
// at once, on this goroutine.)
func (f *fence) send(r *fenceRound) {
	f.n.m.fenceRounds.Inc()
	f.n.raft.ConfirmLeader(f.shard, func(_ uint64, err error) {
		if err != nil {
			r.err = fmt.Errorf("%w: %v", errNotHolding, err)
		}
		close(r.done)
		f.mu.Lock()
		f.running = false
		var next *fenceRound
		if f.next != nil {
			next = f.takeLocked()
		}
		f.mu.Unlock()
		if next != nil {
			f.send(next)
		}
	})
}
