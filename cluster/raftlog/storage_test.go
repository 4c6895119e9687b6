package raftlog

import (
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/vigilo/vigilo/engine/store"
)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func ents(term uint64, from, to uint64) []*pb.Entry {
	var out []*pb.Entry
	for i := from; i <= to; i++ {
		out = append(out, &pb.Entry{Term: new(term), Index: new(i), Data: fmt.Appendf(nil, "t%d-i%d", term, i)})
	}
	return out
}

// The shard log behaves as raft.Storage asks: bounds, terms and entries
// around the bootstrap snapshot, a conflicting suffix replaced, a size
// limit that still returns one entry, and all of it back after a reopen.
func TestShardLog(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	commit := func(fn func(b *store.Batch) error) {
		t.Helper()
		b := st.NewBatch()
		if err := fn(b); err != nil {
			b.Discard()
			t.Fatal(err)
		}
		if err := st.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	var l *shardLog
	commit(func(b *store.Batch) (err error) {
		l, err = openShardLog(st, 7, []uint64{1, 2, 3}, b)
		return err
	})
	if first, _ := l.FirstIndex(); first != 2 {
		t.Fatalf("first index %d, want 2 (after the bootstrap snapshot)", first)
	}
	if last, _ := l.LastIndex(); last != 1 {
		t.Fatalf("last index %d, want 1", last)
	}
	if term, err := l.Term(1); term != bootstrapTerm || err != nil {
		t.Fatalf("term(1) = %d, %v", term, err)
	}
	if _, err := l.Term(0); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("term(0): %v, want ErrCompacted", err)
	}
	if _, err := l.Entries(1, 2, 1<<20); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("entries from the snapshot: %v, want ErrCompacted", err)
	}
	commit(func(b *store.Batch) error { return l.append(b, ents(2, 2, 6)) })
	// A new leader's entries from 4 on replace 4..6.
	commit(func(b *store.Batch) error { return l.append(b, ents(3, 4, 5)) })
	if last, _ := l.LastIndex(); last != 5 {
		t.Fatalf("last index %d after the conflicting append, want 5", last)
	}
	got, err := l.Entries(2, 6, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"t2-i2", "t2-i3", "t3-i4", "t3-i5"}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i, e := range got {
		if string(e.GetData()) != want[i] || e.GetIndex() != uint64(i)+2 {
			t.Fatalf("entry %d: %q at %d, want %q", i, e.GetData(), e.GetIndex(), want[i])
		}
	}
	if one, err := l.Entries(2, 6, 1); err != nil || len(one) != 1 {
		t.Fatalf("entries under a 1-byte limit: %d, %v (want exactly one)", len(one), err)
	}
	if _, err := l.Term(6); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("term past the end: %v, want ErrUnavailable", err)
	}
	if err := l.append(st.NewBatch(), ents(3, 8, 8)); err == nil {
		t.Fatal("an append that leaves a gap was taken")
	}
	l.hs = &pb.HardState{Term: new(uint64(3)), Vote: new(uint64(2)), Commit: new(uint64(4))}
	commit(l.saveState)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, dir)
	defer st.Close()
	b := st.NewBatch()
	r, err := openShardLog(st, 7, []uint64{9}, b)
	b.Discard()
	if err != nil {
		t.Fatal(err)
	}
	hs, cs, _ := r.InitialState()
	if hs.GetTerm() != 3 || hs.GetVote() != 2 || hs.GetCommit() != 4 || fmt.Sprint(cs.GetVoters()) != "[1 2 3]" {
		t.Fatalf("reopened state %v %v: want term 3, vote 2, commit 4 and the first peers", hs, cs)
	}
	for i, w := range []uint64{1, 2, 2, 3, 3} {
		if term, _ := r.Term(uint64(i) + 1); term != w {
			t.Fatalf("reopened term(%d) = %d, want %d", i+1, term, w)
		}
	}
	// Read back from Pebble now (nothing is in memory after a reopen).
	if len(r.recent) != 0 {
		t.Fatal("a reopened log has recent entries")
	}
	got, err = r.Entries(3, 6, 1<<20)
	if err != nil || len(got) != 3 || string(got[0].GetData()) != "t2-i3" || string(got[2].GetData()) != "t3-i5" {
		t.Fatalf("reopened entries [3, 6): %v, %v", got, err)
	}
	if one, err := r.Entries(2, 6, 1); err != nil || len(one) != 1 {
		t.Fatalf("reopened entries under a 1-byte limit: %d, %v (want exactly one)", len(one), err)
	}
	// Another shard's log is its own.
	b = st.NewBatch()
	other, err := openShardLog(st, 8, []uint64{1}, b)
	b.Discard()
	if err != nil || other.lastIndex() != 1 {
		t.Fatalf("shard 8: last %d, %v (want an empty log)", other.lastIndex(), err)
	}
}

func TestEntryEncoding(t *testing.T) {
	cmds := [][]byte{[]byte("a"), {}, make([]byte, 300)}
	term, seq, got, err := decodeEntry(encodeEntry(5, 9, cmds))
	if err != nil || term != 5 || seq != 9 || len(got) != 3 || len(got[2]) != 300 || len(got[1]) != 0 {
		t.Fatalf("decoded term %d seq %d, %d commands, %v", term, seq, len(got), err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 15), append(encodeEntry(1, 1, nil), 0x05, 'x')} {
		if _, _, _, err := decodeEntry(bad); !errors.Is(err, errBadEntry) {
			t.Fatalf("decode %x: %v, want errBadEntry", bad, err)
		}
	}
}

func TestDecodeStateRejectsGarbage(t *testing.T) {
	for _, v := range [][]byte{{}, {0x05, 1}, {0, 0, 1, 2, 3}} {
		l := emptyLog(nil, 0)
		if err := l.decodeState(v); !errors.Is(err, errBadState) {
			t.Fatalf("decode %x: %v, want errBadState", v, err)
		}
	}
}

// A command that is not a batch repr is refused and leaves the batch it
// would have joined as it was.
func TestApplyReprRefusesGarbage(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	good := st.NewBatch()
	good.PutRaftApplied(1, []byte("x"))
	repr := good.Repr()
	good.Discard()
	b := st.NewBatch()
	defer b.Discard()
	if err := ApplyRepr(0, 1, repr, b); err != nil || b.Len() != 1 {
		t.Fatalf("a good repr: %v, %d ops", err, b.Len())
	}
	bad := append([]byte(nil), repr...)
	bad[13] = 0x7f // after the 12-byte header and the kind: a key length past the end
	for _, cmd := range [][]byte{[]byte("nope"), bad} {
		if err := ApplyRepr(0, 1, cmd, b); err == nil {
			t.Fatalf("repr %x was applied", cmd)
		}
		if b.Len() != 1 {
			t.Fatalf("a refused repr changed the batch: %d ops", b.Len())
		}
	}
}
