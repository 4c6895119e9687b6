package raftlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"

	"github.com/vigilo/vigilo/engine/store"
)

// memNet is the tests' transport: messages go through proto encoding, as on
// a wire, and links can be cut or made lossy.
type memNet struct {
	mu    sync.Mutex
	nodes map[uint64]*Node
	cut   map[[2]uint64]bool
	loss  float64
	rng   *rand.Rand
	// failing is how many more snapshot fetches fail.
	failing int
}

func (net *memNet) failFetches(n int) {
	net.mu.Lock()
	defer net.mu.Unlock()
	net.failing = n
}

func newMemNet() *memNet {
	return &memNet{nodes: map[uint64]*Node{}, cut: map[[2]uint64]bool{}, rng: rand.New(rand.NewPCG(1, 2))}
}

type memLink struct {
	net  *memNet
	from uint64
}

func (l memLink) Send(to uint64, envs []Envelope) {
	net := l.net
	net.mu.Lock()
	dst, cut := net.nodes[to], net.cut[[2]uint64{l.from, to}]
	out := make([]Envelope, 0, len(envs))
	for _, e := range envs {
		if net.loss > 0 && net.rng.Float64() < net.loss {
			continue
		}
		wire, err := proto.Marshal(e.Msg)
		if err != nil {
			panic(err)
		}
		m := new(pb.Message)
		if err := proto.Unmarshal(wire, m); err != nil {
			panic(err)
		}
		out = append(out, Envelope{Shard: e.Shard, Msg: m})
	}
	net.mu.Unlock()
	if dst == nil || cut {
		return
	}
	dst.Deliver(out)
}

// fetcher is node to's FetchSnapshot: from's snapshot through a pipe, as
// over a connection, unless the link is cut.
func (net *memNet) fetcher(to uint64) FetchFunc {
	return func(ctx context.Context, from uint64, shard uint32, index uint64, read func(io.Reader) error) error {
		net.mu.Lock()
		src, cut := net.nodes[from], net.cut[[2]uint64{from, to}]
		fail := net.failing > 0
		if fail {
			net.failing--
		}
		net.mu.Unlock()
		if src == nil || cut || fail {
			return fmt.Errorf("node %d unreachable", from)
		}
		snap, err := src.OpenSnapshot(shard, index)
		if err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func() {
			defer snap.Close()
			pw.CloseWithError(snap.Write(pw))
		}()
		err = read(pr)
		pr.CloseWithError(io.ErrClosedPipe)
		return err
	}
}

// partition cuts every link between a and the others, both ways.
func (net *memNet) partition(a uint64, others ...uint64) {
	net.mu.Lock()
	defer net.mu.Unlock()
	for _, b := range others {
		net.cut[[2]uint64{a, b}], net.cut[[2]uint64{b, a}] = true, true
	}
}

func (net *memNet) heal() {
	net.mu.Lock()
	defer net.mu.Unlock()
	clear(net.cut)
}

func (net *memNet) setLoss(p float64) {
	net.mu.Lock()
	defer net.mu.Unlock()
	net.loss = p
}

// testCluster is three (or more) nodes in this process, each with its own
// Pebble store: in a directory, or on a crashable in-memory FS.
type testCluster struct {
	t      *testing.T
	net    *memNet
	peers  []uint64
	shards int
	dirs   map[uint64]string
	fs     map[uint64]*vfs.MemFS // crashable FS, when the test crashes nodes
	stores map[uint64]*store.Store
	nodes  map[uint64]*Node
	// compactEvery, compactKeep and compactBytes are the nodes' Options
	// (0: default).
	compactEvery, compactKeep, compactBytes int
	// voters records, per shard, the nodes some replica applied a change
	// making them a voter for.
	voters sync.Map // [2]uint64{shard, node} → true
}

func newTestCluster(t *testing.T, nodes, shards int, crashable bool) *testCluster {
	c := &testCluster{
		t: t, net: newMemNet(), shards: shards,
		dirs: map[uint64]string{}, fs: map[uint64]*vfs.MemFS{},
		stores: map[uint64]*store.Store{}, nodes: map[uint64]*Node{},
	}
	root := t.TempDir()
	for i := 1; i <= nodes; i++ {
		id := uint64(i)
		c.peers = append(c.peers, id)
		c.dirs[id] = filepath.Join(root, fmt.Sprintf("n%d", id))
		if crashable {
			c.dirs[id] = fmt.Sprintf("/n%d", id)
			c.fs[id] = vfs.NewCrashableMem()
		}
	}
	for _, id := range c.peers {
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.peers {
			if c.nodes[id] != nil {
				c.stop(id)
			}
		}
	})
	return c
}

func (c *testCluster) start(id uint64) { c.startWith(id, false) }

func (c *testCluster) startWith(id uint64, join bool) {
	c.t.Helper()
	so := store.Options{Dir: c.dirs[id]}
	if fs := c.fs[id]; fs != nil {
		so.FS = fs
	}
	st, err := store.Open(so)
	if err != nil {
		c.t.Fatal(err)
	}
	o := Options{
		ID: id, Peers: c.peers, Shards: c.shards, Store: st,
		Transport: memLink{c.net, id}, ManualTick: true, Join: join,
		CompactEvery: c.compactEvery, CompactKeep: c.compactKeep, CompactBytes: c.compactBytes,
		FetchSnapshot: c.net.fetcher(id),
		OnConfChange: func(shard uint32, cc *pb.ConfChangeV2, _ []byte, _ *store.Batch) {
			for _, ch := range cc.GetChanges() {
				if ch.GetType() == pb.ConfChangeType_ConfChangeAddNode {
					c.voters.Store([2]uint64{uint64(shard), ch.GetNodeId()}, true)
				}
			}
		},
	}
	if c.shards > 1 && c.compactEvery == 0 {
		o.CompactEvery = -1 // the tests' commands write keys of no one shard
	}
	n, err := Open(o)
	if err != nil {
		st.Close()
		c.t.Fatal(err)
	}
	c.net.mu.Lock()
	c.net.nodes[id] = n
	c.net.mu.Unlock()
	c.stores[id], c.nodes[id] = st, n
}

func (c *testCluster) stop(id uint64) {
	c.t.Helper()
	c.net.mu.Lock()
	delete(c.net.nodes, id)
	c.net.mu.Unlock()
	c.nodes[id].Close()
	if err := c.nodes[id].Err(); err != nil {
		c.t.Errorf("node %d: %v", id, err)
	}
	if err := c.stores[id].Close(); err != nil {
		c.t.Errorf("close store of node %d: %v", id, err)
	}
	c.nodes[id], c.stores[id] = nil, nil
}

// crash is kill -9: the node stops, and its FS keeps only what was synced.
func (c *testCluster) crash(id uint64) {
	c.t.Helper()
	c.net.mu.Lock()
	delete(c.net.nodes, id)
	c.net.mu.Unlock()
	synced := c.fs[id].CrashClone(vfs.CrashCloneCfg{})
	c.nodes[id].Close()
	_ = c.stores[id].Close()
	c.fs[id] = synced
	c.nodes[id], c.stores[id] = nil, nil
}

func (c *testCluster) running() []uint64 {
	var ids []uint64
	for _, id := range c.peers {
		if c.nodes[id] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// until ticks every running node until cond holds, at most maxTicks times.
func (c *testCluster) until(what string, maxTicks int, cond func() bool) {
	c.t.Helper()
	for range maxTicks {
		if cond() {
			return
		}
		for _, id := range c.running() {
			c.nodes[id].Tick()
		}
	}
	if !cond() {
		c.t.Fatalf("%s: not after %d ticks", what, maxTicks)
	}
}

// leader is the shard's leader as the running nodes agree on it; 0 when they
// do not, or it is not running.
func (c *testCluster) leader(shard uint32, among []uint64) uint64 {
	var lead uint64
	for _, id := range among {
		l := c.nodes[id].Leader(shard)
		if l == 0 || (lead != 0 && l != lead) {
			return 0
		}
		lead = l
	}
	for _, id := range among {
		if id == lead {
			return lead
		}
	}
	return 0
}

func (c *testCluster) allLed(among []uint64) func() bool {
	return func() bool {
		for s := range c.shards {
			if c.leader(uint32(s), among) == 0 {
				return false
			}
		}
		return true
	}
}

type outcome struct {
	index uint64
	err   error
}

// propose sends cmd to node id and ticks the cluster until it is decided.
func (c *testCluster) propose(id uint64, shard uint32, cmd []byte) (uint64, error) {
	c.t.Helper()
	ch := make(chan outcome, 1)
	c.nodes[id].Propose(shard, cmd, func(i uint64, err error) { ch <- outcome{i, err} })
	for range 500 {
		select {
		case o := <-ch:
			return o.index, o.err
		default:
		}
		for _, r := range c.running() {
			c.nodes[r].Tick()
		}
	}
	c.t.Fatalf("proposal to node %d, shard %d: undecided after 500 ticks", id, shard)
	return 0, nil
}

// pingCmd is a real store command: ping n of the check.
func pingCmd(t *testing.T, st *store.Store, check uuid.UUID, n uint64) []byte {
	t.Helper()
	b := st.NewBatch()
	defer b.Discard()
	b.AppendPing(&store.Check{ID: check}, &store.Ping{N: n, Kind: "success", Time: time.Unix(int64(n), 0).UTC(), ExitStatus: -1})
	return b.Repr()
}

// pings is the ping numbers the node's store holds for the check.
func pings(t *testing.T, st *store.Store, check uuid.UUID) []uint64 {
	t.Helper()
	ps, err := st.Pings(check, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ns []uint64
	for _, p := range ps {
		ns = append(ns, p.N)
	}
	return ns
}

func hasAll(got []uint64, want map[uint64]bool) bool {
	seen := map[uint64]bool{}
	for _, n := range got {
		seen[n] = true
	}
	for n := range want {
		if !seen[n] {
			return false
		}
	}
	return true
}

// Every shard elects a leader, a command proposed to it is applied on every
// replica, and a follower refuses proposals.
func TestReplicatesToEveryReplica(t *testing.T) {
	c := newTestCluster(t, 3, 8, false)
	c.until("every shard led", 200, c.allLed(c.peers))
	check := uuid.New()
	for s := range uint32(c.shards) {
		lead := c.leader(s, c.peers)
		idx, err := c.propose(lead, s, pingCmd(t, c.stores[lead], check, uint64(s)+1))
		if err != nil || idx == 0 {
			t.Fatalf("shard %d: index %d, %v", s, idx, err)
		}
		follower := c.peers[0]
		if follower == lead {
			follower = c.peers[1]
		}
		if _, err := c.propose(follower, s, pingCmd(t, c.stores[lead], check, 100)); !errors.Is(err, ErrNotLeader) {
			t.Fatalf("shard %d: a follower's proposal: %v, want ErrNotLeader", s, err)
		}
	}
	want := map[uint64]bool{}
	for s := range c.shards {
		want[uint64(s)+1] = true
	}
	c.until("applied everywhere", 100, func() bool {
		for _, id := range c.peers {
			if !hasAll(pings(t, c.stores[id], check), want) {
				return false
			}
		}
		return true
	})
	for _, id := range c.peers {
		if got := pings(t, c.stores[id], check); len(got) != c.shards {
			t.Fatalf("node %d holds pings %v, want the %d proposed (and not the refused 100)", id, got, c.shards)
		}
	}
}

// Everything acknowledged survives kill -9 of every node at once (only what
// was synced is kept), and the restarted cluster goes on from there without
// applying anything twice.
func TestAcknowledgedSurvivesCrashOfAll(t *testing.T) {
	c := newTestCluster(t, 3, 4, true)
	c.until("every shard led", 200, c.allLed(c.peers))
	check := uuid.New()
	acked := map[uint64]bool{}
	for n := uint64(1); n <= 40; n++ {
		s := uint32(n % uint64(c.shards))
		lead := c.leader(s, c.peers)
		if _, err := c.propose(lead, s, pingCmd(t, c.stores[lead], check, n)); err != nil {
			t.Fatalf("ping %d: %v", n, err)
		}
		acked[n] = true
	}
	for _, id := range c.peers {
		c.crash(id)
	}
	for _, id := range c.peers {
		c.start(id)
	}
	c.until("every shard led again", 300, c.allLed(c.peers))
	// The leader applied each before acknowledging; a follower may apply
	// after the restart, from its synced log.
	c.until("acknowledged pings on every node", 200, func() bool {
		for _, id := range c.peers {
			if !hasAll(pings(t, c.stores[id], check), acked) {
				return false
			}
		}
		return true
	})
	lead := c.leader(0, c.peers)
	if _, err := c.propose(lead, 0, pingCmd(t, c.stores[lead], check, 41)); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	acked[41] = true
	c.until("the new ping everywhere", 200, func() bool {
		for _, id := range c.peers {
			if !hasAll(pings(t, c.stores[id], check), acked) {
				return false
			}
		}
		return true
	})
	for _, id := range c.peers {
		if got := pings(t, c.stores[id], check); len(got) != len(acked) {
			t.Fatalf("node %d holds %d pings, want %d", id, len(got), len(acked))
		}
		if m := c.nodes[id].Metrics(); testutil.ToFloat64(m.Skipped) != 0 {
			t.Fatalf("node %d skipped entries", id)
		}
	}
}

// A node cut off from the others stops leading within an election timeout
// and refuses writes; the majority keeps taking them, and the node catches
// up once the partition heals.
func TestPartitionedMinorityRefusesWrites(t *testing.T) {
	c := newTestCluster(t, 3, 8, false)
	c.until("every shard led", 200, c.allLed(c.peers))
	const minority = 3
	majority := []uint64{1, 2}
	led := 0
	for s := range uint32(c.shards) {
		if c.leader(s, c.peers) == minority {
			led++
		}
	}
	c.net.partition(minority, majority...)
	c.until("the minority leads nothing", 100, func() bool {
		for s := range uint32(c.shards) {
			if c.nodes[minority].Leader(s) == minority {
				return false
			}
		}
		return true
	})
	c.until("the majority leads every shard", 200, c.allLed(majority))
	check := uuid.New()
	want := map[uint64]bool{}
	for s := range uint32(c.shards) {
		ch := make(chan outcome, 1)
		c.nodes[minority].Propose(s, pingCmd(t, c.stores[minority], check, 1000+uint64(s)), func(i uint64, err error) { ch <- outcome{i, err} })
		c.until("the minority's answer", 10, func() bool { return len(ch) > 0 })
		if o := <-ch; !errors.Is(o.err, ErrNotLeader) {
			t.Fatalf("shard %d: the minority accepted a write: %v", s, o.err)
		}
		lead := c.leader(s, majority)
		if _, err := c.propose(lead, s, pingCmd(t, c.stores[lead], check, uint64(s)+1)); err != nil {
			t.Fatalf("shard %d on the majority: %v", s, err)
		}
		want[uint64(s)+1] = true
	}
	if got := pings(t, c.stores[minority], check); len(got) != 0 {
		t.Fatalf("the cut-off node applied %v", got)
	}
	lag := func() (l float64) {
		for _, id := range majority {
			l += testutil.ToFloat64(c.nodes[id].Metrics().ReplicationLag)
		}
		return l
	}
	c.until("the leaders see the cut-off follower behind", 5, func() bool { return lag() > 0 })
	c.net.heal()
	c.until("the healed node catches up", 300, func() bool {
		return hasAll(pings(t, c.stores[minority], check), want)
	})
	c.until("no replication lag", 20, func() bool { return lag() == 0 })
	if got := pings(t, c.stores[minority], check); len(got) != len(want) {
		t.Fatalf("the healed node holds %v, want only the majority's %d", got, len(want))
	}
	t.Logf("the minority led %d of %d shards before the cut", led, c.shards)
}

// With a fifth of all messages lost, every acknowledged command still ends
// up applied exactly once on every replica.
func TestLossyNetwork(t *testing.T) {
	c := newTestCluster(t, 3, 4, false)
	c.net.setLoss(0.2)
	c.until("every shard led", 400, c.allLed(c.peers))
	check := uuid.New()
	acked := map[uint64]bool{}
	for n := uint64(1); n <= 30; n++ {
		s := uint32(n % uint64(c.shards))
		var lead uint64
		c.until("a leader", 200, func() bool { lead = c.leader(s, c.peers); return lead != 0 })
		if _, err := c.propose(lead, s, pingCmd(t, c.stores[lead], check, n)); err == nil {
			acked[n] = true
		} else if !errors.Is(err, ErrNotLeader) {
			t.Fatalf("ping %d: %v", n, err)
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	c.net.setLoss(0)
	c.until("acknowledged pings everywhere", 300, func() bool {
		for _, id := range c.peers {
			if !hasAll(pings(t, c.stores[id], check), acked) {
				return false
			}
		}
		return true
	})
	// Every replica holds the same pings: the acknowledged ones, and any
	// that committed after their proposer had given up on them.
	first := pings(t, c.stores[c.peers[0]], check)
	for _, id := range c.peers[1:] {
		if got := pings(t, c.stores[id], check); fmt.Sprint(got) != fmt.Sprint(first) {
			t.Fatalf("node %d holds %v, node %d %v", id, got, c.peers[0], first)
		}
	}
}

// A node that was not a bootstrap voter joins a running cluster: added by a
// membership change, it is sent the bootstrap snapshot and the whole log,
// applies everything, and can then replace a dead voter (removed by another
// change) in the quorum.
func TestJoinAndReplace(t *testing.T) {
	for _, typ := range []pb.ConfChangeType{pb.ConfChangeAddNode, pb.ConfChangeAddLearnerNode} {
		t.Run(typ.String(), func(t *testing.T) { testJoinAndReplace(t, typ) })
	}
}

// testJoinAndReplace adds the new node by typ: a learner is made a voter
// by the leader once it has caught up, or 2 and 4 could not elect at the
// end.
func testJoinAndReplace(t *testing.T, typ pb.ConfChangeType) {
	c := newTestCluster(t, 3, 2, false)
	c.until("every shard led", 200, c.allLed(c.peers))
	check := uuid.New()
	want := map[uint64]bool{}
	for n := uint64(1); n <= 20; n++ {
		s := uint32(n % uint64(c.shards))
		lead := c.leader(s, c.peers)
		if _, err := c.propose(lead, s, pingCmd(t, c.stores[lead], check, n)); err != nil {
			t.Fatal(err)
		}
		want[n] = true
	}
	// Node 3 dies for good; node 4 takes its place.
	c.stop(3)
	alive := []uint64{1, 2}
	const joiner = 4
	c.peers = append(c.peers, joiner)
	c.dirs[joiner] = filepath.Join(t.TempDir(), "n4")
	c.startWith(joiner, true)
	change := func(typ pb.ConfChangeType, node uint64) {
		t.Helper()
		for s := range uint32(c.shards) {
			var lead uint64
			c.until("a leader", 200, func() bool { lead = c.leader(s, alive); return lead != 0 })
			ch := make(chan outcome, 1)
			cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: typ.Enum(), NodeId: new(node)}}, Context: []byte("ctx")}
			c.nodes[lead].ProposeConfChange(s, cc, func(i uint64, err error) { ch <- outcome{i, err} })
			c.until("the change applied", 300, func() bool { return len(ch) > 0 })
			if o := <-ch; o.err != nil {
				t.Fatalf("shard %d: %v %d: %v", s, typ, node, o.err)
			}
		}
	}
	// A lossy network while it joins: a lost snapshot message must not
	// leave it stranded.
	c.net.setLoss(0.3)
	change(typ, joiner)
	alive = append(alive, joiner)
	defer func() {
		if t.Failed() {
			for _, id := range []uint64{2, joiner} {
				n := c.nodes[id]
				for s := range uint32(c.shards) {
					t.Logf("node %d shard %d: err %v, applied %d, leader %d", id, s, n.Err(), n.Applied(s), n.Leader(s))
				}
			}
		}
	}()
	c.until("the joiner has every ping", 300, func() bool {
		return hasAll(pings(t, c.stores[joiner], check), want)
	})
	c.net.setLoss(0)
	c.until("the joiner a voter of every shard", 400, func() bool {
		for s := range uint64(c.shards) {
			if _, ok := c.voters.Load([2]uint64{s, joiner}); !ok {
				return false
			}
		}
		return true
	})
	change(pb.ConfChangeRemoveNode, 3)
	// The quorum is now 1, 2 and 4: with 1 gone too, 2 and 4 still elect.
	c.stop(1)
	alive = []uint64{2, joiner}
	c.until("2 and 4 lead every shard", 400, c.allLed(alive))
	for s := range uint32(c.shards) {
		lead := c.leader(s, alive)
		if _, err := c.propose(lead, s, pingCmd(t, c.stores[lead], check, 21+uint64(s))); err != nil {
			t.Fatalf("shard %d after the replacement: %v", s, err)
		}
		want[21+uint64(s)] = true
	}
	c.until("both survivors have every ping", 200, func() bool {
		return hasAll(pings(t, c.stores[2], check), want) && hasAll(pings(t, c.stores[joiner], check), want)
	})
}

// A leader that removes itself from a shard steps down, and the others
// elect one of themselves and take writes.
func TestLeaderRemovingItselfStepsDown(t *testing.T) {
	c := newTestCluster(t, 3, 1, false)
	c.until("led", 200, c.allLed(c.peers))
	lead := c.leader(0, c.peers)
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(lead)}}}
	// A leader just elected may not have heard from both of the others
	// yet: the removal is refused until it has.
	for try := 0; ; try++ {
		ch := make(chan outcome, 1)
		c.nodes[lead].ProposeConfChange(0, cc, func(i uint64, err error) { ch <- outcome{i, err} })
		c.until("the removal answered", 300, func() bool { return len(ch) > 0 })
		o := <-ch
		if o.err == nil {
			break
		}
		if !errors.Is(o.err, ErrWouldLoseQuorum) || try == 20 {
			t.Fatal(o.err)
		}
		for _, id := range c.running() {
			c.nodes[id].Tick()
		}
	}
	var rest []uint64
	for _, id := range c.peers {
		if id != lead {
			rest = append(rest, id)
		}
	}
	c.until("another leader", 400, func() bool { l := c.leader(0, rest); return l != 0 && l != lead })
	if c.nodes[lead].Holds(0) {
		t.Fatalf("node %d still holds the shard after removing itself", lead)
	}
	nl := c.leader(0, rest)
	if _, err := c.propose(nl, 0, pingCmd(t, c.stores[nl], uuid.New(), 1)); err != nil {
		t.Fatalf("a write after the removal: %v", err)
	}
}

// A removal that would leave the shard's live voters short of a quorum is
// refused; removing the member that is down is not.
func TestRemovalKeepsAQuorum(t *testing.T) {
	c := newTestCluster(t, 3, 1, false)
	c.until("led", 200, c.allLed(c.peers))
	lead := c.leader(0, c.peers)
	var followers []uint64
	for _, id := range c.peers {
		if id != lead {
			followers = append(followers, id)
		}
	}
	down, up := followers[0], followers[1]
	c.stop(down)
	// Long enough for the leader's quorum check to see it silent.
	for range 5 * 10 {
		for _, id := range c.running() {
			c.nodes[id].Tick()
		}
	}
	remove := func(id uint64) error {
		ch := make(chan outcome, 1)
		cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(id)}}}
		c.nodes[lead].ProposeConfChange(0, cc, func(i uint64, err error) { ch <- outcome{i, err} })
		c.until("the removal answered", 300, func() bool { return len(ch) > 0 })
		return (<-ch).err
	}
	if err := remove(up); !errors.Is(err, ErrWouldLoseQuorum) {
		t.Fatalf("removing live node %d with node %d down: %v, want ErrWouldLoseQuorum", up, down, err)
	}
	if err := remove(down); err != nil {
		t.Fatalf("removing node %d, the one down: %v", down, err)
	}
	if _, err := c.propose(lead, 0, pingCmd(t, c.stores[lead], uuid.New(), 1)); err != nil {
		t.Fatalf("a write after the removal: %v", err)
	}
}

func TestKeepsQuorum(t *testing.T) {
	rm := func(ids ...uint64) *pb.ConfChangeV2 {
		cc := &pb.ConfChangeV2{}
		for _, id := range ids {
			cc.Changes = append(cc.Changes, &pb.ConfChangeSingle{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(id)})
		}
		return cc
	}
	add := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode.Enum(), NodeId: new(uint64(9))}}}
	// progress: id → live; a negative id is a learner.
	status := func(prs map[int]bool) raft.Status {
		st := raft.Status{Progress: map[uint64]tracker.Progress{}}
		for id, live := range prs {
			pr := tracker.Progress{RecentActive: live}
			if id < 0 {
				id, pr.IsLearner = -id, true
			}
			st.Progress[uint64(id)] = pr
		}
		return st
	}
	for _, tc := range []struct {
		name string
		prs  map[int]bool
		cc   *pb.ConfChangeV2
		want bool
	}{
		{"remove the dead of three", map[int]bool{1: true, 2: true, 3: false}, rm(3), true},
		{"remove a live one of three, one dead", map[int]bool{1: true, 2: true, 3: false}, rm(2), false},
		{"remove one of three, all live", map[int]bool{1: true, 2: true, 3: true}, rm(3), true},
		{"self counts as live", map[int]bool{1: false, 2: true, 3: false}, rm(3), true},
		{"remove two live of five, two dead", map[int]bool{1: true, 2: true, 3: true, 4: false, 5: false}, rm(2, 3), false},
		{"remove the two dead of five", map[int]bool{1: true, 2: true, 3: true, 4: false, 5: false}, rm(4, 5), true},
		{"learners do not count", map[int]bool{1: true, 2: true, 3: false, -4: true}, rm(2), false},
		{"an addition is not checked", map[int]bool{1: true, 2: false, 3: false}, add, true},
	} {
		live := func(id uint64, pr tracker.Progress) bool { return id == 1 || pr.RecentActive }
		if got := keepsQuorum(status(tc.prs), tc.cc, live); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
