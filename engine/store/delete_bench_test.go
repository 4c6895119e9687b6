package store

import (
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
)

// BenchmarkDeleteCheck is concurrent deletes of checks with a few pings each, in a
// project of 20,000, as the management APIs delete them.
func BenchmarkDeleteCheck(b *testing.B) {
	s := openT(b, Options{})
	pid := uuid.New()
	const n = 20000
	checks := make([]*Check, 0, n+b.N)
	for base := 0; base < n+b.N; base += 1000 {
		commitT(b, s, func(bt *Batch) {
			for i := base; i < min(base+1000, n+b.N); i++ {
				c := testCheck(pid, i)
				bt.PutCheck(nil, c)
				if i%2 == 0 {
					bt.AppendPing(c, &Ping{N: 1, Kind: "success"})
				}
				checks = append(checks, c)
			}
		})
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := checks[next.Add(1)-1]
			if err := s.DeleteCheck(c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPruneEmpty is what opening an incident pays for retention when there
// is nothing to prune: one iterator seek.
func BenchmarkPruneEmpty(b *testing.B) {
	s := openT(b, Options{})
	id := uuid.New()
	b.ReportAllocs()
	for b.Loop() {
		bt := s.NewBatch()
		bt.delIDKeys(pfxIncident, id)
		bt.Discard()
	}
}
