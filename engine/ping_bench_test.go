package engine

import (
	"math/rand/v2"
	"syscall"
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
// awake; cold: checks are swept so often that many pings find theirs
// passivated (wakes/op says how many).
func BenchmarkPing(b *testing.B) {
	for _, tc := range []struct {
		name   string
		idle   time.Duration
		checks int
		limit  int // the ping log limit; 0: the default
	}{
		{"hot", time.Hour, 4096, 0},
		// A check passivates only after a whole sweep without a message, so
		// cold needs many checks and frequent sweeps for most pings to find
		// theirs passivated.
		{"cold", time.Millisecond, 1 << 16, 0},
		// Every ping past the first trims the log, as every ping of a check
		// past its 100 pings does on a node that has run a while.
		{"trimming", time.Hour, 4096, 1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			clock := &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
			e := openTestWith(b, b.TempDir(), clock, tc.idle, func(o *Options) { o.PingLogLimit = tc.limit })
			defer e.Close()
			checks := tc.checks
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
			wakes, spawns := e.reg.Wakes(), e.reg.Spawns()
			ops, cpu := e.store.Stats().BatchedOps, cpuTime(b)
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
					if tc.idle < time.Hour && n%4 == 3 {
						// Passivation is the wheel driver's sweep, which the
						// manual clock runs on each Advance.
						e.reg.Passivate(clock.Now().Add(time.Hour))
					}
				}
			})
			// hot wakes only on first touches; cold wakes for a large share
			// of its pings, with the sweeps' own cost (once every 4 pings per
			// goroutine, where a node sweeps once a tick) and the spawns of
			// actors the vacant pool had no room to keep.
			// Process CPU, not wall time: the machine is shared, and a ping
			// waits for fsyncs it does not spend CPU on. store-ops are the
			// Pebble operations (memtable inserts) a ping writes.
			b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(e.store.Stats().BatchedOps-ops)/float64(b.N), "store-ops/op")
			b.ReportMetric(float64(e.reg.Wakes()-wakes)/float64(b.N), "wakes/op")
			b.ReportMetric(float64(e.reg.Spawns()-spawns)/float64(b.N), "spawns/op")
		})
	}
}

// cpuTime is the process's user and system CPU so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
