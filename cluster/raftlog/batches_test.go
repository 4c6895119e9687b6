package raftlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/vigilo/vigilo/engine/store"
)

// These drive one follower (node 2 of {1, 2}) with hand-made appends from a
// leader that is not there, to reach the loop's batch orderings exactly.
// They came from a review of handleReadies, which found both on an earlier
// version.

type nopTransport struct{}

func (nopTransport) Send(uint64, []Envelope) {}

func followerOpts(st *store.Store) Options {
	return Options{ID: 2, Peers: []uint64{1, 2}, Shards: 1, Store: st, Transport: nopTransport{},
		ManualTick: true, CompactEvery: 3, CompactKeep: 1,
		Apply: func(uint32, uint64, []byte, *store.Batch) error { return nil },
		FetchSnapshot: func(context.Context, uint64, uint32, uint64, func(io.Reader) error) error {
			return io.EOF
		}}
}

func normalEntry(term, idx, seq uint64) *pb.Entry {
	return &pb.Entry{Term: new(term), Index: new(idx), Type: pb.EntryType_EntryNormal.Enum(),
		Data: encodeEntry(term, seq, [][]byte{[]byte("x")})}
}

func confEntry(t *testing.T, term, idx, node uint64) *pb.Entry {
	t.Helper()
	cc, err := proto.Marshal(&pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{
		Type: pb.ConfChangeType_ConfChangeAddNode.Enum(), NodeId: new(node)}}})
	if err != nil {
		t.Fatal(err)
	}
	return &pb.Entry{Term: new(term), Index: new(idx), Type: pb.EntryType_EntryConfChangeV2.Enum(), Data: cc}
}

func msgApp(logTerm, index, commit uint64, ents ...*pb.Entry) Envelope {
	return Envelope{Shard: 0, Msg: &pb.Message{Type: pb.MessageType_MsgApp.Enum(), From: new(uint64(1)), To: new(uint64(2)),
		Term: new(uint64(2)), LogTerm: new(logTerm), Index: new(index), Commit: new(commit), Entries: ents}}
}

func waitApplied(t *testing.T, n *Node, idx uint64) {
	t.Helper()
	for i := 0; i < 1000 && n.Applied(0) < idx; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if n.Applied(0) < idx {
		t.Fatalf("applied %d, want %d (err %v)", n.Applied(0), idx, n.Err())
	}
}

// A membership change applied in the iteration that cuts the log: the
// cut's state record must be the one stored, or the node cannot reopen
// ("log starts at 8, after snapshot 1").
func TestCutWithConfChangeReopens(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	n, err := Open(followerOpts(st))
	if err != nil {
		t.Fatal(err)
	}
	first := []*pb.Entry{{Term: new(uint64(2)), Index: new(uint64(2))}}
	for i := uint64(3); i <= 8; i++ {
		first = append(first, normalEntry(2, i, i-2))
	}
	n.Deliver([]Envelope{msgApp(1, 1, 8, first...)})
	waitApplied(t, n, 8)
	n.Deliver([]Envelope{msgApp(2, 8, 10, confEntry(t, 2, 9, 3), normalEntry(2, 10, 7))})
	waitApplied(t, n, 10)
	n.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, dir)
	defer st.Close()
	n, err = Open(followerOpts(st))
	if err != nil {
		t.Fatalf("reopen after a cut with a membership change: %v", err)
	}
	n.Close()
}

// openLoopless is Open without the loop goroutine: the test runs process
// itself, so it can crash the store between the two batches of one
// iteration.
func openLoopless(t *testing.T, o Options) *Node {
	t.Helper()
	o = o.WithDefaults()
	m, err := newMetrics(o.Registry)
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{o: o, m: m, inbox: make(chan Envelope, o.Inbox), wake: make(chan struct{}, 1),
		ticks: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		fetching: map[uint32]bool{}, fetched: map[fetchKey]*store.StateLoad{}}
	n.fetchCtx, n.fetchCancel = context.WithCancel(context.Background())
	boot := o.Store.NewBatch()
	s, err := n.openShard(0, boot)
	if err != nil {
		t.Fatal(err)
	}
	n.shards = append(n.shards, s)
	if err := o.Store.CommitLocal(boot); err != nil {
		t.Fatal(err)
	}
	return n
}

// A crash that keeps an iteration's applies (with a membership change)
// and loses its appends must not leave a stored commit past the stored
// log: raft panics on that at restart ("state.commit 7 is out of range
// [1, 5]").
func TestCrashBetweenApplyAndAppend(t *testing.T) {
	fs := vfs.NewCrashableMem()
	st, err := store.Open(store.Options{Dir: "/n", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	o := followerOpts(st)
	o.CompactEvery = -1
	n := openLoopless(t, o)
	big := func(idx, seq uint64) *pb.Entry {
		e := normalEntry(2, idx, seq)
		e.Data = encodeEntry(2, seq, [][]byte{make([]byte, 900<<10)})
		return e
	}
	n.step(msgApp(1, 1, 1, &pb.Entry{Term: new(uint64(2)), Index: new(uint64(2))},
		confEntry(t, 2, 3, 3), big(4, 1), big(5, 2)))
	if err := n.process(); err != nil {
		t.Fatal(err)
	}
	// Applies stop at 4 (1 MiB a Ready), so they do not reach the new
	// appends 6 and 7.
	n.step(msgApp(2, 5, 7, normalEntry(2, 6, 3), normalEntry(2, 7, 4)))
	var crashed *vfs.MemFS
	s := n.shards[0]
	// Answered with the iteration's first completions: after a separate
	// apply batch, if there is one, and before the log batch.
	s.completed = append(s.completed, completion{p: proposal{done: func(uint64, error) {
		if crashed != nil {
			return
		}
		b := st.NewBatch()
		b.PutRaftApplied(99, make([]byte, 16)) // syncs what was written so far
		if err := st.CommitLocal(b); err != nil {
			t.Error(err)
		}
		crashed = fs.CrashClone(vfs.CrashCloneCfg{})
	}}})
	if err := n.process(); err != nil {
		t.Fatal(err)
	}
	if crashed == nil {
		t.Fatal("the completion never ran")
	}
	st.Close()
	st2, err := store.Open(store.Options{Dir: "/n", FS: crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	o2 := followerOpts(st2)
	o2.CompactEvery = -1
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("restart after the crash panics in raft: %v", r)
		}
	}()
	n2, err := Open(o2)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	n2.Close()
}

// A crash between a snapshot's two steps (its state ingested, the batch
// that restores the log to it lost) leaves a state ahead of the log: Open
// finishes the install from the state's install record, so the old log is
// not applied again over the newer state, and the leader's next append
// lands. Over the whole store (one shard) and over a key space (a cluster's
// shard), and again after a second restart.
func TestCrashBetweenIngestAndInstall(t *testing.T) {
	for _, spaced := range []bool{false, true} {
		t.Run(fmt.Sprint("spaced=", spaced), func(t *testing.T) { crashBetweenIngestAndInstall(t, spaced) })
	}
}

func crashBetweenIngestAndInstall(t *testing.T, spaced bool) {
	var lo, hi []byte
	var span func(uint32) ([]byte, []byte)
	if spaced {
		lo, hi = store.SpaceSpan(0)
		span = func(uint32) ([]byte, []byte) { return store.SpaceSpan(0) }
	}
	src, err := store.Open(store.Options{Dir: "/src", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	state, read := src, func(st *store.Store) *store.Store { return st }
	if spaced {
		if state, err = src.Space(0, store.SpaceOptions{}); err != nil {
			t.Fatal(err)
		}
		read = func(st *store.Store) *store.Store {
			sp, err := st.Space(0, store.SpaceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return sp
		}
	}
	p := &store.Project{ID: uuid.New(), Name: "from the snapshot", Created: time.Unix(1, 0).UTC()}
	b := state.NewBatch()
	b.PutProject(p)
	b.PutProject(&store.Project{ID: uuid.New(), Name: "also from the snapshot", Created: time.Unix(1, 0).UTC()})
	if err := state.Commit(b); err != nil {
		t.Fatal(err)
	}
	v, err := src.View()
	if err != nil {
		t.Fatal(err)
	}
	var stream bytes.Buffer
	if err := v.WriteState(&stream, lo, hi); err != nil {
		t.Fatal(err)
	}
	v.Close()

	fs := vfs.NewCrashableMem()
	// Tables of a byte: the state goes in as several tables, and the crash
	// must keep all of them or none.
	st, err := store.Open(store.Options{Dir: "/n", FS: fs, LoadTableSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	opts := func(st *store.Store) Options {
		o := followerOpts(st)
		o.CompactEvery, o.StateSpan = -1, span
		return o
	}
	n := openLoopless(t, opts(st))
	n.step(msgApp(1, 1, 4, normalEntry(2, 2, 1), normalEntry(2, 3, 2), normalEntry(2, 4, 3)))
	if err := n.process(); err != nil {
		t.Fatal(err)
	}
	if got := n.Applied(0); got != 4 {
		t.Fatalf("applied %d before the snapshot, want 4", got)
	}
	snap := &pb.Snapshot{Data: binary.BigEndian.AppendUint64([]byte{snapshotVersion}, 7),
		Metadata: &pb.SnapshotMetadata{Index: new(uint64(20)), Term: new(uint64(3)),
			ConfState: &pb.ConfState{Voters: []uint64{1, 2}}}}
	record, err := encodeInstallRecord(snap)
	if err != nil {
		t.Fatal(err)
	}
	// The install's first step, as installSnapshot takes it, then the crash.
	load, err := st.LoadState(&stream, lo, hi, record)
	if err != nil {
		t.Fatal(err)
	}
	if load.Tables() < 2 {
		t.Fatalf("the state went in as %d table", load.Tables())
	}
	if err := st.IngestState(load); err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{})
	st.Close()

	st2, err := store.Open(store.Options{Dir: "/n", FS: crashed})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := read(st2).GetProject(p.ID); err != nil || got.Name != p.Name {
		t.Fatalf("the ingested state after the crash: %+v, %v", got, err)
	}
	n2, err := Open(opts(st2))
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if got := n2.Applied(0); got != 20 {
		t.Fatalf("applied %d after the restart, want the snapshot's 20", got)
	}
	if got := testutil.ToFloat64(n2.Metrics().Snapshots.WithLabelValues("installed")); got != 1 {
		t.Fatalf("%v installs finished at the restart, want 1", got)
	}
	// The next append of the leader of term 3 lands after the snapshot.
	app := msgApp(3, 20, 21, normalEntry(3, 21, 8))
	app.Msg.Term = new(uint64(3))
	n2.Deliver([]Envelope{app})
	waitApplied(t, n2, 21)
	if skipped := testutil.ToFloat64(n2.Metrics().Skipped); skipped != 0 {
		t.Fatalf("%v entries skipped: the sequence number did not come from the install record", skipped)
	}
	n2.Close()
	st2.Close()

	// Again: the install is finished, and stays so.
	st3, err := store.Open(store.Options{Dir: "/n", FS: crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer st3.Close()
	n3, err := Open(opts(st3))
	if err != nil {
		t.Fatalf("second restart: %v", err)
	}
	defer n3.Close()
	if got := n3.Applied(0); got != 21 {
		t.Fatalf("applied %d after the second restart, want 21", got)
	}
	if got := testutil.ToFloat64(n3.Metrics().Snapshots.WithLabelValues("installed")); got != 0 {
		t.Fatalf("%v installs finished again at the second restart", got)
	}
	if hs := n3.shards[0].log.hs; hs.GetTerm() < 3 || hs.GetCommit() < 21 {
		t.Fatalf("stored hard state term %d commit %d, want at least 3 and 21", hs.GetTerm(), hs.GetCommit())
	}
}
