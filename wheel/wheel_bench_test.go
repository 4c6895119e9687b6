package wheel

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// benchOwner stands in for the engine's per-check struct.
type benchOwner struct {
	Timer
	id uint64
}

var sizes = []struct {
	name string
	n    int
}{{"1M", 1_000_000}, {"5M", 5_000_000}}

// rng is a xorshift64* generator: a few ns, no allocation, no shared state.
type rng uint64

func (r *rng) next() uint64 {
	x := uint64(*r)
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	*r = rng(x)
	return x * 2685821657736338717
}

// below returns a uniform value in [0, n).
func (r *rng) below(n uint64) uint64 { hi, _ := bits.Mul64(r.next(), n); return hi }

// resident returns a wheel with n timers armed uniformly over the hour after origin.
func resident(b *testing.B, n, shards int) (*Wheel, []benchOwner) {
	b.Helper()
	w, err := New(Options{Start: origin, Shards: shards})
	if err != nil {
		b.Fatal(err)
	}
	owners := make([]benchOwner, n)
	r := rng(88172645463325252)
	for i := range owners {
		o := &owners[i]
		o.id = uint64(i)
		o.Owner = o
		w.Schedule(&o.Timer, origin.Add(time.Duration(r.below(uint64(time.Hour)))))
	}
	return w, owners
}

// BenchmarkReschedule re-arms random resident timers, the engine's hot path (one
// per ping). "random" moves each to a random time in the next hour, so half the
// moves are earlier and relink the timer; "later" pushes each deadline out, as a
// ping does. With 1M+ timers, "random" takes two dependent cache misses (the
// timer, then its old list neighbours) and "later" one; "random-hot4k" shows the
// cost with the timers in cache.
func BenchmarkReschedule(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			w, owners := resident(b, sz.n, 0)
			n := uint64(len(owners))
			b.Run("random", func(b *testing.B) {
				b.ReportAllocs()
				r := rng(2463534242)
				for b.Loop() {
					o := &owners[r.below(n)]
					w.Schedule(&o.Timer, origin.Add(time.Duration(r.below(uint64(time.Hour)))))
				}
			})
			b.Run("later", func(b *testing.B) {
				b.ReportAllocs()
				r := rng(362436069)
				at := origin.Add(2 * time.Hour) // after every deadline of "random"
				for b.Loop() {
					o := &owners[r.below(n)]
					at = at.Add(time.Microsecond)
					w.Schedule(&o.Timer, at)
				}
			})
			// The same random moves among 4096 of the resident timers: their
			// cache lines stay warm, as the engine's check struct is when a ping
			// re-arms it, so this is the wheel's own cost without DRAM misses.
			b.Run("random-hot4k", func(b *testing.B) {
				b.ReportAllocs()
				r := rng(521288629)
				hot := make([]*Timer, 4096)
				for i := range hot {
					hot[i] = &owners[r.below(n)].Timer
				}
				for b.Loop() {
					w.Schedule(hot[r.below(uint64(len(hot)))], origin.Add(time.Duration(r.below(uint64(time.Hour)))))
				}
			})
			runtime.KeepAlive(owners)
		})
	}
}

// BenchmarkRescheduleParallel re-arms random timers from all Ps at once, on one
// shard versus the default, to show lock contention: over all 1M timers (DRAM
// misses dominate) and over 4096 of them (cache-warm, so the lock does).
func BenchmarkRescheduleParallel(b *testing.B) {
	for _, shards := range []int{1, 0} {
		name := "shards=1"
		if shards == 0 {
			name = fmt.Sprintf("shards=default(%d)", Options{}.WithDefaults().Shards)
		}
		b.Run(name, func(b *testing.B) {
			w, owners := resident(b, 1_000_000, shards)
			for _, set := range []struct {
				name string
				n    int
			}{{"all1M", len(owners)}, {"hot4k", 4096}} {
				b.Run(set.name, func(b *testing.B) {
					n := uint64(set.n)
					var seed atomic.Uint64
					b.ReportAllocs()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						r := rng(seed.Add(0x9e3779b97f4a7c15))
						for pb.Next() {
							o := &owners[r.below(n)]
							w.Schedule(&o.Timer, origin.Add(time.Duration(r.below(uint64(time.Hour)))))
						}
					})
				})
			}
		})
	}
}

// BenchmarkSchedule arms idle timers into a wheel holding 1M, walking the pool in
// order: a check being created has its struct in cache, as here.
func BenchmarkSchedule(b *testing.B) {
	w, _ := resident(b, 1_000_000, 0)
	pool := make([]benchOwner, 1<<20)
	r := rng(521288629)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i & (len(pool) - 1)
		if j == 0 && i > 0 {
			b.StopTimer()
			for k := range pool {
				w.Cancel(&pool[k].Timer)
			}
			b.StartTimer()
		}
		w.Schedule(&pool[j].Timer, origin.Add(time.Duration(r.below(uint64(time.Hour)))))
	}
}

// BenchmarkCancel cancels armed timers out of a wheel holding 1M, in random order
// (so the timer and its list neighbours are cold, as for a deleted check).
func BenchmarkCancel(b *testing.B) {
	w, owners := resident(b, 1_000_000, 0)
	r := rng(88675123)
	perm := make([]int32, len(owners))
	for i := range perm {
		perm[i] = int32(i)
	}
	for i := len(perm) - 1; i > 0; i-- {
		j := r.below(uint64(i + 1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i % len(owners)
		if j == 0 && i > 0 {
			b.StopTimer()
			for _, k := range perm {
				w.Schedule(&owners[k].Timer, origin.Add(time.Duration(r.below(uint64(time.Hour)))))
			}
			b.StartTimer()
		}
		w.Cancel(&owners[perm[j]].Timer)
	}
}

// BenchmarkAdvance drives a wheel of 1M timers spread over an hour.
//
// "tick-by-tick" advances one 100ms tick per op; fire re-arms each timer an hour
// later, keeping 1M resident, as the engine does. ns/fire is the whole Advance
// time (cascades, slot scans, fire and re-arm) divided by the timers fired.
//
// "jump-1h" fires all 1M in one Advance an hour ahead (the process was suspended).
func BenchmarkAdvance(b *testing.B) {
	b.Run("tick-by-tick", func(b *testing.B) {
		w, _ := resident(b, 1_000_000, 0)
		tick := w.Options().Tick
		now := origin
		fires := 0
		fire := func(t *Timer, due time.Time) {
			fires++
			w.Schedule(t, due.Add(time.Hour))
		}
		b.ReportAllocs()
		for b.Loop() {
			now = now.Add(tick)
			w.Advance(now, fire)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(fires, 1)), "ns/fire")
		b.ReportMetric(float64(fires)/float64(b.N), "fires/op")
	})
	b.Run("jump-1h", func(b *testing.B) {
		w, owners := resident(b, 1_000_000, 0)
		r := rng(5783321)
		now := origin
		fires := 0
		fire := func(*Timer, time.Time) { fires++ }
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i > 0 {
				b.StopTimer()
				for k := range owners {
					w.Schedule(&owners[k].Timer, now.Add(time.Duration(r.below(uint64(time.Hour)))))
				}
				b.StartTimer()
			}
			now = now.Add(time.Hour)
			w.Advance(now, fire)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(fires, 1)), "ns/fire")
	})
}

// BenchmarkMemoryPerTimer measures the heap per armed timer: n owner structs
// (benchOwner: an embedded Timer and an 8-byte id, in one slice) plus the wheel,
// after arming them all. The wheel adds nothing per timer beyond the embedded
// Timer, so B/timer minus the owner's size is the wheel's fixed cost spread thin.
func BenchmarkMemoryPerTimer(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			var perTimer float64
			for b.Loop() {
				var m0, m1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m0)
				w, owners := resident(b, sz.n, 0)
				runtime.GC()
				runtime.ReadMemStats(&m1)
				perTimer = float64(m1.HeapAlloc-m0.HeapAlloc) / float64(sz.n)
				if w.Len() != sz.n {
					b.Fatalf("Len = %d", w.Len())
				}
				runtime.KeepAlive(owners)
			}
			b.ReportMetric(perTimer, "B/timer")
			b.ReportMetric(float64(unsafe.Sizeof(Timer{})), "B/Timer-struct")
			b.ReportMetric(float64(unsafe.Sizeof(benchOwner{})), "B/owner-struct")
		})
	}
}
