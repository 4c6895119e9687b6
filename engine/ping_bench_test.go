package engine

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vigilo/vigilo/actors/heartbeat"
	"github.com/vigilo/vigilo/engine/store"
)

// BenchmarkPing is a durable ping through the engine, without HTTP: the
// registry, the check's actor, the state machine, the store batch and the
// group commit. Its allocations are what a ping adds to the GC's work, and at
// 1M checks one GC cycle marks about 760 MB. hot: the checks' actors stay
// awake; cold: each is passivated between its pings (every wake reuses a
// vacant actor).
func BenchmarkPing(b *testing.B) {
	for _, tc := range []struct {
		name string
		idle time.Duration
	}{{"hot", time.Hour}, {"cold", time.Millisecond}} {
		b.Run(tc.name, func(b *testing.B) {
			clock := &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
			e := openTest(b, b.TempDir(), clock, tc.idle)
			defer e.Close()
			const checks = 4096
			ids := make([]uuid.UUID, checks)
			for i := range ids {
				c, _, err := e.CreateCheck(DefaultProjectID, store.Match{}, func(*store.Check) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = c.ID
			}
			b.ReportAllocs()
			b.SetParallelism(32) // concurrent pings share group commits, as over HTTP
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 1))
				for n := 0; pb.Next(); n++ {
					id := ids[r.IntN(checks)]
					if err := e.Ping(id, heartbeat.Event{Kind: heartbeat.Success},
						store.Ping{ExitStatus: -1, Scheme: "http", Method: "GET", RemoteAddr: "127.0.0.1", UA: "curl/8.5.0"}); err != nil {
						b.Error(err)
						return
					}
					if tc.idle < time.Hour && n%16 == 15 {
						// Passivation is the wheel driver's sweep, which the
						// manual clock runs on each Advance.
						e.reg.Passivate(clock.Now().Add(time.Hour))
					}
				}
			})
		})
	}
}
