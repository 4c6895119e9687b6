package raftlog

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigilo/vigilo/engine/store"
)

// BenchmarkPropose is replicated commands through three nodes in this
// process (real stores, real raft ticks at the default 100 ms), each a
// ping's store batch proposed to its shard's leader by one of 256 concurrent
// proposers and waited for, as a cluster's ingest would. It reports the
// leader changes seen while it ran: with no faults there should be none,
// unless the loops are starved past an election timeout.
func BenchmarkPropose(b *testing.B) {
	net := newMemNet()
	peers := []uint64{1, 2, 3}
	nodes := map[uint64]*Node{}
	stores := map[uint64]*store.Store{}
	root := b.TempDir()
	for _, id := range peers {
		st, err := store.Open(store.Options{Dir: filepath.Join(root, fmt.Sprint(id))})
		if err != nil {
			b.Fatal(err)
		}
		n, err := Open(Options{ID: id, Peers: peers, Store: st, Transport: memLink{net, id}, CompactEvery: -1})
		if err != nil {
			b.Fatal(err)
		}
		net.mu.Lock()
		net.nodes[id] = n
		net.mu.Unlock()
		nodes[id], stores[id] = n, st
	}
	defer func() {
		for _, id := range peers {
			nodes[id].Close()
			stores[id].Close()
		}
	}()
	shards := nodes[1].Shards()
	deadline := time.Now().Add(30 * time.Second)
	for s := 0; s < shards; {
		if l := nodes[1].Leader(uint32(s)); l != 0 && nodes[l].Leader(uint32(s)) == l {
			s++
			continue
		}
		if time.Now().After(deadline) {
			b.Fatalf("shard %d has no leader after 30 s", s)
		}
		time.Sleep(10 * time.Millisecond) // real raft ticks elect; nothing to drive
	}
	changes := func() (n float64) {
		for _, id := range peers {
			n += testutil.ToFloat64(nodes[id].Metrics().LeaderChanges)
		}
		return n
	}
	changes0 := changes()
	cpu := cpuTime(b)
	b.ReportAllocs()
	b.SetParallelism(128) // 256 proposers on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 1))
		check := uuid.New()
		done := make(chan error, 1)
		for n := uint64(1); pb.Next(); n++ {
			s := uint32(r.IntN(shards))
			lead := nodes[1].Leader(s)
			if lead == 0 {
				lead = 1
			}
			sb := stores[lead].NewBatch()
			sb.AppendPing(&store.Check{ID: check}, &store.Ping{N: n, Kind: "success", Time: time.Unix(int64(n), 0), ExitStatus: -1})
			cmd := sb.Repr()
			sb.Discard()
			nodes[lead].Propose(s, cmd, func(_ uint64, err error) { done <- err })
			if err := <-done; err != nil && err != ErrNotLeader {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// CPU per command over the three nodes: steadier than ns/op on a shared
	// machine, and what a cluster on one machine runs out of.
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(changes()-changes0, "leader-changes")
	var commits float64
	for _, id := range peers {
		commits += testutil.ToFloat64(nodes[id].Metrics().Commits)
	}
	b.ReportMetric(float64(b.N)/(commits/float64(len(peers))), "cmds/sync") // per node
}

// cpuTime is the process's user and system CPU so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
