package store

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/uuid"
)

// Run with a short benchtime; the machine is shared:
//
//	go test -run '^$' -bench . -benchtime 2s ./engine/store/
//	go test -run '^$' -bench AllChecks -benchtime 1x ./engine/store/

// BenchmarkCommitParallel: each op is one batch (PutCheck + AppendPing, as a
// check's actor writes on every ping) committed with Commit, from 1 or 64
// goroutines. syncs/op < 1 is group commit at work.
func BenchmarkCommitParallel(b *testing.B) {
	for _, goroutines := range []int{1, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			fs := &countingFS{FS: vfs.Default}
			s := openT(b, Options{FS: fs})
			pid := uuid.New()
			var seq atomic.Int64
			worker := func(next func() bool) {
				c := testCheck(pid, int(seq.Add(1)))
				for next() {
					c.NPings++
					bt := s.NewBatch()
					bt.PutCheck(nil, c)
					bt.AppendPing(c, &Ping{N: c.NPings, Kind: "success", Time: time.Now(),
						Method: "POST", Scheme: "https", RemoteAddr: "192.0.2.1", UA: "curl/8.5.0"})
					if err := s.Commit(bt); err != nil {
						b.Error(err)
						return
					}
				}
			}
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((goroutines + procs - 1) / procs)
			b.ReportAllocs()
			syncs0, st0 := fs.syncs.Load(), s.Stats()
			start := time.Now()
			if goroutines == 1 {
				i := 0
				worker(func() bool { i++; return i <= b.N })
			} else {
				b.RunParallel(func(pb *testing.PB) { worker(pb.Next) })
			}
			elapsed := time.Since(start)
			st := s.Stats()
			commits := float64(st.Commits - st0.Commits)
			b.ReportMetric(commits/elapsed.Seconds(), "commits/s")
			b.ReportMetric(float64(fs.syncs.Load()-syncs0)/commits, "fsyncs/op")
			b.ReportMetric(float64(st.Syncs-st0.Syncs)/commits, "syncs/op")
		})
	}
}

// BenchmarkAllChecks: the restart scan over 1M checks (VIGILO_BENCH_CHECKS
// overrides the count). The database is built once, written with large
// unsynced batches, then closed and reopened so the scan reads sstables.
func BenchmarkAllChecks(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("VIGILO_BENCH_CHECKS")); err == nil && v > 0 {
		n = v
	}
	dir := b.TempDir()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const perProject, perBatch = 1000, 10_000
	var pid uuid.UUID
	bt := s.NewBatch()
	for i := range n {
		if i%perProject == 0 {
			p := testProject(i / perProject)
			pid = p.ID
			bt.PutProject(p)
		}
		bt.PutCheck(nil, testCheck(pid, i))
		if (i+1)%perBatch == 0 || i == n-1 {
			if err := s.db.Apply(bt.pb, pebble.NoSync); err != nil {
				b.Fatal(err)
			}
			bt.reset()
		}
	}
	bt.Discard()
	built := time.Since(start)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	s, err = Open(Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Logf("%d checks: built in %v, reopened in %v", n, built.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	b.Run(fmt.Sprintf("checks=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		var total time.Duration
		for range b.N {
			got := 0
			start := time.Now()
			if err := s.AllChecks(func(*Check) error { got++; return nil }); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
			if got != n {
				b.Fatalf("%d checks, want %d", got, n)
			}
		}
		b.ReportMetric(total.Seconds()/float64(b.N)*1e6/float64(n), "s/1M")
	})
}

func benchCheck() *Check {
	c := testCheck(uuid.New(), 42)
	c.Kind, c.Schedule, c.TZ = "cron", "0 3 * * *", "Europe/Riga"
	c.LastStart, c.LastStartRID = t0.Add(-time.Minute), "8f9c0f3c-rid"
	return c
}

func BenchmarkEncodeCheck(b *testing.B) {
	c := benchCheck()
	var buf bytes.Buffer
	var w checkWire
	b.ReportAllocs()
	for b.Loop() {
		if err := encodeCheck(&buf, &w, c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes")
}

func BenchmarkDecodeCheck(b *testing.B) {
	data, err := EncodeCheck(benchCheck())
	if err != nil {
		b.Fatal(err)
	}
	var w checkWire
	b.ReportAllocs()
	for b.Loop() {
		var c Check
		if err := decodeCheck(data, &w, &c); err != nil {
			b.Fatal(err)
		}
	}
}
