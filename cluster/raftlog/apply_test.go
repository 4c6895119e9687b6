package raftlog

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/vigilo/vigilo/engine/store"
)

// Entries apply in sequence; one out of sequence (a deposed leader's late
// entry, a gap) or that does not decode is a no-op, and its proposer, if
// it is this node, learns so; a new leader's first entry releases its
// numbering at the shard's position.
func TestApplyNormal(t *testing.T) {
	type step struct {
		name    string
		term    uint64 // entry term
		data    []byte
		ours    bool // proposed by this node, as leader in term 5, with the entry's seq
		applied bool // the command reaches the state machine
		wantErr error
	}
	const leading = 5
	steps := []step{
		{name: "first entry of the term", term: leading, data: nil},
		{name: "next in sequence", term: leading, data: encodeEntry(leading, 4, [][]byte{[]byte("a")}), ours: true, applied: true},
		{name: "a deposed leader's late entry repeats 4", term: leading, data: encodeEntry(3, 4, [][]byte{[]byte("b")}), wantErr: ErrSkipped},
		{name: "a gap", term: leading, data: encodeEntry(leading, 6, [][]byte{[]byte("c")}), ours: true, wantErr: ErrSkipped},
		{name: "garbage", term: leading, data: []byte{1, 2, 3}, wantErr: errBadEntry},
		{name: "the gap's successor is still 5", term: leading, data: encodeEntry(leading, 5, [][]byte{[]byte("d")}), ours: true, applied: true},
	}
	var got []string
	n := &Node{o: Options{Apply: func(_ uint32, _ uint64, cmd []byte, _ *store.Batch) error {
		got = append(got, string(cmd))
		return nil
	}}}
	var err error
	if n.m, err = newMetrics(prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	s := &shard{lastSeq: 3, leading: leading, inflight: map[uint64][]proposal{}}
	for i, st := range steps {
		var outcome error = errors.New("not called")
		if st.ours {
			_, seq, _, _ := decodeEntry(st.data)
			s.inflight[seq] = []proposal{{done: func(_ uint64, err error) { outcome = err }}}
		}
		before := len(got)
		idx := uint64(10 + i)
		n.applyNormal(s, &pb.Entry{Term: new(st.term), Index: new(idx), Data: st.data}, nil)
		for _, c := range s.completed {
			c.p.done(c.index, c.err)
		}
		s.completed = nil
		if applied := len(got) > before; applied != st.applied {
			t.Fatalf("%s: applied %v, want %v", st.name, applied, st.applied)
		}
		if st.ours && !errors.Is(outcome, st.wantErr) && !(st.wantErr == nil && outcome == nil) {
			t.Fatalf("%s: proposer told %v, want %v", st.name, outcome, st.wantErr)
		}
		if i == 0 && (!s.ready || s.nextSeq != 4) {
			t.Fatalf("after the term's first entry: ready %v, next %d; want true, 4", s.ready, s.nextSeq)
		}
	}
	if s.lastSeq != 5 || len(got) != 2 || got[0] != "a" || got[1] != "d" {
		t.Fatalf("position %d, applied %q; want 5 and [a d]", s.lastSeq, got)
	}
}
