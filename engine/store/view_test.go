package store

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// checksOf is every check stored, by id, as a store answers for them.
func checkNames(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.AllChecks(func(c *Check) error {
		out[c.ID.String()] = c.Name
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStateStreamReplacesState(t *testing.T) {
	src, dst := openT(t, Options{}), openT(t, Options{})
	p := testProject(1)
	var ids []string
	commitT(t, src, func(b *Batch) {
		b.PutProject(p)
		for i := range 50 {
			c := testCheck(p.ID, i)
			ids = append(ids, c.ID.String())
			b.PutCheck(nil, c)
		}
		b.PutRaftApplied(0, []byte("src applied"))
	})
	v, err := src.View()
	if err != nil {
		t.Fatal(err)
	}
	// Written after the view: not in the stream.
	commitT(t, src, func(b *Batch) { b.PutCheck(nil, testCheck(p.ID, 99)) })
	var stream bytes.Buffer
	if err := v.WriteState(&stream, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	// dst has state of its own, which the stream replaces, and raft keys,
	// which it keeps.
	q := testProject(2)
	commitT(t, dst, func(b *Batch) {
		b.PutProject(q)
		b.PutCheck(nil, testCheck(q.ID, 7))
		b.PutRaftApplied(0, []byte("dst applied"))
		b.PutRaftEntry(0, 5, []byte("entry"))
	})
	b := dst.NewBatch()
	if err := b.ReadState(bytes.NewReader(stream.Bytes()), nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := dst.CommitLocal(b); err != nil {
		t.Fatal(err)
	}
	got := checkNames(t, dst)
	if len(got) != len(ids) {
		t.Fatalf("%d checks after the install, want %d: %v", len(got), len(ids), got)
	}
	for _, id := range ids {
		if _, ok := got[id]; !ok {
			t.Fatalf("check %s missing", id)
		}
	}
	if _, err := dst.GetProject(q.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dst's own project survived the install: %v", err)
	}
	if a, _ := dst.RaftApplied(0); string(a) != "dst applied" {
		t.Fatalf("raft applied = %q: the install must keep the node's own raft keys", a)
	}
	n := 0
	if err := dst.RaftEntries(0, 0, 100, func(uint64, []byte) bool { n++; return true }); err != nil || n != 1 {
		t.Fatalf("raft entries = %d, %v: want the node's own one", n, err)
	}
}

func TestStateStreamRefusesDamage(t *testing.T) {
	src := openT(t, Options{})
	p := testProject(1)
	commitT(t, src, func(b *Batch) {
		b.PutProject(p)
		for i := range 20 {
			b.PutCheck(nil, testCheck(p.ID, i))
		}
	})
	v, err := src.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var stream bytes.Buffer
	if err := v.WriteState(&stream, nil, nil); err != nil {
		t.Fatal(err)
	}
	full := stream.Bytes()
	flipped := bytes.Clone(full)
	flipped[len(flipped)/2] ^= 0x40
	for name, in := range map[string][]byte{
		"cut short":     full[:len(full)-20],
		"no checksum":   full[:len(full)-4],
		"a bit flipped": flipped,
		"empty":         nil,
	} {
		dst := openT(t, Options{})
		b := dst.NewBatch()
		err := b.ReadState(bytes.NewReader(in), nil, nil)
		b.Discard()
		if !errors.Is(err, ErrBadState) {
			t.Errorf("%s: err = %v, want ErrBadState", name, err)
		}
	}
	// A span: keys outside it are refused, and only the span is replaced.
	dst := openT(t, Options{})
	b := dst.NewBatch()
	err = b.ReadState(bytes.NewReader(full), []byte{pfxCheck}, []byte{pfxCheck + 1})
	b.Discard()
	if !errors.Is(err, ErrBadState) {
		t.Errorf("whole state into the check span: err = %v, want ErrBadState", err)
	}
}

func TestStateSpansSkipRaftKeys(t *testing.T) {
	for _, tc := range []struct {
		lo, hi []byte
		want   string
	}{
		{nil, nil, "[,A) [B,H) [I,r) [s,∞)"},
		{[]byte("c"), []byte("d"), "[c,d)"},
		{[]byte("B"), []byte("s"), "[B,H) [I,r)"},
		{[]byte("r"), []byte("s"), ""},
	} {
		var got []string
		for _, sp := range stateSpans(tc.lo, tc.hi) {
			hi := string(sp[1])
			if sp[1] == nil {
				hi = "∞"
			}
			got = append(got, "["+string(sp[0])+","+hi+")")
		}
		if s := joinSpaces(got); s != tc.want {
			t.Errorf("stateSpans(%q, %q) = %q, want %q", tc.lo, tc.hi, s, tc.want)
		}
	}
}

func joinSpaces(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}

// On a replicated store, samples are proposed like commits (a failover
// would otherwise lose them), ahead of any commit made after them, and
// FlushSamples returns once the replication has answered.
func TestReplicatedSamples(t *testing.T) {
	var mu sync.Mutex
	var proposals [][]byte
	var s *Store
	// Applied as a replica would, later and in order, as raft does.
	type proposal struct {
		repr []byte
		done func(error)
	}
	queue := make(chan proposal, 64)
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for p := range queue {
			b := s.NewBatch()
			if err := b.AppendRepr(p.repr); err != nil {
				b.Discard()
				p.done(err)
				continue
			}
			p.done(s.CommitLocal(b))
		}
	}()
	s = openT(t, Options{Replicate: func(repr []byte, done func(error)) {
		mu.Lock()
		proposals = append(proposals, repr)
		mu.Unlock()
		queue <- proposal{repr, done}
	}})
	t.Cleanup(func() { close(queue); <-applied })
	id := uuid.New()
	for i := uint64(1); i <= 3; i++ {
		b := s.NewBatch()
		b.AddResponseTime(id, &ResponseTime{N: i, At: t0.Add(time.Duration(i) * time.Second)})
		if err := s.ApplySample(b); err != nil {
			t.Fatal(err)
		}
	}
	b := s.NewBatch()
	b.PutIncident(id, &Incident{Start: t0})
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := len(proposals)
	mu.Unlock()
	if got != 2 {
		t.Fatalf("%d proposals, want the samples' group and then the commit", got)
	}
	// The first proposal holds the three samples, the second the incident.
	for i, want := range []uint32{3, 1} {
		pb := s.db.NewBatch()
		if err := pb.SetRepr(proposals[i]); err != nil {
			t.Fatal(err)
		}
		if pb.Count() != want {
			t.Fatalf("proposal %d holds %d writes, want %d", i, pb.Count(), want)
		}
		pb.Close()
	}
	b = s.NewBatch()
	b.AddResponseTime(id, &ResponseTime{N: 4, At: t0.Add(4 * time.Second)})
	if err := s.ApplySample(b); err != nil {
		t.Fatal(err)
	}
	if err := s.FlushSamples(); err != nil {
		t.Fatal(err)
	}
	rts, err := s.ResponseTimes(id, 0)
	if err != nil || len(rts) != 4 {
		t.Fatalf("%d response times after FlushSamples, %v; want 4", len(rts), err)
	}
}
