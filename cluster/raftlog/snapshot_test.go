package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/vigilo/vigilo/engine/store"
)

// pingLog proposes pings 1..n to the shard-0 leader among alive, spread over
// checks (a check's log keeps only the last 100), and returns what each
// check must hold.
func (c *testCluster) pingLog(checks []uuid.UUID, from, to uint64, alive []uint64, want map[uuid.UUID]map[uint64]bool) {
	c.t.Helper()
	for n := from; n <= to; n++ {
		var lead uint64
		c.until("a leader", 300, func() bool { lead = c.leader(0, alive); return lead != 0 })
		ch := checks[n%uint64(len(checks))]
		if _, err := c.propose(lead, 0, pingCmd(c.t, c.stores[lead], ch, n)); err != nil {
			c.t.Fatalf("ping %d: %v", n, err)
		}
		if want[ch] == nil {
			want[ch] = map[uint64]bool{}
		}
		want[ch][n] = true
	}
}

func (c *testCluster) holdsAll(id uint64, want map[uuid.UUID]map[uint64]bool) bool {
	for ch, ns := range want {
		if !hasAll(pings(c.t, c.stores[id], ch), ns) {
			return false
		}
	}
	return true
}

// logStart is the first index in the node's stored log of shard 0.
func (c *testCluster) logStart(id uint64) uint64 {
	c.t.Helper()
	first, _, ok, err := c.stores[id].RaftLogBounds(0)
	if err != nil {
		c.t.Fatal(err)
	}
	if !ok {
		return 0
	}
	return first
}

// A node that was down while the others cut their logs past what it has is
// sent a snapshot: it fetches the state, installs it, follows the log from
// there, and keeps all of it across kill -9.
func TestLaggingNodeCatchesUpBySnapshot(t *testing.T) {
	c := newTestCluster(t, 3, 1, true)
	c.compactEvery, c.compactKeep = 10, 5
	for _, id := range c.peers { // with compaction set
		c.stop(id)
		c.start(id)
	}
	all := c.peers
	c.until("a leader", 300, c.allLed(all))
	checks := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	want := map[uuid.UUID]map[uint64]bool{}
	c.pingLog(checks, 1, 10, all, want)

	c.crash(3)
	alive := []uint64{1, 2}
	c.pingLog(checks, 11, 80, alive, want)
	lead := c.leader(0, alive)
	if got := testutil.ToFloat64(c.nodes[lead].Metrics().Compactions); got == 0 {
		t.Fatal("the leader never cut its log")
	}
	if start := c.logStart(lead); start < 40 {
		t.Fatalf("the leader's log starts at %d after 80 entries, cut every 10 keeping 5", start)
	}

	c.start(3)
	c.until("node 3 has every ping", 400, func() bool { return c.holdsAll(3, want) })
	if got := testutil.ToFloat64(c.nodes[3].Metrics().Snapshots.WithLabelValues("installed")); got < 1 {
		t.Fatalf("node 3 caught up with %v snapshots installed: the log it needed was cut", got)
	}
	if got := testutil.ToFloat64(c.nodes[lead].Metrics().Snapshots.WithLabelValues("made")); got < 1 {
		t.Fatalf("the leader made %v snapshots", got)
	}
	// It follows the log after the snapshot, and it all survives a crash.
	c.pingLog(checks, 81, 100, all, want)
	c.until("node 3 follows", 300, func() bool { return c.holdsAll(3, want) })
	// Its applies since the last append may be lost with the crash (they
	// are not synced on their own): it redoes them from its log.
	c.crash(3)
	c.start(3)
	c.until("node 3 has every ping after a crash", 300, func() bool { return c.holdsAll(3, want) })
	c.pingLog(checks, 101, 110, all, want)
	for _, id := range c.peers {
		c.until(fmt.Sprintf("node %d has every ping", id), 300, func() bool { return c.holdsAll(id, want) })
	}
	for _, ch := range checks {
		a, b := pings(t, c.stores[1], ch), pings(t, c.stores[3], ch)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("check %s: node 1 holds %v, node 3 %v", ch, a, b)
		}
	}
	// The leader's views pin old versions on disk: unfetched, they go.
	ln := c.nodes[lead]
	ln.expireViews(time.Now().Add(viewTTL + time.Second))
	ln.viewMu.Lock()
	held := len(ln.views)
	ln.viewMu.Unlock()
	if held != 0 {
		t.Fatalf("%d views still held after their TTL", held)
	}
	idx := c.nodes[3].Applied(0)
	if _, err := ln.OpenSnapshot(0, idx); !errors.Is(err, ErrSnapshotGone) {
		t.Fatalf("OpenSnapshot after expiry: %v, want ErrSnapshotGone", err)
	}
}

// A node joining after the log was cut starts from a snapshot; with it, it
// can lead: the sequence numbers it continues from came with the state.
// A fetch that fails (its leader unreachable for it) is retried.
func TestJoinAfterCompaction(t *testing.T) {
	c := newTestCluster(t, 3, 1, false)
	c.compactEvery, c.compactKeep = 10, 5
	for _, id := range c.peers {
		c.stop(id)
		c.start(id)
	}
	c.until("a leader", 300, c.allLed(c.peers))
	checks := []uuid.UUID{uuid.New(), uuid.New()}
	want := map[uuid.UUID]map[uint64]bool{}
	c.pingLog(checks, 1, 60, c.peers, want)

	const joiner = 4
	c.peers = append(c.peers, joiner)
	c.dirs[joiner] = filepath.Join(t.TempDir(), "n4")
	c.net.failFetches(2)
	c.startWith(joiner, true)
	alive := []uint64{1, 2, 3}
	lead := c.leader(0, alive)
	ch := make(chan outcome, 1)
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode.Enum(), NodeId: new(uint64(joiner))}}}
	c.nodes[lead].ProposeConfChange(0, cc, func(i uint64, err error) { ch <- outcome{i, err} })
	c.until("the change applied", 300, func() bool { return len(ch) > 0 })
	if o := <-ch; o.err != nil {
		t.Fatal(o.err)
	}
	c.until("the joiner has every ping", 600, func() bool { return c.holdsAll(joiner, want) })
	if got := testutil.ToFloat64(c.nodes[joiner].Metrics().Snapshots.WithLabelValues("fetch_failed")); got != 2 {
		t.Fatalf("%v failed fetches, want the 2 made to fail", got)
	}
	if start := c.logStart(joiner); start == 1 {
		t.Fatal("the joiner's log starts at 1: it replayed the log, not a snapshot")
	}
	// The joiner leads, and what it is proposed applies everywhere (a
	// wrong sequence number would make every replica skip it).
	done := make(chan outcome, 1)
	c.nodes[lead].TransferLeader(0, joiner, func(_ uint64, err error) { done <- outcome{err: err} })
	all := c.peers
	c.until("the joiner leads", 300, func() bool { return c.leader(0, all) == joiner && c.nodes[joiner].Holds(0) })
	c.pingLog(checks, 61, 70, all, want)
	for _, id := range all {
		c.until(fmt.Sprintf("node %d has the joiner's pings", id), 300, func() bool { return c.holdsAll(id, want) })
	}
	if got := testutil.ToFloat64(c.nodes[joiner].Metrics().Skipped); got != 0 {
		t.Fatalf("%v entries skipped on the joiner", got)
	}
}

// ConfirmLeader answers on the leader once a quorum has heard from it, is
// refused on a follower, and never confirms a leader cut off from the
// others: it fails when that leader steps down.
func TestConfirmLeader(t *testing.T) {
	c := newTestCluster(t, 3, 1, false)
	c.until("a leader", 300, c.allLed(c.peers))
	lead := c.leader(0, c.peers)
	confirm := func(id uint64) chan outcome {
		ch := make(chan outcome, 1)
		c.nodes[id].ConfirmLeader(0, func(i uint64, err error) { ch <- outcome{i, err} })
		return ch
	}
	ch := confirm(lead)
	c.until("confirmed", 50, func() bool { return len(ch) > 0 })
	if o := <-ch; o.err != nil || o.index == 0 {
		t.Fatalf("the leader: index %d, %v", o.index, o.err)
	}
	follower := c.peers[0]
	if follower == lead {
		follower = c.peers[1]
	}
	ch = confirm(follower)
	c.until("refused", 50, func() bool { return len(ch) > 0 })
	if o := <-ch; !errors.Is(o.err, ErrNotLeader) {
		t.Fatalf("a follower: %v, want ErrNotLeader", o.err)
	}

	var others []uint64
	for _, id := range c.peers {
		if id != lead {
			others = append(others, id)
		}
	}
	c.net.partition(lead, others...)
	ch = confirm(lead)
	// The others elect a new leader meanwhile; the old one must not be
	// confirmed at any point.
	c.until("the old leader steps down", 300, func() bool {
		if len(ch) > 0 {
			return true
		}
		return c.nodes[lead].Leader(0) != lead
	})
	c.until("the confirmation decided", 50, func() bool { return len(ch) > 0 })
	if o := <-ch; !errors.Is(o.err, ErrNotLeader) {
		t.Fatalf("a leader cut off: index %d, %v; want ErrNotLeader", o.index, o.err)
	}
}

// A log of few but large entries is cut by its size: CompactEvery alone
// would let a log of batched commands grow to gigabytes.
func TestCompactBySize(t *testing.T) {
	c := newTestCluster(t, 3, 1, false)
	c.compactEvery, c.compactBytes = 1_000_000, 8<<10
	for _, id := range c.peers {
		c.stop(id)
		c.start(id)
	}
	c.until("a leader", 300, c.allLed(c.peers))
	checks := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	want := map[uuid.UUID]map[uint64]bool{}
	c.pingLog(checks, 1, 200, c.peers, want)
	lead := c.leader(0, c.peers)
	if got := testutil.ToFloat64(c.nodes[lead].Metrics().Compactions); got == 0 {
		t.Fatal("a log past CompactBytes was never cut")
	}
	var stored int
	if err := c.stores[lead].RaftEntries(0, 0, 1<<62, func(_ uint64, e []byte) bool { stored += len(e); return true }); err != nil {
		t.Fatal(err)
	}
	if stored > 8<<10 {
		t.Fatalf("%d bytes of log stored, over CompactBytes", stored)
	}
	for _, id := range c.peers {
		c.until("every ping everywhere", 300, func() bool { return c.holdsAll(id, want) })
	}
}

// A crash between an iteration's apply batch and its log batch leaves an
// applied index past the stored commit: the node restarts from it.
func TestRestartWithAppliedPastCommit(t *testing.T) {
	c := newTestCluster(t, 3, 1, false)
	c.until("a leader", 300, c.allLed(c.peers))
	checks := []uuid.UUID{uuid.New()}
	want := map[uuid.UUID]map[uint64]bool{}
	c.pingLog(checks, 1, 10, c.peers, want)
	id := c.peers[0]
	c.until("node applied", 300, func() bool { return c.holdsAll(id, want) })
	c.stop(id)
	// What that crash leaves: the stored commit behind the applied index.
	st, err := store.Open(store.Options{Dir: c.dirs[id]})
	if err != nil {
		t.Fatal(err)
	}
	b := st.NewBatch()
	l, err := openShardLog(st, 0, c.peers, b)
	if err != nil {
		t.Fatal(err)
	}
	pos, err := st.RaftApplied(0)
	if err != nil || len(pos) != 16 {
		t.Fatalf("applied position %x, %v", pos, err)
	}
	applied := binary.BigEndian.Uint64(pos)
	l.hs.Commit = new(applied - 3)
	if err := l.saveState(b); err != nil {
		t.Fatal(err)
	}
	if err := st.CommitLocal(b); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	c.start(id)
	c.pingLog(checks, 11, 20, c.peers, want)
	c.until("the restarted node follows", 300, func() bool { return c.holdsAll(id, want) })
}
